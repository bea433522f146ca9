import JobKernelCore
import JobKernelIO

/// The kernel's operations state (SPEC §13): removals under way in the background (`clean`
/// requests and `[storage] keep_finished`), and recent finishes per type for `stats`.
struct Operations {
    /// A removal of finished jobs, done a batch per loop turn so that other clients are served
    /// in between.
    struct Removal {
        var statuses: [JobStatus]?
        var types: [String]?
        /// Jobs that finished before this; fixed when the removal begins, so it ends.
        var finishedBefore: Millis
        var removed = 0
        /// Answers the `clean` request; nil for retention.
        var reply: ((JSON) -> Void)?
        var connectionID: UInt64?
    }

    /// Removals waiting or under way, oldest first.
    var removals: [Removal] = []
    /// The timer that runs the next batch (of removal or vacuum).
    var batchTimer: LoopTimer?
    var batchArmed = false
    /// When retention last looked for old jobs.
    var lastRetention: Millis = 0
    /// Jobs removed per batch: small enough that a batch costs other clients little latency.
    static let batchJobs = 200
    /// Pages returned to the file system per batch.
    static let vacuumPages = 512

    /// Open jobs by type and status (scheduled, pending, running), counted at start-up and kept
    /// up to date with every status change, so that `stats` reads no job.
    var openByType: [String: [JobStatus: Int]] = [:]

    mutating func countStatus(type: String, from: JobStatus?, to: JobStatus) {
        if let from, !from.isTerminal { openByType[type, default: [:]][from, default: 0] -= 1 }
        if !to.isTerminal { openByType[type, default: [:]][to, default: 0] += 1 }
    }

    /// Finished jobs of the last minute by type: (time, success?) in time order.
    var recentFinishes: [String: [(at: Millis, success: Bool)]] = [:]

    mutating func recordFinish(type: String, status: JobStatus, at t: Millis) {
        guard status == .success || status == .failed else { return }
        var list = recentFinishes[type, default: []]
        list.append((t, status == .success))
        if let first = list.first, first.at < t - 60_000 {
            list.removeAll { $0.at < t - 60_000 }
        }
        recentFinishes[type] = list
    }

    func finishes(type: String, since t: Millis) -> (success: Int, failed: Int) {
        var s = 0, f = 0
        for e in recentFinishes[type] ?? [] where e.at >= t {
            if e.success { s += 1 } else { f += 1 }
        }
        return (s, f)
    }
}

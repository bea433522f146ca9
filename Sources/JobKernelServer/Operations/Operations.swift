import JobKernelCore
import JobKernelIO

/// The kernel's operations state (docs/promises.md §13): removals under way in the background (`clean`
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

    /// Concurrency overrides set by `parallel`, by type (stored as the settings
    /// `concurrency.<type>`, which are not workflow toggles and so not among `Kernel.settings`).
    var concurrency: [String: Int] = [:]
    /// Whether any job was ever restarted (`restart`): `get` reads no link otherwise.
    var restartsExist = true

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
    var openByType: [String: StatusCounts] = [:]

    mutating func countStatus(type: String, from: JobStatus?, to: JobStatus) {
        let leaving = from.flatMap { $0.isTerminal ? nil : $0 }
        let entering = to.isTerminal ? nil : to
        guard leaving != nil || entering != nil else { return }
        openByType[type, default: StatusCounts()].move(from: leaving, to: entering)
    }

    /// Adds open jobs of `type` counted by status (start-up counts them a type at a time).
    mutating func addOpen(type: String, _ counts: StatusCounts) {
        openByType[type, default: StatusCounts()].add(counts)
    }

    /// Jobs that ended `success` / `failed` per type, in one bucket per second of the last
    /// minute (O(1) per finish, whatever the rate).
    struct MinuteCounter {
        var second = [Int64](repeating: -1, count: 60)
        var success = [Int](repeating: 0, count: 60)
        var failed = [Int](repeating: 0, count: 60)

        mutating func add(success ok: Bool, atSecond s: Int64) {
            let i = Int(s % 60)
            if second[i] != s {
                second[i] = s
                success[i] = 0
                failed[i] = 0
            }
            if ok { success[i] += 1 } else { failed[i] += 1 }
        }

        /// Totals over the 60 seconds up to `s`.
        func totals(atSecond s: Int64) -> (success: Int, failed: Int) {
            var ok = 0, bad = 0
            for i in 0..<60 where second[i] > s - 60 && second[i] <= s {
                ok += success[i]
                bad += failed[i]
            }
            return (ok, bad)
        }
    }

    var recentFinishes: [String: MinuteCounter] = [:]

    mutating func recordFinish(type: String, status: JobStatus, at t: Millis) {
        guard status == .success || status == .failed else { return }
        recentFinishes[type, default: MinuteCounter()].add(success: status == .success, atSecond: t / 1000)
    }

    func finishes(type: String, at t: Millis) -> (success: Int, failed: Int) {
        recentFinishes[type]?.totals(atSecond: t / 1000) ?? (0, 0)
    }

    /// When each type's oldest pending job was created, as last read from the store, and when it
    /// was read. Finding it reads the store (after the writes in flight) and scans pending jobs,
    /// so `stats` reads it at most once a second: a monitor that polls `stats` costs the kernel
    /// next to nothing.
    var oldestPending: (readAt: Millis, created: [String: Millis])?
    static let oldestPendingMaxAgeMs: Millis = 1000

    /// Paused types, from the `paused.*` settings (kept here so that dispatch builds no
    /// settings key per unit): everything, or these types.
    var pausedAll = false
    var pausedTypes: Set<String> = []

    /// False while no job has ever waited for another (`after`): then a finishing job looks up
    /// no dependents.
    var dependenciesExist = true
}

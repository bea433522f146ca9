import HeapModule
import JobKernelCore

/// A unit ready to run, as it waits in a queue.
struct QueuedUnit: Comparable {
    var priority: Int
    var jobID: Int64
    var index: Int

    /// Higher priority first, then older jobs, then lower item indices (SPEC §8.1).
    /// `Heap` pops its maximum, so "first" compares greatest.
    static func < (a: QueuedUnit, b: QueuedUnit) -> Bool {
        if a.priority != b.priority { return a.priority < b.priority }
        if a.jobID != b.jobID { return a.jobID > b.jobID }
        return a.index > b.index
    }
}

/// Ready units by job type. Entries are validated when popped (a cancelled job's units are
/// dropped lazily), so removal is never a scan.
struct UnitQueues {
    private var byType: [String: Heap<QueuedUnit>] = [:]

    mutating func push(type: String, _ unit: QueuedUnit) {
        byType[type, default: Heap()].insert(unit)
    }

    /// The best head among `types`, without removing it.
    func peek(types: [String]) -> (type: String, unit: QueuedUnit)? {
        var best: (String, QueuedUnit)?
        for t in types {
            guard let head = byType[t]?.max else { continue }
            if best == nil || best!.1 < head { best = (t, head) }
        }
        return best
    }

    mutating func popMax(type: String) -> QueuedUnit? {
        byType[type]?.popMax()
    }

    func count(type: String) -> Int { byType[type]?.count ?? 0 }
    var totalCount: Int { byType.values.reduce(0) { $0 + $1.count } }
}

/// Deadlines (retry backoffs, `run_at`, lease expiries) in time order.
struct Deadline: Comparable {
    enum Action: Hashable {
        case backoff(jobID: Int64, index: Int)
        case runAt(jobID: Int64)
        case lease(String)
        case fetchTimeout(UInt64)
        case schedule(Int)
        case runTimeout(UInt64)
        case runKill(UInt64)
        case workerRestart(UInt64)
        case staleCheck
        case natsRetry
        case progressWindowEnd(Int64)
        /// After a failed commit: requeue running units whose runner is gone.
        case orphanCheck
    }
    var at: Millis
    var seq: UInt64
    var action: Action

    static func < (a: Deadline, b: Deadline) -> Bool { a.at != b.at ? a.at < b.at : a.seq < b.seq }
    static func == (a: Deadline, b: Deadline) -> Bool { a.at == b.at && a.seq == b.seq }
}

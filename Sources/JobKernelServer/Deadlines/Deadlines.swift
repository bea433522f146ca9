import HeapModule
import JobKernelCore

/// Everything the kernel must do at a given time (retry backoffs, `run_at`, lease expiries,
/// timeouts, schedules), earliest first; among equal times, in the order they were added. The
/// kernel arms one timer for the earliest (`timerToArm`) and runs what is due
/// (`Kernel+Deadlines.swift`).
struct Deadlines {
    private var heap = Heap<Deadline>()
    private var seq: UInt64 = 0

    /// Adds an action due at `at`.
    mutating func add(at: Millis, _ action: Deadline.Action) {
        seq += 1
        heap.insert(Deadline(at: at, seq: seq, action: action))
    }

    /// When the earliest action is due.
    var earliest: Millis? { heap.min?.at }

    /// Takes the earliest action if it is due at `now`.
    mutating func popDue(_ now: Millis) -> Deadline? {
        guard let next = heap.min, next.at <= now else { return nil }
        return heap.popMin()
    }

    /// When the timer is armed for, if it is.
    private var armedAt: Millis?

    /// The time to arm the timer for, when it must be (re)armed: nothing is armed, or the
    /// earliest action is due before the time it is armed for. Nil: leave the timer as it is.
    mutating func timerToArm() -> Millis? {
        guard let next = earliest else { return nil }
        if let armedAt, armedAt <= next { return nil }
        armedAt = next
        return next
    }

    /// The timer fired: it is armed for nothing now.
    mutating func timerFired() { armedAt = nil }

    /// A commit failed: the times read from the store (backoffs, `run_at`, schedules) are armed
    /// again when the state is read back, and a pending orphan check is replaced by a new one;
    /// the other actions (leases, timeouts, restarts) belong to what is still running.
    mutating func undoStoredTimes() {
        removeAll {
            switch $0 {
            case .backoff, .runAt, .schedule, .orphanCheck: return true
            default: return false
            }
        }
    }

    /// Drops the actions `shouldDrop` picks.
    mutating func removeAll(where shouldDrop: (Deadline.Action) -> Bool) {
        heap = Heap(heap.unordered.filter { !shouldDrop($0.action) })
    }
}

/// Deadlines (retry backoffs, `run_at`, lease expiries) in time order.
struct Deadline: Comparable {
    enum Action: Hashable {
        case backoff(jobID: Int64, index: Int)
        case runAt(jobID: Int64)
        case lease(LeaseID)
        case fetchTimeout(UInt64)
        case schedule(Int)
        case runTimeout(UInt64)
        case runKill(UInt64)
        case workerRestart(UInt64)
        /// A worker told to drop a `run` whose start was undone has not answered: kill it.
        case discardKill(UInt64)
        case staleCheck
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

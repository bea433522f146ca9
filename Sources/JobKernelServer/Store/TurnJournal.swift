/// What one loop turn did that only its commit may make real (docs/promises.md §9, §10).
///
/// Answers and events wait in each connection's outbox; this holds the rest: the outside
/// effects that must not happen before the commit (a handler spawned, a signal sent), and the
/// in-memory things the turn created that a failed commit must take back.
struct TurnJournal {
    /// Effects to carry out once the turn has committed, in order.
    var afterCommit: [() -> Void] = []
    /// Local runs started this turn.
    var runs: [UInt64] = []
    /// Leases granted this turn.
    var leases: [LeaseID] = []
    /// Subscriptions made this turn.
    var subscriptions: [UInt64] = []

    /// Takes in what `other` holds, after what this one holds.
    mutating func absorb(_ other: TurnJournal) {
        afterCommit += other.afterCommit
        runs += other.runs
        leases += other.leases
        subscriptions += other.subscriptions
    }

    /// The turn committed (or was undone): start the next one empty.
    mutating func reset() {
        afterCommit.removeAll(keepingCapacity: true)
        runs.removeAll(keepingCapacity: true)
        leases.removeAll(keepingCapacity: true)
        subscriptions.removeAll(keepingCapacity: true)
    }
}

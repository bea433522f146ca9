import JobKernelCore
import JobKernelStore

/// The event log's live side (SPEC §7): the latest seq, who is subscribed, and which
/// subscriptions are still replaying the stored log (the log itself is in the store). The kernel
/// routes events and connections to it (`Kernel+Events.swift`).
struct EventLog {
    /// The latest seq given: committed, or in a batch not yet committed.
    var lastSeq: Int64 = 0
    var subscriptions: [UInt64: Subscription] = [:]
    /// Subscriptions still replaying the log from their `since`.
    var replaying: Set<UInt64> = []
    private var nextSubscriptionID: UInt64 = 1

    /// The seq of the next event.
    mutating func nextSeq() -> Int64 {
        lastSeq += 1
        return lastSeq
    }

    /// An id for a new subscription (never given twice by this kernel).
    mutating func newSubscriptionID() -> UInt64 {
        defer { nextSubscriptionID += 1 }
        return nextSubscriptionID
    }

    /// Forgets a subscription, replaying or not; returns it if it was there.
    @discardableResult
    mutating func remove(_ sid: UInt64) -> Subscription? {
        replaying.remove(sid)
        return subscriptions.removeValue(forKey: sid)
    }
}

/// A live subscription: its filters and the last seq it was sent.
struct Subscription {
    var id: UInt64
    var connectionID: UInt64
    var ids: Set<Int64>?
    var types: Set<String>?
    var kinds: Set<String>?
    var lastSeq: Int64
    /// Replaying the log from `since`: fed from the store, paced by the reader, until it
    /// reaches the live seq. Live events are not sent meanwhile (the replay reads them).
    var catchingUp = false

    func matches(_ e: StoredEvent) -> Bool {
        if let kinds, !kinds.contains(e.kind) { return false }
        if let ids {
            guard let jobID = e.jobID, ids.contains(jobID) else { return false }
        }
        if let types {
            guard let type = e.type, types.contains(type) else { return false }
        }
        return true
    }
}


import JobKernelCore
import JobKernelStore

/// The event log's live side (docs/promises.md §7): the latest seq, the subscriptions (the one
/// index of them, by id and by connection), which of them still replay the stored log, and the
/// ids each connection was given. The log itself is in the store; the kernel routes events,
/// requests and connections here (`Kernel+Events.swift`).
struct EventLog {
    /// The latest seq given: committed, or in a batch not yet committed.
    private(set) var lastSeq: Int64 = 0
    private(set) var subscriptions: [UInt64: Subscription] = [:]
    /// Subscriptions still replaying the log from their `since`.
    private(set) var replaying: Set<UInt64> = []
    /// Per connection: the live subscriptions, and every id it was given (live or dropped), which
    /// `unsubscribe` accepts.
    private var byConnection: [UInt64: (live: Set<UInt64>, issued: Set<UInt64>)] = [:]
    private var nextSubscriptionID: UInt64 = 1

    /// What becomes of one event for one subscription.
    enum Delivery: Equatable {
        /// Send it: it matches and the reader keeps up.
        case send
        /// The reader fell behind (its connection holds more than the limit): the subscription
        /// ends with a `subscription.dropped` telling the last seq it got.
        case drop(lastSeq: Int64)
    }

    // MARK: Seq

    /// The seq of the next event.
    mutating func nextSeq() -> Int64 {
        lastSeq += 1
        return lastSeq
    }

    /// The store says the log ends at `seq` (at start-up, and after a failed commit took back
    /// the seqs given since): no subscription is ahead of it.
    mutating func restored(lastSeq seq: Int64) {
        lastSeq = seq
        for sid in Array(subscriptions.keys) where subscriptions[sid]!.lastSeq > seq {
            subscriptions[sid]!.lastSeq = seq
        }
    }

    var hasSubscribers: Bool { !subscriptions.isEmpty }

    // MARK: Subscribing

    /// Checks `subscribe`'s `since` against the log: above the latest seq is -32602; older than
    /// the retained log (`oldest()`, read only when needed) is -32006 with the oldest seq kept.
    func check(since: Int?, oldest: () throws -> Int64?) throws -> Void {
        guard let since else { return }
        if since > lastSeq {
            throw RPCError.invalidParams("`since` \(since) is above the latest seq \(lastSeq)", field: "since")
        }
        if since < lastSeq, let oldest = try oldest(), since < oldest - 1 {
            throw RPCError.cursorExpired(oldestSeq: Int(oldest))
        }
    }

    /// A connection subscribed; returns the new subscription's id. With `since` below the latest
    /// seq it starts replaying (`replaying`) and gets no live event until it has caught up.
    mutating func subscribed(connectionID: UInt64, ids: Set<Int64>?, types: Set<String>?, kinds: Set<String>?,
                             since: Int64?) -> UInt64 {
        let sid = nextSubscriptionID
        nextSubscriptionID += 1
        let start = since ?? lastSeq
        var sub = Subscription(id: sid, connectionID: connectionID, ids: ids, types: types, kinds: kinds, lastSeq: start)
        if start < lastSeq {
            sub.catchingUp = true
            replaying.insert(sid)
        }
        subscriptions[sid] = sub
        byConnection[connectionID, default: ([], [])].live.insert(sid)
        byConnection[connectionID, default: ([], [])].issued.insert(sid)
        return sid
    }

    /// `unsubscribe`: any id this connection was given may be ended, also one already dropped;
    /// another connection's, or an unknown one, is -32602.
    mutating func unsubscribed(_ sid: UInt64, connectionID: UInt64) throws(RPCError) {
        guard byConnection[connectionID]?.issued.contains(sid) == true else {
            throw RPCError.invalidParams("no subscription \"\(sid)\" on this connection", field: "subscription")
        }
        end(sid)
    }

    /// The connection closed: its subscriptions end.
    mutating func connectionClosed(_ connectionID: UInt64) {
        guard let entry = byConnection.removeValue(forKey: connectionID) else { return }
        for sid in entry.live {
            subscriptions[sid] = nil
            replaying.remove(sid)
        }
    }

    /// The turn (or batch) that made `sids` failed to commit: those subscriptions never were.
    mutating func undo(subscribed sids: [UInt64]) {
        for sid in sids {
            guard let sub = subscriptions[sid] else { continue }
            end(sid)
            byConnection[sub.connectionID]?.issued.remove(sid)
        }
    }

    private mutating func end(_ sid: UInt64) {
        guard let sub = subscriptions.removeValue(forKey: sid) else { return }
        replaying.remove(sid)
        byConnection[sub.connectionID]?.live.remove(sid)
    }

    // MARK: Delivering

    /// Decides what each live subscription does with event `e`: `body` gets each one that
    /// matches it, with `.send` (its `lastSeq` is now `e.seq`) or `.drop` (it has ended).
    /// `outbound(connectionID)` is what the connection holds unsent, nil once it is gone;
    /// a reader over `limit` falls behind and is dropped — memory stays bounded, and the reader
    /// resumes with `since: last_seq` (docs/promises.md §7).
    mutating func deliver(_ e: StoredEvent, limit: Int, outbound: (UInt64) -> Int?, _ body: (Subscription, Delivery) -> Void) {
        var ended: [UInt64] = []
        var i = subscriptions.startIndex
        while i != subscriptions.endIndex {
            let sub = subscriptions.values[i]
            if !sub.catchingUp, e.seq > sub.lastSeq, sub.matches(e) {
                if let bytes = outbound(sub.connectionID) {
                    if bytes > limit {
                        ended.append(sub.id)
                        body(sub, .drop(lastSeq: sub.lastSeq))
                    } else {
                        subscriptions.values[i].lastSeq = e.seq
                        body(sub, .send)
                    }
                } else {
                    ended.append(sub.id)
                }
            }
            subscriptions.formIndex(after: &i)
        }
        for sid in ended { end(sid) }
    }

    /// A replaying subscription read the log up to `seq`; once that is the latest it goes live.
    mutating func replayed(_ sid: UInt64, through seq: Int64) {
        guard subscriptions[sid] != nil else {
            replaying.remove(sid)
            return
        }
        subscriptions[sid]!.lastSeq = seq
        if seq >= lastSeq {
            subscriptions[sid]!.catchingUp = false
            replaying.remove(sid)
        }
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

import JobKernelCore
import JobKernelStore

/// The event log's live side (docs/promises.md §7): the latest seq, the subscriptions (the one
/// index of them, by id and by connection), which of them still replay the stored log, and the
/// ids each connection was given. The log itself is in the store; the kernel routes events,
/// requests and connections here (`Kernel+Events.swift`).
///
/// `Peer` is what a subscription's events go to (the kernel's `Connection`): each subscription
/// holds its own, so that delivering an event to it looks nothing up.
struct EventLog<Peer: AnyObject> {
    /// The latest seq given: committed, or in a batch not yet committed.
    private(set) var lastSeq: Int64 = 0
    private(set) var subscriptions: [UInt64: Subscription<Peer>] = [:]
    /// Subscriptions still replaying the log from their `since`.
    private(set) var replaying: Set<UInt64> = []
    /// Per connection: the live subscriptions, and every id it was given (live or dropped), which
    /// `unsubscribe` accepts.
    private var byConnection: [UInt64: (live: Set<UInt64>, issued: Set<UInt64>)] = [:]
    private var nextSubscriptionID: UInt64 = 1
    /// What every event sent to subscription `id` begins with, written once per subscription
    /// (the kernel's is its `event` notification up to the id; by default the id's digits).
    private let head: (UInt64) -> [UInt8]

    init(head: @escaping (UInt64) -> [UInt8] = { Array(String($0).utf8) }) {
        self.head = head
    }

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
        for sub in subscriptions.values where sub.lastSeq > seq {
            sub.lastSeq = seq
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
    mutating func subscribed(connectionID: UInt64, peer: Peer, ids: Set<Int64>?, types: Set<String>?,
                             kinds: Set<String>?, since: Int64?) -> UInt64 {
        let sid = nextSubscriptionID
        nextSubscriptionID += 1
        let start = since ?? lastSeq
        let sub = Subscription(id: sid, connectionID: connectionID, peer: peer, ids: ids, types: types, kinds: kinds,
                               lastSeq: start, head: head(sid))
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
    /// `outbound(subscription)` is what its peer holds unsent, nil once the peer is gone;
    /// a reader over `limit` falls behind and is dropped — memory stays bounded, and the reader
    /// resumes with `since: last_seq` (docs/promises.md §7).
    mutating func deliver(_ e: StoredEvent, limit: Int, outbound: (Subscription<Peer>) -> Int?,
                          _ body: (Subscription<Peer>, Delivery) -> Void) {
        var ended: [UInt64] = []
        for sub in subscriptions.values where !sub.catchingUp && e.seq > sub.lastSeq && sub.matches(e) {
            guard let bytes = outbound(sub) else {
                ended.append(sub.id)
                continue
            }
            if bytes > limit {
                ended.append(sub.id)
                body(sub, .drop(lastSeq: sub.lastSeq))
            } else {
                sub.lastSeq = e.seq
                body(sub, .send)
            }
        }
        for sid in ended { end(sid) }
    }

    /// A replaying subscription read the log up to `seq`; once that is the latest it goes live.
    mutating func replayed(_ sid: UInt64, through seq: Int64) {
        guard let sub = subscriptions[sid] else {
            replaying.remove(sid)
            return
        }
        sub.lastSeq = seq
        if seq >= lastSeq {
            sub.catchingUp = false
            replaying.remove(sid)
        }
    }
}

/// A live subscription: its filters and the last seq it was sent. A reference: every event is
/// matched against every subscription, and reading one in place then retains one object, not
/// each of its filters.
final class Subscription<Peer: AnyObject> {
    let id: UInt64
    let connectionID: UInt64
    /// Where its events go.
    let peer: Peer
    let ids: FilterValues<Int64>?
    let types: FilterValues<String>?
    let kinds: FilterValues<String>?
    fileprivate(set) var lastSeq: Int64
    /// Replaying the log from `since`: fed from the store, paced by the reader, until it
    /// reaches the live seq. Live events are not sent meanwhile (the replay reads them).
    fileprivate(set) var catchingUp = false
    /// What every event sent to it begins with (`EventLog.init(head:)`).
    let head: [UInt8]

    init(id: UInt64, connectionID: UInt64, peer: Peer, ids: Set<Int64>?, types: Set<String>?, kinds: Set<String>?,
         lastSeq: Int64, head: [UInt8]) {
        self.id = id
        self.connectionID = connectionID
        self.peer = peer
        self.ids = ids.map(FilterValues.init)
        self.types = types.map(FilterValues.init)
        self.kinds = kinds.map(FilterValues.init)
        self.lastSeq = lastSeq
        self.head = head
    }

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

/// The values one filter of a subscription accepts. A filter nearly always names a few (a job,
/// a kind or two), and every event is matched against every subscription: a few values are
/// compared one by one, which for a short string is a compare of two words, where a set would
/// hash the event's field once per subscriber. A long list is a set.
enum FilterValues<Value: Hashable> {
    case few([Value])
    case many(Set<Value>)

    /// Up to this many values are compared one by one.
    static var fewLimit: Int { 8 }

    init(_ values: Set<Value>) {
        self = values.count <= Self.fewLimit ? .few(Array(values)) : .many(values)
    }

    func contains(_ value: Value) -> Bool {
        switch self {
        case .few(let values):
            for v in values where v == value { return true }
            return false
        case .many(let values):
            return values.contains(value)
        }
    }
}

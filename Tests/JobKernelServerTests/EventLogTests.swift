import JobKernelCore
import JobKernelStore
import Testing
@testable import JobKernelServer

/// The event log's live side (docs/promises.md §7): `since` checks, replay then live with no
/// gap and no duplicate at the seam, filters, the slow-subscriber drop, and the ids a connection
/// may unsubscribe.
@Suite struct EventLogTests {
    /// Where a subscription's events go: the log only holds it.
    final class Peer {}

    static func event(_ seq: Int64, kind: String = "job.status", job: Int64? = 1, type: String? = "t") -> StoredEvent {
        StoredEvent(seq: seq, ts: 0, kind: kind, jobID: job, type: type, data: [])
    }

    /// Delivers `e` with each connection holding `outbound[conn]` bytes (absent: 0) under a 100-byte limit.
    static func deliver(_ log: inout EventLog<Peer>, _ e: StoredEvent, outbound: [UInt64: Int] = [:], gone: Set<UInt64> = [])
        -> [(UInt64, EventLog<Peer>.Delivery)] {
        var out: [(UInt64, EventLog<Peer>.Delivery)] = []
        log.deliver(e, limit: 100, outbound: { gone.contains($0.connectionID) ? nil : outbound[$0.connectionID] ?? 0 }) { sub, d in out.append((sub.id, d)) }
        return out.sorted { $0.0 < $1.0 }
    }

    @Test(arguments: [
        // (latest seq, since, oldest retained, expected error reason or nil)
        (Int64(10), Int?.none, Int64?.none, String?.none),
        (10, 10, nil, nil),
        (10, 11, nil, "invalid_params"),  // above the latest
        (10, 0, 1, nil),  // the whole log is still there
        (10, 3, 4, nil),  // resumes right before the oldest kept
        (10, 2, 4, "cursor_expired"),  // older than the retained log
        (10, 10, 11, nil),  // nothing to replay: the retained log does not matter
        (0, 0, nil, nil),
    ] as [(Int64, Int?, Int64?, String?)])
    func sinceIsCheckedAgainstTheLog(latest: Int64, since: Int?, oldest: Int64?, reason: String?) {
        var log = EventLog<Peer>()
        log.restored(lastSeq: latest)
        do {
            try log.check(since: since) { oldest }
            #expect(reason == nil)
        } catch let e as RPCError {
            #expect(e.reason == reason)
            if reason == "cursor_expired" { #expect(e.data?["oldest_seq"] == .int(Int(oldest!))) }
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func aReplayingSubscriptionGetsNoLiveEventUntilItCatchesUpThenEveryOneOnce() {
        var log = EventLog<Peer>()
        log.restored(lastSeq: 5)
        let sid = log.subscribed(connectionID: 1, peer: Peer(), ids: nil, types: nil, kinds: nil, since: 2)
        #expect(log.replaying == [sid])
        // Events 6 and 7 happen while it replays: the replay reads them from the log.
        _ = log.nextSeq()
        #expect(Self.deliver(&log, Self.event(6)).isEmpty)
        log.replayed(sid, through: 5)
        #expect(log.replaying == [sid])
        _ = log.nextSeq()
        #expect(Self.deliver(&log, Self.event(7)).isEmpty)
        log.replayed(sid, through: 7)
        #expect(log.replaying.isEmpty)
        // Live from here: 8 once, and never 7 again.
        _ = log.nextSeq()
        #expect(Self.deliver(&log, Self.event(7)).isEmpty)
        #expect(Self.deliver(&log, Self.event(8)).map(\.1) == [.send])
        #expect(Self.deliver(&log, Self.event(8)).isEmpty)
        #expect(log.subscriptions[sid]?.lastSeq == 8)
    }

    @Test func aSubscriptionWithoutSinceIsLiveFromTheLatestSeq() {
        var log = EventLog<Peer>()
        log.restored(lastSeq: 40)
        let sid = log.subscribed(connectionID: 1, peer: Peer(), ids: nil, types: nil, kinds: nil, since: nil)
        #expect(log.replaying.isEmpty)
        #expect(Self.deliver(&log, Self.event(40)).isEmpty)
        #expect(Self.deliver(&log, Self.event(41)).map(\.0) == [sid])
    }

    @Test(arguments: [
        // (ids, types, kinds, event kind, event job, event type, matches)
        (Set<Int64>?([1]), Set<String>?.none, Set<String>?.none, "job.status", Int64?(1), String?("t"), true),
        ([2], nil, nil, "job.status", 1, "t", false),
        ([1], nil, nil, "settings.changed", nil, nil, false),
        (nil, ["t", "u"], nil, "job.log", 3, "u", true),
        (nil, ["t"], nil, "job.log", 3, "u", false),
        (nil, nil, ["job.log", "job.status"], "job.status", 3, "u", true),
        (nil, nil, ["job.log"], "job.status", 3, "u", false),
        ([3], ["u"], ["job.status"], "job.status", 3, "u", true),  // AND across filters
        ([3], ["t"], ["job.status"], "job.status", 3, "u", false),
        (nil, nil, nil, "settings.changed", nil, nil, true),
    ] as [(Set<Int64>?, Set<String>?, Set<String>?, String, Int64?, String?, Bool)])
    func filtersCombineWithAndValuesWithOr(ids: Set<Int64>?, types: Set<String>?, kinds: Set<String>?,
                                          kind: String, job: Int64?, type: String?, matches: Bool) {
        var log = EventLog<Peer>()
        _ = log.subscribed(connectionID: 1, peer: Peer(), ids: ids, types: types, kinds: kinds, since: nil)
        _ = log.nextSeq()
        #expect(Self.deliver(&log, Self.event(1, kind: kind, job: job, type: type)).count == (matches ? 1 : 0))
    }

    @Test func aReaderOverTheLimitIsDroppedWithItsLastSeqAndOthersGoOn() {
        var log = EventLog<Peer>()
        let slow = log.subscribed(connectionID: 1, peer: Peer(), ids: nil, types: nil, kinds: nil, since: nil)
        let fast = log.subscribed(connectionID: 2, peer: Peer(), ids: nil, types: nil, kinds: nil, since: nil)
        _ = log.nextSeq()
        #expect(Self.deliver(&log, Self.event(1)).map(\.1) == [.send, .send])
        _ = log.nextSeq()
        let second = Self.deliver(&log, Self.event(2), outbound: [1: 101])
        #expect(second.map(\.0) == [slow, fast])
        #expect(second.map(\.1) == [.drop(lastSeq: 1), .send])
        #expect(log.subscriptions[slow] == nil)
        // The dropped id may still be unsubscribed by its connection (a no-op), not by another.
        #expect(throws: Never.self) { try log.unsubscribed(slow, connectionID: 1) }
        #expect(throws: RPCError.self) { try log.unsubscribed(fast, connectionID: 1) }
    }

    @Test func aGoneConnectionsSubscriptionEndsSilently() {
        var log = EventLog<Peer>()
        let sid = log.subscribed(connectionID: 1, peer: Peer(), ids: nil, types: nil, kinds: nil, since: nil)
        _ = log.nextSeq()
        #expect(Self.deliver(&log, Self.event(1), gone: [1]).isEmpty)
        #expect(log.subscriptions[sid] == nil)
    }

    @Test func aClosedConnectionsSubscriptionsEndAndItsIdsAreForgotten() {
        var log = EventLog<Peer>()
        log.restored(lastSeq: 3)
        let a = log.subscribed(connectionID: 1, peer: Peer(), ids: nil, types: nil, kinds: nil, since: 0)
        let b = log.subscribed(connectionID: 2, peer: Peer(), ids: nil, types: nil, kinds: nil, since: nil)
        log.connectionClosed(1)
        #expect(Set(log.subscriptions.keys) == [b])
        #expect(log.replaying.isEmpty)
        #expect(throws: RPCError.self) { try log.unsubscribed(a, connectionID: 1) }
    }

    @Test func aFailedCommitTakesBackItsSubscriptionsAndSeqs() {
        var log = EventLog<Peer>()
        log.restored(lastSeq: 10)
        let kept = log.subscribed(connectionID: 1, peer: Peer(), ids: nil, types: nil, kinds: nil, since: nil)
        let undone = log.subscribed(connectionID: 1, peer: Peer(), ids: nil, types: nil, kinds: nil, since: nil)
        for seq in 11...13 {
            _ = log.nextSeq()
            _ = Self.deliver(&log, Self.event(Int64(seq)))
        }
        log.undo(subscribed: [undone])
        log.restored(lastSeq: 10)  // the store's log still ends at 10
        #expect(Set(log.subscriptions.keys) == [kept])
        #expect(log.subscriptions[kept]?.lastSeq == 10)
        #expect(throws: RPCError.self) { try log.unsubscribed(undone, connectionID: 1) }
        // The seqs are given again, and the subscriber gets them: no gap.
        #expect(log.nextSeq() == 11)
        #expect(Self.deliver(&log, Self.event(11)).map(\.0) == [kept])
    }

    /// A filter of a few values compares them one by one, a longer one hashes them: either way
    /// it accepts exactly the values it was given.
    @Test(arguments: [0, 1, 2, FilterValues<Int64>.fewLimit, FilterValues<Int64>.fewLimit + 1, 100])
    func aFilterAcceptsExactlyItsValuesHoweverMany(count: Int) {
        let values = Set((0..<count).map { Int64($0 * 3) })
        let ids = FilterValues(values)
        let kinds = FilterValues(Set(values.map { "kind.\($0)" }))
        for probe in Int64(-1)...Int64(count * 3 + 1) {
            #expect(ids.contains(probe) == values.contains(probe))
            #expect(kinds.contains("kind.\(probe)") == values.contains(probe))
        }
    }

    @Test func eachSubscriptionCarriesTheHeadItsEventsBeginWith() {
        var log = EventLog<Peer>(head: { Array("<\($0)>".utf8) })
        log.restored(lastSeq: 0)
        for _ in 1..<12 { _ = log.subscribed(connectionID: 1, peer: Peer(), ids: nil, types: nil, kinds: nil, since: nil) }
        let sid = log.subscribed(connectionID: 1, peer: Peer(), ids: nil, types: nil, kinds: nil, since: nil)
        #expect(String(decoding: log.subscriptions[sid]!.head, as: UTF8.self) == "<12>")
        var plain = EventLog<Peer>()
        let first = plain.subscribed(connectionID: 1, peer: Peer(), ids: nil, types: nil, kinds: nil, since: nil)
        #expect(plain.subscriptions[first]!.head == Array("1".utf8))  // by default, the id's digits
    }
}

import JobKernelCore
import Testing
@testable import JobKernelServer

/// The embedded broker's leases and waiting fetches (docs/promises.md §5.4), with a clock the
/// test moves: a lease lives until it is released, expires, or its connection closes; `extend`
/// moves its expiry; an expired or unknown lease is -32005; a waiting fetch times out once.
@Suite struct BrokerTests {
    static func lease(_ n: Int, job: Int64 = 1, type: String = "a", index: Int = 0, connection: UInt64 = 7,
                      expiresAt: Millis = 1_000, duration: Int64 = 1_000) -> Lease {
        Lease(id: LeaseID(UInt64(n)), jobID: job, type: type, index: index, connectionID: connection, expiresAt: expiresAt,
              durationMs: duration)
    }

    @Test func aLeaseIsLiveUntilItsExpiryThenLeaseExpired() throws {
        var b = Broker(leasePrefix: "t")
        b.granted(Self.lease(1, expiresAt: 1_000))
        #expect(try b.live("t-1", now: 999).id == 1)
        for now: Millis in [1_000, 5_000] {
            #expect(throws: RPCError.leaseExpired) { try b.live("t-1", now: now) }
        }
        #expect(throws: RPCError.leaseExpired) { try b.live("nope", now: 0) }
    }

    @Test(arguments: [
        // (extend at, lease_s asked in ms or nil for the lease's own duration, expected expiry)
        (Millis(500), Int64?.none, Millis(1_500)),
        (500, 10_000, 10_500),
        (999, 1, 1_000),
    ] as [(Millis, Int64?, Millis)])
    func extendMovesTheExpiryFromNow(at: Millis, by: Int64?, expected: Millis) throws {
        var b = Broker(leasePrefix: "t")
        b.granted(Self.lease(1, expiresAt: 1_000, duration: 1_000))
        #expect(try b.extended("t-1", by: by, now: at).expiresAt == expected)
        // The deadline armed for the first expiry finds it extended and ends nothing.
        #expect(b.leaseExpired(1, now: 1_000) == (expected <= 1_000 ? Self.lease(1, expiresAt: expected) : nil))
    }

    @Test func anExpiredLeaseCannotBeExtended() {
        var b = Broker(leasePrefix: "t")
        b.granted(Self.lease(1, expiresAt: 1_000))
        #expect(throws: RPCError.leaseExpired) { try b.extended("t-1", by: nil, now: 1_000) }
    }

    @Test func leaseExpiredEndsTheLeaseOnce() {
        var b = Broker(leasePrefix: "t")
        b.granted(Self.lease(1, job: 4, index: 2, expiresAt: 1_000))
        #expect(b.holds(jobID: 4, index: 2))
        #expect(b.leaseExpired(1, now: 999) == nil)
        #expect(b.leaseExpired(1, now: 1_000)?.id == 1)
        #expect(b.leaseExpired(1, now: 1_000) == nil)
        #expect(!b.holds(jobID: 4, index: 2))
        #expect(b.leaseIDs(ofJob: 4).isEmpty)
    }

    @Test func aClosedConnectionEndsItsLeasesAndWaitersAndNoOthers() {
        var b = Broker(leasePrefix: "t")
        b.granted(Self.lease(1, job: 1, connection: 7))
        b.granted(Self.lease(2, job: 2, connection: 7))
        b.granted(Self.lease(3, job: 2, index: 1, connection: 8))
        _ = b.fetchWaits(connectionID: 7, types: ["a"], max: 1, leaseMs: 1_000) { _ in }
        let other = b.fetchWaits(connectionID: 8, types: ["a"], max: 1, leaseMs: 1_000) { _ in }
        #expect(b.connectionClosed(7).map(\.id) == [1, 2])
        #expect(Set(b.leases.keys) == [3])
        #expect(b.leaseIDs(ofJob: 2) == [3])
        #expect(b.waiters.map(\.id) == [other])
        #expect(b.connectionClosed(7).isEmpty)
    }

    @Test func aWaitingFetchTimesOutOnceAndNotAfterBeingServed() {
        var b = Broker(leasePrefix: "t")
        let first = b.fetchWaits(connectionID: 1, types: ["a"], max: 1, leaseMs: 1_000) { _ in }
        let second = b.fetchWaits(connectionID: 1, types: ["b"], max: 2, leaseMs: 1_000) { _ in }
        #expect(b.waiters.map(\.id) == [first, second])  // oldest first
        b.fetchServed(first)
        #expect(b.fetchTimedOut(first) == nil)
        #expect(b.fetchTimedOut(second)?.types == ["b"])
        #expect(b.fetchTimedOut(second) == nil)
    }

    @Test func shutDownEndsEveryLeaseAndEveryWaiter() {
        var b = Broker(leasePrefix: "t")
        b.granted(Self.lease(1))
        b.granted(Self.lease(2, connection: 0))  // a unit out on NATS
        _ = b.fetchWaits(connectionID: 1, types: ["a"], max: 1, leaseMs: 1_000) { _ in }
        let (leases, waiters) = b.shutDown()
        #expect(leases.map(\.id) == [1, 2])
        #expect(waiters.count == 1)
        #expect(b.leases.isEmpty && b.waiters.isEmpty)
    }

    @Test func undoingAFailedTurnTakesBackItsLeasesOnly() {
        var b = Broker(leasePrefix: "t")
        b.granted(Self.lease(1, job: 1))
        b.granted(Self.lease(2, job: 1, index: 1))
        b.undo(granted: [2])
        #expect(Set(b.leases.keys) == [1])
        #expect(b.leaseIDs(ofJob: 1) == [1])
        #expect(b.connectionClosed(7).map(\.id) == [1])
    }

    @Test func leaseIDsAreNewAndWorkersSeeThemWithThisKernelsPrefix() {
        var b = Broker(leasePrefix: "k1")
        let ids = (0..<100).map { _ in b.newLeaseID() }
        #expect(Set(ids).count == 100)
        #expect(ids.allSatisfy { b.name($0).hasPrefix("k1-") })
        #expect(ids.allSatisfy { b.id(named: b.name($0)) == $0 })
        for id in [ids[0], LeaseID(UInt64.max)] {
            var w = ByteWriter(capacity: 8)
            b.writeName(id, into: &w)
            #expect(String(decoding: w.finish(), as: UTF8.self) == "\"\(b.name(id))\"")
        }
    }

    /// A name that is not `<this kernel's prefix>-<number>` names no lease: an earlier kernel's,
    /// garbage, or a number that does not fit.
    @Test(arguments: [
        ("k1-0", LeaseID?.some(0)),
        ("k1-18446744073709551615", LeaseID(UInt64.max)),
        ("k1-007", 7),
        ("", nil), ("k1", nil), ("k1-", nil), ("k2-5", nil), ("k1-x", nil), ("k1--1", nil),
        ("k1-1 ", nil), ("k1-18446744073709551616", nil), ("k1-99999999999999999999999", nil), ("k15", nil),
    ] as [(String, LeaseID?)])
    func aLeaseIsNamedOnlyByThisKernelsPrefixAndANumber(name: String, expected: LeaseID?) {
        #expect(Broker(leasePrefix: "k1").id(named: name) == expected)
    }

    /// `parallel` caps `fetch` (docs/promises.md §13): the room under a cap is the cap less the
    /// leases out on that type, whichever way they ended; other types do not count.
    @Test func theRoomUnderACapIsTheCapLessTheLeasesOutOnThatType() {
        var b = Broker(leasePrefix: "t")
        #expect(b.room(type: "a", cap: 2) == 2)
        #expect(b.room(type: "a", cap: nil) == Int.max)
        b.granted(Self.lease(1, job: 1, type: "a", connection: 7))
        b.granted(Self.lease(2, job: 2, type: "a", connection: 0, expiresAt: 500))  // out on NATS
        b.granted(Self.lease(3, job: 3, type: "b", connection: 7))
        #expect(b.room(type: "a", cap: 2) == 0)
        #expect(b.room(type: "a", cap: 1) == 0)  // a cap lowered below what is out: none, not negative
        #expect(b.room(type: "a", cap: 5) == 3)
        #expect(b.room(type: "b", cap: 2) == 1)
        b.released(1)
        #expect(b.room(type: "a", cap: 2) == 1)
        _ = b.leaseExpired(2, now: 500)
        #expect(b.room(type: "a", cap: 2) == 2)
        _ = b.connectionClosed(7)
        #expect(b.room(type: "b", cap: 2) == 2)
        b.released(3)  // already ended: counted once
        #expect(b.room(type: "b", cap: 2) == 2)
    }
}

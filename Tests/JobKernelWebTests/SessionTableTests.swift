import Testing

@testable import JobKernelWeb

/// Browser sessions (docs/web.md, "Security"): random, fixed lifetime, capped, one login code.
/// The clock is an instant the test moves.
struct SessionTableTests {
    let start = ContinuousClock.now

    @Test(arguments: [(0, true), (3600, true), (12 * 3600 - 1, true), (12 * 3600, false), (13 * 3600, false)])
    func aSessionLastsTwelveHoursFromItsOpening(secondsLater: Int, valid: Bool) {
        let table = SessionTable()
        let session = table.open(now: start)
        #expect(table.isValid(session, now: start + .seconds(secondsLater)) == valid)
    }

    @Test func useDoesNotExtendASession() {
        let table = SessionTable(lifetime: .seconds(100))
        let session = table.open(now: start)
        for second in stride(from: 10, to: 100, by: 10) {
            #expect(table.isValid(session, now: start + .seconds(second)))
        }
        #expect(!table.isValid(session, now: start + .seconds(100)))
        #expect(!table.isValid(session, now: start + .seconds(50)), "an expired session is gone for good")
    }

    @Test func sessionsAreRandomAndUnknownValuesAreNot() {
        let table = SessionTable()
        let a = table.open(now: start), b = table.open(now: start)
        #expect(a != b && a.count == 64)
        #expect(!table.isValid(String(repeating: "0", count: 64), now: start))
        #expect(!SessionTable().isValid(a, now: start), "another gateway's table knows none of this one's")
    }

    @Test func aFullTableDropsTheSessionThatExpiresFirst() {
        let table = SessionTable(lifetime: .seconds(1000), capacity: 3)
        let sessions = (0..<3).map { table.open(now: start + .seconds($0)) }
        let fourth = table.open(now: start + .seconds(10))
        #expect(table.count == 3)
        #expect(!table.isValid(sessions[0], now: start + .seconds(10)))
        #expect(sessions[1...].allSatisfy { table.isValid($0, now: start + .seconds(10)) })
        #expect(table.isValid(fourth, now: start + .seconds(10)))
    }

    @Test func expiredSessionsMakeRoomFirst() {
        let table = SessionTable(lifetime: .seconds(10), capacity: 2)
        _ = table.open(now: start)
        _ = table.open(now: start)
        let late = table.open(now: start + .seconds(20))
        #expect(table.count == 1 && table.isValid(late, now: start + .seconds(20)))
    }

    @Test func theLoginCodeOpensOneSessionOnce() throws {
        let table = SessionTable(loginCode: "c0de")
        #expect(table.redeem(loginCode: "wrong", now: start) == nil)
        let session = try #require(table.redeem(loginCode: "c0de", now: start))
        #expect(table.isValid(session, now: start))
        #expect(table.redeem(loginCode: "c0de", now: start) == nil)
        #expect(table.loginCode == nil)
    }

    @Test func aClosedSessionIsGone() {
        let table = SessionTable()
        let session = table.open(now: start)
        table.close(session)
        #expect(!table.isValid(session, now: start))
    }
}

import Foundation
import Testing
@testable import JobKernelCore

/// docs/promises.md §8.5: cron fields, and fire times in an IANA zone read from the system tz database,
/// across DST changes.
struct CronExpressionTests {
    static func zone(_ name: String) throws -> TimeZoneRules {
        let data = try #require(FileManager.default.contents(atPath: "/usr/share/zoneinfo/\(name)"),
                                "install tzdata: /usr/share/zoneinfo/\(name) is missing")
        return try TimeZoneRules(tzif: [UInt8](data))
    }

    static func t(_ iso: String) -> Int64 {
        let f = ISO8601DateFormatter()
        return Int64(f.date(from: iso)!.timeIntervalSince1970)
    }

    static func fires(_ cron: String, _ zone: TimeZoneRules, after: String, count: Int) throws -> [String] {
        let c = try CronExpression(parsing: cron)
        var out: [String] = []
        var at = t(after)
        let f = ISO8601DateFormatter()
        for _ in 0..<count {
            guard let n = c.nextFire(after: at, in: zone) else { break }
            out.append(f.string(from: Date(timeIntervalSince1970: TimeInterval(n))))
            at = n
        }
        return out
    }

    @Test func berlinOffsetsFollowTheTZifFileAndItsFooter() throws {
        let berlin = try Self.zone("Europe/Berlin")
        #expect(berlin.offset(at: Self.t("2026-01-15T12:00:00Z")) == 3600)
        #expect(berlin.offset(at: Self.t("2026-07-15T12:00:00Z")) == 7200)
        #expect(berlin.offset(at: Self.t("2026-03-29T00:59:59Z")) == 3600)
        #expect(berlin.offset(at: Self.t("2026-03-29T01:00:00Z")) == 7200)
        // Far beyond any transition listed in the file: the POSIX footer decides.
        #expect(berlin.offset(at: Self.t("2090-07-01T00:00:00Z")) == 7200)
        #expect(berlin.offset(at: Self.t("2090-12-01T00:00:00Z")) == 3600)
        let ny = try Self.zone("America/New_York")
        #expect(ny.offset(at: Self.t("2026-07-01T00:00:00Z")) == -4 * 3600)
        #expect(ny.offset(at: Self.t("2099-01-01T00:00:00Z")) == -5 * 3600)
    }

    @Test func dailyAt0330InBerlin() throws {
        let fires = try Self.fires("30 3 * * *", Self.zone("Europe/Berlin"), after: "2026-01-10T00:00:00Z", count: 2)
        #expect(fires == ["2026-01-10T02:30:00Z", "2026-01-11T02:30:00Z"])
    }

    @Test func aSkippedLocalHourFiresOnceAtTheNextValidTime() throws {
        let berlin = try Self.zone("Europe/Berlin")
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 does not exist that day.
        #expect(try Self.fires("30 2 * * *", berlin, after: "2026-03-28T12:00:00Z", count: 3)
                == ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"])
        // Four fire times inside the skipped hour still fire once.
        #expect(try Self.fires("*/15 2 * * *", berlin, after: "2026-03-28T23:50:00Z", count: 2)
                == ["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"])
    }

    @Test func aRepeatedLocalHourFiresOnce() throws {
        let berlin = try Self.zone("Europe/Berlin")
        // 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00 UTC); 02:30 happens twice.
        #expect(try Self.fires("30 2 * * *", berlin, after: "2026-10-24T12:00:00Z", count: 2)
                == ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"])
        // Asked from inside the second 02:xx, the repeated 02:30 does not fire again.
        #expect(try Self.fires("30 2 * * *", berlin, after: "2026-10-25T01:10:00Z", count: 1) == ["2026-10-26T01:30:00Z"])
    }

    @Test func anHourlyEntryRunsThroughTheRepeatedHour() throws {
        let berlin = try Self.zone("Europe/Berlin")
        #expect(try Self.fires("0 * * * *", berlin, after: "2026-10-24T23:30:00Z", count: 3)
                == ["2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"])
    }

    @Test func latestFireAtOrBefore() throws {
        let c = try CronExpression(parsing: "0 3 * * 1-5")
        // 2026-12-05 is a Saturday: the latest weekday 03:00 UTC is Friday's.
        #expect(c.latestFire(atOrBefore: Self.t("2026-12-05T12:00:00Z"), in: .utc) == Self.t("2026-12-04T03:00:00Z"))
        #expect(c.latestFire(atOrBefore: Self.t("2026-12-04T03:00:00Z"), in: .utc) == Self.t("2026-12-04T03:00:00Z"))
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var text: String
        var after: String
        var next: String
        var testDescription: String { "\(text) after \(after)" }
    }

    @Test(arguments: [
        Case(text: "0 3 * * 1-5", after: "2026-12-04T03:00:00Z", next: "2026-12-07T03:00:00Z"),
        Case(text: "*/20 * * * *", after: "2026-01-01T00:41:00Z", next: "2026-01-01T01:00:00Z"),
        Case(text: "0 0 1 jan,jul *", after: "2026-01-01T00:00:00Z", next: "2026-07-01T00:00:00Z"),
        Case(text: "0 12 * * sun", after: "2026-12-01T00:00:00Z", next: "2026-12-06T12:00:00Z"),
        Case(text: "0 12 * * 7", after: "2026-12-01T00:00:00Z", next: "2026-12-06T12:00:00Z"),
        Case(text: "0 0 13 * 5", after: "2026-12-01T00:00:00Z", next: "2026-12-04T00:00:00Z"),  // day 13 OR Friday
        Case(text: "0 0 29 2 *", after: "2026-01-01T00:00:00Z", next: "2028-02-29T00:00:00Z"),
        Case(text: "@daily", after: "2026-01-01T10:00:00Z", next: "2026-01-02T00:00:00Z"),
        Case(text: "5-10/5 1 * * *", after: "2026-01-01T01:05:00Z", next: "2026-01-01T01:10:00Z"),
    ])
    func nextFireInUTC(_ c: Case) throws {
        let cron = try CronExpression(parsing: c.text)
        let n = try #require(cron.nextFire(after: Self.t(c.after), in: .utc))
        #expect(n == Self.t(c.next))
    }

    @Test(arguments: ["", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
                      "* * * * 8", "5-1 * * * *", "*/0 * * * *", "a * * * *", "0 0 30 2 *", "1,,2 * * * *"])
    func badExpressionsAreRefused(_ text: String) {
        #expect(throws: CronExpression.ParseError.self) { try CronExpression(parsing: text) }
    }

    @Test func zoneNames() {
        #expect(CronExpression.isZoneName("Europe/Berlin"))
        #expect(CronExpression.isZoneName("Etc/GMT+1"))
        #expect(!CronExpression.isZoneName("../etc/passwd"))
        #expect(!CronExpression.isZoneName("/etc/passwd"))
        #expect(!CronExpression.isZoneName("Europe/.hidden"))
    }

    @Test func notATZifFileIsRefused() {
        #expect(throws: TimeZoneRules.ParseError.self) { try TimeZoneRules(tzif: Array("hello".utf8)) }
        #expect(throws: TimeZoneRules.ParseError.self) { try TimeZoneRules(tzif: Array("TZif2".utf8)) }
    }
}

import Testing
@testable import JobKernelCore

/// docs/promises.md §2: `[storage] keep_finished` and `[[schedules]]` with `cron` and `timezone`.
struct ConfigOperationsTests {
    @Test func keepFinishedDefaultsToSevenDaysAndTakesForever() throws {
        #expect(try KernelConfig.parse([:]).storage.keepFinishedMs == 7 * 86_400_000)
        #expect(try KernelConfig.parse(["storage": ["keep_finished": "forever"]]).storage.keepFinishedMs == nil)
        #expect(try KernelConfig.parse(["storage": ["keep_finished": "36h"]]).storage.keepFinishedMs == 36 * 3_600_000)
        #expect(try KernelConfig.parse(["storage": ["keep_finished": 60]]).storage.keepFinishedMs == 60_000)
    }

    @Test func aCronScheduleKeepsItsTextAndZone() throws {
        let c = try KernelConfig.parse(["schedules": [["name": "n", "type": "command", "cron": "30 3 * * *",
                                                       "timezone": "Europe/Berlin"]]])
        let s = try #require(c.schedules.first)
        #expect(s.cron == (try CronExpression(parsing: "30 3 * * *")))
        #expect(s.cronText == "30 3 * * *" && s.timezone == "Europe/Berlin" && s.everyMs == 0)
        let utc = try KernelConfig.parse(["schedules": [["name": "n", "type": "command", "cron": "@hourly"]]])
        #expect(utc.schedules.first?.timezone == "UTC")
    }
}

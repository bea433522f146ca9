import JobKernelCore
import Testing
@testable import JobKernelServer

/// Schedule slots (docs/promises.md §8.5): the due slot is the latest one not yet enqueued, so a
/// clock that moves through any stretch of time gets every slot once, in order, with no double
/// and no gap, whatever the steps it moves by.
@Suite struct SchedulesTests {
    static let hour: Millis = 3_600_000

    static func every(_ ms: Millis, name: String = "tick") -> ScheduleConfig {
        ScheduleConfig(name: name, type: "t", everyMs: ms)
    }

    static func cron(_ text: String, zone: String, name: String = "nightly") throws -> ScheduleConfig {
        var s = ScheduleConfig(name: name, type: "t", everyMs: 0)
        s.cron = try CronExpression(parsing: text)
        s.cronText = text
        s.timezone = zone
        return s
    }

    /// Moves a clock from `start` to `end` by `step`, enqueuing each due slot as the kernel does;
    /// returns the slots enqueued.
    static func walk(_ schedules: Schedules, from start: Millis, to end: Millis, step: Millis) -> [Int64] {
        var last: Int64?
        var slots: [Int64] = []
        var t = start
        while t <= end {
            if let slot = schedules.due(0, now: t, lastSlot: last) {
                slots.append(slot.number)
                last = slot.number
            }
            // The kernel wakes at the next slot's start at the latest.
            let wake = schedules.nextWake(0, now: t)!
            #expect(wake > t)
            t = min(t + step, wake)
        }
        return slots
    }

    @Test(arguments: [
        // (every, now, last slot enqueued, expected due slot)
        (Millis(60_000), Millis(120_000), nil, Int64?(2)),
        (60_000, 120_000, 1, 2),
        (60_000, 179_999, 2, nil),  // slot 2 is already enqueued
        (60_000, 180_000, 2, 3),
        (60_000, 600_000, 2, 10),  // missed slots 3…9 run once, as the latest
        (3_600_000, 3_600_000 * 5 + 1, 4, 5),
    ] as [(Millis, Millis, Int64?, Int64?)])
    func everySlotIsTheLatestNotYetEnqueued(every: Millis, now: Millis, last: Int64?, expected: Int64?) {
        let s = Schedules([Self.every(every)])
        #expect(s.due(0, now: now, lastSlot: last)?.number == expected)
    }

    @Test func aSlotsKeyNamesTheScheduleAndTheSlot() throws {
        let s = Schedules([Self.every(60_000, name: "sweep")])
        let slot = try #require(s.due(0, now: 125_000, lastSlot: nil))
        #expect(slot.idempotencyKey == "schedule:sweep:2")
        // The same slot of the same schedule compares equal: a restart's enqueue is a duplicate.
        #expect(slot == s.due(0, now: 179_000, lastSlot: 1))
    }

    @Test(arguments: [Millis(1_000), 7_000, 59_999, 60_000, 3_600_000])
    func anEverySchedulesSlotsHaveNoDoubleAndNoGap(step: Millis) {
        let s = Schedules([Self.every(60_000)])
        let slots = Self.walk(s, from: 1_000_000 * 60_000, to: 1_000_000 * 60_000 + 3 * Self.hour, step: step)
        #expect(slots == Array(1_000_000...1_000_180))
    }

    @Test func restartingInsideASlotEnqueuesItAtOnceAndOnlyOnce() {
        let s = Schedules([Self.every(Self.hour)])
        let now = 100 * Self.hour + 25 * 60_000
        #expect(s.due(0, now: now, lastSlot: 99)?.number == 100)
        #expect(s.due(0, now: now, lastSlot: 100) == nil)
        #expect(s.nextWake(0, now: now) == 101 * Self.hour)
        #expect(s.nextRun(0, now: now, lastSlot: 99) == now)
        #expect(s.nextRun(0, now: now, lastSlot: 100) == 101 * Self.hour)
    }

    /// Europe/Berlin around its 2026 changes: 29 March (02:00 → 03:00) and 25 October
    /// (03:00 → 02:00). `30 2 * * *` is skipped on the first day and repeated on the second.
    @Test(arguments: [
        // (from, to: UTC unix seconds; cron; expected fire times in UTC)
        (Int64(1_774_569_600), Int64(1_774_915_200), "30 2 * * *",
         // 27 Mar 01:30Z, 28 Mar 01:30Z, 29 Mar 01:00Z (the skipped 02:30 fires at the transition), 30 Mar 00:30Z
         [Int64(1_774_575_000), 1_774_661_400, 1_774_746_000, 1_774_830_600]),
        (1_792_800_000, 1_793_059_200, "30 2 * * *",
         // 24 Oct 00:30Z, 25 Oct 00:30Z (02:30 CEST, the first of the two), 26 Oct 01:30Z
         [1_792_801_800, 1_792_888_200, 1_792_978_200]),
    ] as [(Int64, Int64, String, [Int64])])
    func aCronScheduleAcrossADSTChangeHasNoDoubleAndNoGap(from: Int64, to: Int64, cron: String, expected: [Int64]) throws {
        guard let zone = try? TimeZoneDatabase.rules("Europe/Berlin") else {
            Issue.record("Europe/Berlin is not in \(TimeZoneDatabase.directory): install tzdata")
            return
        }
        let s = Schedules([try Self.cron(cron, zone: "Europe/Berlin")], zone: { _ in zone })
        for step: Millis in [60_000, 17 * 60_000, Self.hour] {
            let slots = Self.walk(s, from: from * 1000, to: to * 1000, step: step)
            // The walk's first look enqueues the latest fire before `from` too (a start inside a slot).
            #expect(Array(slots.drop(while: { $0 < from })) == expected, "step \(step) ms")
        }
    }

    @Test func aCronScheduleWhoseZoneCannotBeReadNeverRunsAndSaysWhy() throws {
        struct NoZone: Error, CustomStringConvertible { var description: String { "no time zone \"Mars/Olympus\"" } }
        let s = Schedules([try Self.cron("* * * * *", zone: "Mars/Olympus")], zone: { _ in throw NoZone() })
        #expect(s.problem(0)?.contains("Mars/Olympus") == true)
        #expect(s.due(0, now: 1_000_000_000_000, lastSlot: nil) == nil)
        #expect(s.nextWake(0, now: 1_000_000_000_000) == nil)
    }

    @Test func theListingShowsEveryAsConfiguredOrTheCronAndItsZone() throws {
        var every = Self.every(Self.hour)
        every.every = .string("1h")
        let s = Schedules([every, try Self.cron("0 3 * * 1-5", zone: "UTC")], zone: { _ in .utc })
        let now = 1000 * Self.hour + 60_000
        let a = s.listing(0, now: now, lastSlot: 1000, lastJobID: 7).objectValue!
        #expect(a["every"] == .string("1h"))
        #expect(a["next_run_at"] == .string(Timestamp.format(1001 * Self.hour)))
        #expect(a["last_job_id"] == .string("7"))
        let b = s.listing(1, now: now, lastSlot: nil, lastJobID: nil).objectValue!
        #expect(b["every"] == .null)
        #expect(b["cron"] == .string("0 3 * * 1-5"))
        #expect(b["timezone"] == .string("UTC"))
        #expect(b["next_run_at"] == .string(Timestamp.format(now)))  // a fire time is due and not enqueued
    }
}

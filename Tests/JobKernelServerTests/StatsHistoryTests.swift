import JobKernelCore
import Testing
@testable import JobKernelServer

/// `stats.history` (protocol/protocol.md): a sample per interval of each type's pending and running
/// jobs and of the jobs that ended since the previous sample, the last `capacity` kept in a ring,
/// `since` keeping only later samples, under a clock the test moves.
@Suite struct StatsHistoryTests {
    typealias Counts = StatsHistory.Counts

    @Test(arguments: [
        // (ends between two samples, the counts of ends in the second sample)
        ([JobStatus](), counts()),
        ([.success, .success, .failed], counts(succeeded: 2, failed: 1)),
        ([.cancelled, .partialSuccess, .skipped], counts(cancelled: 1, partialSuccess: 1, skipped: 1)),
        // Statuses that are not an end count nothing.
        ([.pending, .running, .scheduled, .success], counts(succeeded: 1)),
    ] as [([JobStatus], Counts)])
    func endsAreCountedInTheSampleThatClosesTheirInterval(ends: [JobStatus], expected: Counts) {
        var h = StatsHistory(intervalMs: 10_000, capacity: 10)
        h.sample(at: 0, open: ["t": (0, 0)])
        for status in ends { h.ended(type: "t", status: status) }
        h.sample(at: 10_000, open: ["t": (0, 0)])
        h.sample(at: 20_000, open: ["t": (0, 0)])
        let samples = h.samples()
        #expect(samples.map(\.t) == [0, 10_000, 20_000])
        #expect(samples[0].types["t"] == counts())
        #expect(samples[1].types["t"] == expected)
        // Counted once: the next interval starts from nothing.
        #expect(samples[2].types["t"] == counts())
    }

    @Test func pendingAndRunningAreTheCountsAtTheSampleTimeAndEveryTypeGivenIsShown() {
        var h = StatsHistory(intervalMs: 10_000, capacity: 10)
        h.sample(at: 0, open: ["a": (3, 2), "b": (0, 0)])
        h.ended(type: "a", status: .success)
        h.ended(type: "gone", status: .failed)  // a type with no open job left still shows its ends
        h.sample(at: 10_000, open: ["a": (1, 1), "b": (0, 0)])
        let samples = h.samples()
        #expect(samples[0].types == ["a": counts(pending: 3, running: 2), "b": counts()])
        #expect(samples[1].types == ["a": counts(pending: 1, running: 1, succeeded: 1), "b": counts(),
                                     "gone": counts(failed: 1)])
    }

    @Test(arguments: [
        // (samples taken, capacity, the times kept, oldest first)
        (3, 5, [Millis(0), 10, 20]),
        (5, 5, [0, 10, 20, 30, 40]),
        (6, 5, [10, 20, 30, 40, 50]),
        (12, 5, [70, 80, 90, 100, 110]),
        (7, 1, [60]),
    ] as [(Int, Int, [Millis])])
    func theRingKeepsTheLastCapacitySamplesOldestFirst(taken: Int, capacity: Int, kept: [Millis]) {
        var h = StatsHistory(intervalMs: 10, capacity: capacity)
        for i in 0..<taken { h.sample(at: Millis(i * 10), open: [:]) }
        #expect(h.samples().map(\.t) == kept)
        #expect(h.keptMs == Int64(10 * capacity))
    }

    @Test(arguments: [
        // (since, the times returned) of samples at 0, 10 … 50 in a ring of 4, which keeps 20 … 50
        (Millis?.none, [Millis(20), 30, 40, 50]),
        (Millis(-1), [20, 30, 40, 50]),
        (20, [30, 40, 50]),
        (25, [30, 40, 50]),
        (49, [50]),
        (50, []),
        (1_000, []),
    ] as [(Millis?, [Millis])])
    func sinceKeepsOnlyTheSamplesTakenAfterIt(since: Millis?, expected: [Millis]) {
        var h = StatsHistory(intervalMs: 10, capacity: 4)
        for t in stride(from: Millis(0), through: 50, by: 10) { h.sample(at: t, open: [:]) }
        #expect(h.samples(after: since).map(\.t) == expected)
    }

    @Test func theAnswerGivesTheIntervalTheReachAndEachSampleWithItsTypesSorted() {
        var h = StatsHistory()
        h.sample(at: 1_796_644_810_000, open: ["thumbnail": (3, 2), "a": (0, 0)])
        let json = h.json(after: nil)
        #expect(json["interval_s"] == .int(10))
        #expect(json["kept_s"] == .int(3600))
        let sample = json["samples"]?.arrayValue?.first
        #expect(sample?["t"] == .string(Timestamp.format(1_796_644_810_000)))
        #expect(sample?["types"]?.objectValue?.keys == ["a", "thumbnail"])
        #expect(sample?["types"]?["thumbnail"] == [
            "pending": 3, "running": 2, "succeeded": 0, "failed": 0, "cancelled": 0, "partial_success": 0, "skipped": 0,
        ])
        // A test interval under a second is a number of seconds with a fraction.
        #expect(StatsHistory(intervalMs: 200).json(after: nil)["interval_s"] == .double(0.2))
    }
}

/// One type's counts in a sample, zero where not given.
private func counts(pending: Int = 0, running: Int = 0, succeeded: Int = 0, failed: Int = 0, cancelled: Int = 0,
                    partialSuccess: Int = 0, skipped: Int = 0) -> StatsHistory.Counts {
    StatsHistory.Counts(pending: pending, running: running, succeeded: succeeded, failed: failed, cancelled: cancelled,
                        partialSuccess: partialSuccess, skipped: skipped)
}

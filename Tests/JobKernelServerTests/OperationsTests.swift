import JobKernelCore
import Testing
@testable import JobKernelServer

/// What `stats.types` counts without reading a job (docs/promises.md §13): open jobs by type and
/// status, kept up to date with every change, and the finishes of the last minute, in one bucket
/// per second, under a clock the test moves.
@Suite struct OperationsTests {
    @Test func openCountsFollowEveryStatusChangeAndForgetTerminalOnes() {
        var ops = Operations()
        ops.countStatus(type: "a", from: nil, to: .pending)
        ops.countStatus(type: "a", from: nil, to: .scheduled)
        ops.countStatus(type: "a", from: .pending, to: .running)
        ops.countStatus(type: "a", from: .scheduled, to: .pending)
        ops.countStatus(type: "a", from: .running, to: .success)
        ops.countStatus(type: "a", from: .success, to: .pending)  // a retry
        let a = ops.openByType["a"]!
        #expect([a[.scheduled], a[.pending], a[.running], a[.success]] == [0, 2, 0, 0])
    }

    @Test(arguments: [
        // (finishes as (second, success?), asked at second, expected (success, failed))
        ([(Int64(100), true), (100, false), (101, true)], Int64(101), (2, 1)),
        ([(100, true), (159, true)], 159, (2, 0)),
        ([(100, true), (159, true)], 160, (1, 0)),  // second 100 is over a minute old
        ([(100, true), (160, false)], 160, (0, 1)),  // and its bucket was reused
        ([(100, true)], 99, (0, 0)),  // nothing from the future
        ([(100, true), (1000, true)], 1000, (1, 0)),
    ] as [([(Int64, Bool)], Int64, (Int, Int))])
    func theLastMinutesFinishesAreCountedBySecond(finishes: [(Int64, Bool)], at: Int64, expected: (Int, Int)) {
        var counter = Operations.MinuteCounter()
        for (second, ok) in finishes { counter.add(success: ok, atSecond: second) }
        let totals = counter.totals(atSecond: at)
        #expect(totals.success == expected.0 && totals.failed == expected.1)
    }

    @Test func onlySuccessAndFailedFinishesAreCounted() {
        var ops = Operations()
        for status: JobStatus in [.success, .failed, .cancelled, .skipped, .partialSuccess] {
            ops.recordFinish(type: "t", status: status, at: 5_000)
        }
        let totals = ops.recentFinishes["t"]!.totals(atSecond: 5)
        #expect(totals.success == 1 && totals.failed == 1)
    }
}

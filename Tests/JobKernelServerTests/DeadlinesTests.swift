import JobKernelCore
import Testing
@testable import JobKernelServer

/// Deadlines (retry backoffs, `run_at`, lease expiries, timeouts, schedules) come out earliest
/// first, and in the order they were added among equal times; nothing comes out early.
@Suite struct DeadlinesTests {
    @Test func dueActionsComeOutEarliestFirstThenInTheOrderAdded() {
        var d = Deadlines()
        d.add(at: 30, .lease(3))
        d.add(at: 10, .lease(1))
        d.add(at: 20, .runAt(jobID: 1))
        d.add(at: 10, .lease(2))
        d.add(at: 40, .staleCheck)
        #expect(d.earliest == 10)
        var out: [Deadline.Action] = []
        while let next = d.popDue(30) { out.append(next.action) }
        #expect(out == [.lease(1), .lease(2), .runAt(jobID: 1), .lease(3)])
        #expect(d.earliest == 40)
        #expect(d.popDue(39) == nil)
    }

    @Test(arguments: [0, 1, 7, 100, 1000])
    func aShuffledSetComesOutSorted(seed: UInt64) {
        var rng = Kernel.Xorshift(seed: seed | 1)
        var d = Deadlines()
        var added: [(Millis, Int)] = []
        for i in 0..<500 {
            let at = Millis(rng.nextUnit() * 50)
            d.add(at: at, .runAt(jobID: Int64(i)))
            added.append((at, i))
        }
        var out: [Int64] = []
        while let next = d.popDue(.max) {
            if case .runAt(let id) = next.action { out.append(id) }
        }
        // Stable: by time, then by the order of adding.
        #expect(out == added.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.map { Int64($0.1) })
    }

    @Test func removedActionsNeverComeOut() {
        var d = Deadlines()
        d.add(at: 5, .lease(10))
        d.add(at: 6, .lease(11))
        d.removeAll { $0 == .lease(10) }
        #expect(d.popDue(10)?.action == .lease(11))
        #expect(d.popDue(10) == nil)
        #expect(d.earliest == nil)
    }
}

/// After a failed commit, the deadlines the store re-arms go, and those of running work stay.
@Suite struct DeadlinesAfterAStoreFaultTests {
    @Test func undoingKeepsOnlyWhatBelongsToRunningWork() {
        var d = Deadlines()
        let kept: [Deadline.Action] = [.lease(1), .fetchTimeout(1), .runTimeout(2), .runKill(3), .workerRestart(4),
                                       .discardKill(5), .staleCheck, .progressWindowEnd(6)]
        let dropped: [Deadline.Action] = [.backoff(jobID: 1, index: 0), .runAt(jobID: 2), .schedule(0), .orphanCheck]
        for (i, a) in (kept + dropped).enumerated() { d.add(at: Millis(i), a) }
        d.undoStoredTimes()
        var out: [Deadline.Action] = []
        while let next = d.popDue(.max) { out.append(next.action) }
        #expect(out == kept)
    }

    @Test func theTimerIsReArmedOnlyForAnEarlierAction() {
        var d = Deadlines()
        d.add(at: 100, .staleCheck)
        #expect(d.timerToArm() == 100)
        d.add(at: 200, .runKill(1))
        #expect(d.timerToArm() == nil)  // armed for 100 already
        d.add(at: 50, .orphanCheck)
        #expect(d.timerToArm() == 50)
        d.timerFired()
        _ = d.popDue(50)
        #expect(d.timerToArm() == 100)
    }
}

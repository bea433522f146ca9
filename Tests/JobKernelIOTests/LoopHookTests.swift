import Testing
@testable import JobKernelIO

@Suite struct LoopHookTests {
    @Test func prepareRunsBeforePollAndCheckAfter() throws {
        let loop = try EventLoop()
        var events: [String] = []
        let prepare = LoopHook(loop: loop, phase: .prepare) { events.append("prepare") }
        let check = LoopHook(loop: loop, phase: .check) { events.append("check") }
        let timer = LoopTimer(loop: loop)
        // On a loaded machine the timer may already be due in the loop's first turn (timers run
        // before prepare): it closes the hooks only once a check has run.
        func tick() {
            events.append("timer")
            guard events.contains("check") else { return timer.start(afterMs: 5, tick) }
            prepare.close()
            check.close()
            timer.close()
        }
        timer.start(afterMs: 5, tick)
        #expect(runBounded(loop))
        #expect(events.first(where: { $0 != "timer" }) == "prepare")
        #expect(events.contains("check"))
        // Every check is preceded by a prepare in the same turn.
        let pairs = zip(events, events.dropFirst()).filter { $0.1 == "check" }
        #expect(pairs.allSatisfy { $0.0 == "prepare" })
        loop.close()
    }

    @Test func unrefHookDoesNotKeepLoopAlive() throws {
        let loop = try EventLoop()
        var runs = 0
        let hook = LoopHook(loop: loop, phase: .check) { runs += 1 }
        hook.unref()
        let timer = LoopTimer(loop: loop)
        timer.start(afterMs: 5) { timer.close() }
        #expect(runBounded(loop, timeoutMs: 2000))
        #expect(runs >= 1)
        #expect(!hook.isClosed)
        loop.close()
        #expect(hook.isClosed)
    }

    @Test func stoppedHookDoesNotRun() throws {
        let loop = try EventLoop()
        var runs = 0
        let hook = LoopHook(loop: loop, phase: .prepare) { runs += 1 }
        hook.stop()
        let timer = LoopTimer(loop: loop)
        timer.start(afterMs: 5) { timer.close() }
        #expect(runBounded(loop))
        #expect(runs == 0)
        loop.close()
    }
}

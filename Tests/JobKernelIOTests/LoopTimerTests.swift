import Testing
@testable import JobKernelIO

@Suite struct LoopTimerTests {
    @Test func timersFireInDeadlineOrder() throws {
        let loop = try EventLoop()
        var fired: [Int] = []
        for delay in [30, 10, 20, 0] {
            let timer = LoopTimer(loop: loop)
            timer.start(afterMs: UInt64(delay)) {
                fired.append(delay)
                timer.close()
            }
        }
        #expect(runBounded(loop))
        #expect(fired == [0, 10, 20, 30])
        loop.close()
    }

    @Test func repeatingTimerFiresUntilStopped() throws {
        let loop = try EventLoop()
        let timer = LoopTimer(loop: loop)
        var count = 0
        timer.start(afterMs: 1, repeatMs: 2) {
            count += 1
            if count == 5 { timer.stop() }
        }
        #expect(runBounded(loop))
        #expect(count == 5)
        #expect(!timer.isActive)
        timer.close()
        loop.close()
    }

    @Test func stoppedTimerDoesNotFire() throws {
        let loop = try EventLoop()
        let timer = LoopTimer(loop: loop)
        var fired = false
        timer.start(afterMs: 10) { fired = true }
        timer.stop()
        #expect(runBounded(loop))
        #expect(!fired)
        loop.close()
    }

    @Test func restartReplacesCallback() throws {
        let loop = try EventLoop()
        let timer = LoopTimer(loop: loop)
        var which = ""
        timer.start(afterMs: 5) { which = "first" }
        timer.start(afterMs: 5) { which = "second" }
        #expect(runBounded(loop))
        #expect(which == "second")
        loop.close()
    }
}

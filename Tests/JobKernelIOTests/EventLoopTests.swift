import Glibc
import Testing
@testable import JobKernelIO

@Suite struct EventLoopTests {
    @Test func runReturnsWhenNothingIsActive() throws {
        let loop = try EventLoop()
        #expect(runBounded(loop, timeoutMs: 2000))
        loop.close()
        #expect(loop.isClosed)
    }

    @Test func clocksAdvance() throws {
        let loop = try EventLoop()
        // The loop's cached time dates from its creation; refresh it so the timer counts from now.
        loop.updateTime()
        let start = loop.hrtimeNs
        let startMs = loop.nowMs
        let timer = LoopTimer(loop: loop)
        timer.start(afterMs: 20) { timer.close() }
        #expect(runBounded(loop))
        #expect(loop.hrtimeNs - start >= 20_000_000)
        #expect(loop.nowMs - startMs >= 20)
        loop.close()
    }

    @Test func stopEndsRun() throws {
        let loop = try EventLoop()
        let timer = LoopTimer(loop: loop)
        var ticks = 0
        timer.start(afterMs: 1, repeatMs: 1) {
            ticks += 1
            if ticks == 3 { loop.stop() }
        }
        #expect(runBounded(loop))
        #expect(ticks == 3)
        #expect(timer.isActive)
        loop.close()
        #expect(timer.isClosed)
    }

    @Test func closeClosesRemainingHandlesAndReportsStreamClose() throws {
        let loop = try EventLoop()
        let (a, b) = socketPair()
        defer { close(b) }
        let stream = try Stream(loop: loop, fd: a)
        var closed = false
        stream.onClose = { closed = true }
        stream.startReading()
        let hook = LoopHook(loop: loop, phase: .check) {}
        let timer = LoopTimer(loop: loop)
        timer.start(afterMs: 60_000) {}
        loop.close()
        #expect(closed)
        #expect(stream.isClosed && hook.isClosed && timer.isClosed)
        #expect(loop.isClosed)
    }

    @Test func ignoresSIGPIPE() throws {
        _ = try EventLoop()
        var action = sigaction()
        sigaction(SIGPIPE, nil, &action)
        // SIG_IGN is the handler value 1.
        #expect(unsafeBitCast(action.__sigaction_handler, to: Int.self) == 1)
    }
}

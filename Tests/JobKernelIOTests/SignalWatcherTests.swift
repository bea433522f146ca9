import Glibc
import Testing
@testable import JobKernelIO

@Suite struct SignalWatcherTests {
    // Signals are process-wide: this is the only test that uses SIGUSR1.
    @Test func receivesRaisedSignal() throws {
        let loop = try EventLoop()
        var received = 0
        let watcher = try SignalWatcher(loop: loop, signal: SIGUSR1) {
            received += 1
        }
        let timer = LoopTimer(loop: loop)
        timer.start(afterMs: 5) { kill(getpid(), SIGUSR1) }
        let done = LoopTimer(loop: loop)
        done.start(afterMs: 5, repeatMs: 5) {
            if received > 0 { loop.stop() }
        }
        #expect(runBounded(loop))
        #expect(received == 1)
        #expect(watcher.signal == SIGUSR1)
        loop.close()
    }
}

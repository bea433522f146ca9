import Glibc
import Testing
@testable import JobKernelIO

@Suite(.timeLimit(.minutes(1)))
struct AsyncSignalTests {
    @Test func sendFromAnotherThreadRunsTheCallbackOnTheLoopThread() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let loopThread = pthread_self()
        var calls = 0
        var onLoopThread = true
        let signal = try AsyncSignal(loop: loop) {
            calls += 1
            onLoopThread = onLoopThread && pthread_equal(pthread_self(), loopThread) != 0
            loop.stop()
        }
        defer { signal.close() }
        let sender = signal.sender
        var thread = pthread_t()
        let context = Unmanaged.passRetained(sender).toOpaque()
        pthread_create(&thread, nil, { context in
            let sender = Unmanaged<AsyncSignal.Sender>.fromOpaque(context!).takeRetainedValue()
            for _ in 0..<100 { sender.send() }
            return nil
        }, context)
        pthread_join(thread, nil)
        #expect(runBounded(loop, timeoutMs: 2000))
        // Sends coalesce: a hundred sends before the loop looked give far fewer callbacks.
        #expect(calls >= 1 && calls < 100)
        #expect(onLoopThread)
    }

    @Test func sendAfterCloseIsANoOp() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        var calls = 0
        let signal = try AsyncSignal(loop: loop) { calls += 1 }
        signal.close()
        signal.send()
        signal.sender.send()
        runBounded(loop, timeoutMs: 50)
        #expect(calls == 0)
        #expect(signal.isClosed)
    }
}

import CLibUV
import Glibc
import JobKernelIO
import Synchronization

/// Wakes the loop thread from any thread: `send()` is thread-safe and coalesces, the callback runs on the loop.
///
/// The same contract as a `uv_async_t`, built on a non-blocking self-pipe whose read end is a
/// JobKernelIO `Stream`. A raw `uv_async_t` cannot live outside JobKernelIO: the module keeps its
/// `uv_loop_t` and `LoopHandle`'s initialiser internal, and `EventLoop.close()` takes every handle's
/// `data` for a `LoopHandle`. (libuv's own async handle is an eventfd read the same way.)
///
/// Lifetime: like a `LoopHandle`, an open signal stays alive (its stream retains it through the
/// callback) and keeps the loop running until `close()`.
public final class AsyncSignal: @unchecked Sendable {
    /// The write end, which other threads may keep without keeping the loop alive.
    public final class Sender: Sendable {
        /// -1 once closed. Guarded so that `close()` cannot race a `send()` into a reused descriptor.
        private let fd: Mutex<Int32>

        init(fd: Int32) { self.fd = Mutex(fd) }

        deinit { close() }

        /// Asks for one callback on the loop thread; safe from any thread, a no-op once closed.
        public func send() {
            fd.withLock { fd in
                guard fd >= 0 else { return }
                var byte: UInt8 = 1
                // EAGAIN means the pipe is full, so a wake-up is already pending.
                _ = Glibc.write(fd, &byte, 1)
            }
        }

        func close() {
            fd.withLock { fd in
                if fd >= 0 { Glibc.close(fd) }
                fd = -1
            }
        }
    }

    /// The read end, polled by the loop.
    private let reader: Stream
    /// The write end; hand it to other threads instead of the signal itself, which holds loop objects.
    public let sender: Sender

    /// Creates the signal on `loop`; `callback` runs on the loop's thread after one or more `send()`s.
    public init(loop: EventLoop, _ callback: @escaping () -> Void) throws(UVError) {
        var fds: [uv_file] = [-1, -1]
        // Close-on-exec both, non-blocking both: `send()` must never block a libnats thread.
        let flags = Int32(UV_NONBLOCK_PIPE.rawValue)
        let status = uv_pipe(&fds, flags, flags)
        if status < 0 { throw UVError(status, "uv_pipe") }
        do {
            reader = try Stream(loop: loop, fd: fds[0])
        } catch {
            Glibc.close(fds[0])
            Glibc.close(fds[1])
            throw error
        }
        sender = Sender(fd: fds[1])
        // Bytes carry no meaning: one read of any size means "look at your queue".
        reader.onRead = { _ in callback() }
        reader.startReading()
    }

    /// Asks for one callback on the loop thread; safe from any thread, a no-op after `close()`.
    public func send() { sender.send() }

    /// True once `close()` was called.
    public var isClosed: Bool { reader.isClosed }

    /// Stops callbacks and frees both descriptors. Loop thread only; idempotent.
    public func close() {
        sender.close()
        reader.close()
    }

    /// Lets the loop exit while the signal is open.
    public func unref() { reader.unref() }
}

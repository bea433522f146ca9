import CLibUV
import Synchronization

/// A `uv_async_t`: wakes the loop thread from any thread. `send()` is thread-safe and
/// coalesces (many sends before the loop looks give one callback); the callback runs on the loop.
///
/// This is the one libuv call another thread may make. The store's writer thread uses it to hand
/// back a committed batch, and libnats's threads to hand over messages.
///
/// Lifetime: like any `LoopHandle`, an open signal keeps the loop running until `close()`.
/// Other threads hold the `Sender`, never the signal, so a late `send()` after `close()` finds
/// no handle and does nothing, instead of touching freed memory.
public final class AsyncSignal: LoopHandle {
    /// The thread-safe side, which other threads may keep for as long as they like.
    public final class Sender: Sendable {
        /// The handle while it is open; nil once the signal is closing. The lock orders a
        /// `uv_async_send` before the handle's `uv_close`, which the loop thread calls only after
        /// clearing this under the same lock.
        private let handle: Mutex<HandleAddress?>

        init(_ raw: UnsafeMutableRawPointer) { handle = Mutex(HandleAddress(raw: raw)) }

        /// Asks for one callback on the loop thread; safe from any thread, a no-op once closed.
        public func send() {
            handle.withLock { address in
                guard let address else { return }
                uv_async_send(address.raw.assumingMemoryBound(to: uv_async_t.self))
            }
        }

        func detach() { handle.withLock { $0 = nil } }
    }

    /// A handle's address as a value that may cross threads: only `uv_async_send` is called on
    /// it off the loop thread, which libuv documents as thread-safe.
    struct HandleAddress: @unchecked Sendable {
        let raw: UnsafeMutableRawPointer
    }

    /// Hand this to other threads instead of the signal itself, which holds loop objects.
    public let sender: Sender
    private var callback: (() -> Void)?

    /// Creates the signal on `loop`; `callback` runs on the loop's thread after one or more `send()`s.
    public init(loop: EventLoop, _ callback: @escaping () -> Void) throws(UVError) {
        let raw = LoopHandle.allocate(UV_ASYNC, on: loop)
        let status = uv_async_init(loop.uv, raw.assumingMemoryBound(to: uv_async_t.self)) { async in
            guard let data = async?.pointee.data else { return }
            Unmanaged<AsyncSignal>.fromOpaque(data).takeUnretainedValue().callback?()
        }
        if status < 0 {
            raw.deallocate()
            throw UVError(status, "uv_async_init")
        }
        self.callback = callback
        sender = Sender(raw)
        super.init(loop: loop, raw: raw)
    }

    /// Asks for one callback on the loop thread; safe from any thread, a no-op after `close()`.
    public func send() { sender.send() }

    override func willClose() { sender.detach() }

    override func didClose() { callback = nil }
}

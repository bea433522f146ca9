import CLibUV

/// Common shape of every libuv handle wrapper: heap-allocated handle, close-once, free in the close callback.
///
/// Lifetime: an open handle retains its wrapper (through `handle.data`) and the wrapper retains
/// its `EventLoop`; the close callback releases both. Dropping the last reference to a wrapper
/// therefore does not stop it — call `close()` (or `EventLoop.close()`).
public class LoopHandle {
    /// The loop this handle belongs to.
    public let loop: EventLoop
    /// The heap-allocated `uv_*_t`; valid until the close callback.
    let raw: UnsafeMutableRawPointer
    /// True from the moment `close()` is called.
    public private(set) var isClosed = false

    /// Allocates zeroed memory for a handle of `type`; call `uv_*_init` on it, then `init(loop:raw:)`.
    static func allocate(_ type: uv_handle_type, on loop: EventLoop) -> UnsafeMutableRawPointer {
        precondition(!loop.isClosed, "creating a handle on a closed EventLoop")
        let size = uv_handle_size(type)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        return raw
    }

    /// Closes and frees an initialised handle that never got a wrapper (e.g. a failed `uv_accept`).
    static func discard(_ raw: UnsafeMutableRawPointer) {
        let handle = raw.assumingMemoryBound(to: uv_handle_t.self)
        handle.pointee.data = nil
        uv_close(handle) { handle in
            if let handle { UnsafeMutableRawPointer(handle).deallocate() }
        }
    }

    /// Takes over an initialised handle; the handle now retains `self` until closed.
    init(loop: EventLoop, raw: UnsafeMutableRawPointer) {
        self.loop = loop
        self.raw = raw
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    /// The handle as the generic `uv_handle_t`.
    var handle: UnsafeMutablePointer<uv_handle_t> { raw.assumingMemoryBound(to: uv_handle_t.self) }

    /// Stops the handle and frees it after libuv's close callback. Idempotent.
    public func close() {
        if isClosed { return }
        isClosed = true
        willClose()
        uv_close(handle) { handle in
            guard let handle, let data = handle.pointee.data else { return }
            handle.pointee.data = nil
            let owner = Unmanaged<LoopHandle>.fromOpaque(data).takeRetainedValue()
            owner.didClose()
            UnsafeMutableRawPointer(handle).deallocate()
        }
    }

    /// Lets the loop exit while this handle is still active.
    public func unref() {
        if !isClosed { uv_unref(handle) }
    }

    /// Makes this active handle keep the loop alive again (the default).
    public func ref() {
        if !isClosed { uv_ref(handle) }
    }

    /// Called synchronously by `close()` before `uv_close`.
    func willClose() {}

    /// Called from the close callback; subclasses drop their callbacks here to break cycles.
    func didClose() {}
}

import CLibUV

/// A `uv_signal_t`: runs a callback on the loop's thread when the process receives `signal`.
public final class SignalWatcher: LoopHandle {
    /// The watched signal number.
    public let signal: Int32
    private var callback: (() -> Void)?

    /// Starts watching `signal` (e.g. `SIGTERM`); throws if libuv cannot install the handler.
    public init(loop: EventLoop, signal: Int32, _ callback: @escaping () -> Void) throws(UVError) {
        self.signal = signal
        self.callback = callback
        let raw = LoopHandle.allocate(UV_SIGNAL, on: loop)
        let status = uv_signal_init(loop.uv, raw.assumingMemoryBound(to: uv_signal_t.self))
        if status < 0 {
            raw.deallocate()
            throw UVError(status, "uv_signal_init")
        }
        super.init(loop: loop, raw: raw)
        let started = uv_signal_start(raw.assumingMemoryBound(to: uv_signal_t.self), { handle, _ in
            guard let data = handle?.pointee.data else { return }
            Unmanaged<SignalWatcher>.fromOpaque(data).takeUnretainedValue().callback?()
        }, signal)
        if started < 0 {
            close()
            throw UVError(started, "uv_signal_start(\(signal))")
        }
    }

    override func didClose() { callback = nil }
}

import CLibUV

/// A `uv_timer_t`: a one-shot or repeating callback on the loop's clock.
public final class LoopTimer: LoopHandle {
    private var callback: (() -> Void)?

    /// Creates a stopped timer on `loop`.
    public init(loop: EventLoop) {
        let raw = LoopHandle.allocate(UV_TIMER, on: loop)
        uv_timer_init(loop.uv, raw.assumingMemoryBound(to: uv_timer_t.self))
        super.init(loop: loop, raw: raw)
    }

    private var timer: UnsafeMutablePointer<uv_timer_t> { raw.assumingMemoryBound(to: uv_timer_t.self) }

    /// (Re)arms the timer: fires after `afterMs`, then every `repeatMs` if non-zero; replaces the callback.
    public func start(afterMs: UInt64, repeatMs: UInt64 = 0, _ callback: @escaping () -> Void) {
        guard !isClosed else { return }
        self.callback = callback
        uv_timer_start(timer, { timer in
            guard let data = timer?.pointee.data else { return }
            Unmanaged<LoopTimer>.fromOpaque(data).takeUnretainedValue().callback?()
        }, afterMs, repeatMs)
    }

    /// Disarms the timer; it can be started again.
    public func stop() {
        if !isClosed { uv_timer_stop(timer) }
    }

    /// True while the timer is armed.
    public var isActive: Bool { !isClosed && uv_is_active(handle) != 0 }

    override func didClose() { callback = nil }
}

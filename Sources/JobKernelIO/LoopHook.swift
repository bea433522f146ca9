import CLibUV

/// A `uv_prepare_t` (before the loop blocks for I/O) or `uv_check_t` (right after I/O) callback, run every loop turn.
public final class LoopHook: LoopHandle {
    /// When in the loop turn the hook runs.
    public enum Phase: Sendable {
        /// Just before the loop polls for I/O (`uv_prepare_t`).
        case prepare
        /// Just after the loop polled for I/O (`uv_check_t`).
        case check
    }

    /// The phase given at creation.
    public let phase: Phase
    private var callback: (() -> Void)?

    /// Creates and starts a hook; it keeps the loop alive unless `unref()` is called.
    public init(loop: EventLoop, phase: Phase, _ callback: @escaping () -> Void) {
        self.phase = phase
        self.callback = callback
        let raw: UnsafeMutableRawPointer
        switch phase {
        case .prepare:
            raw = LoopHandle.allocate(UV_PREPARE, on: loop)
            uv_prepare_init(loop.uv, raw.assumingMemoryBound(to: uv_prepare_t.self))
        case .check:
            raw = LoopHandle.allocate(UV_CHECK, on: loop)
            uv_check_init(loop.uv, raw.assumingMemoryBound(to: uv_check_t.self))
        }
        super.init(loop: loop, raw: raw)
        start()
    }

    /// Runs the callback again every turn (hooks start running at creation).
    public func start() {
        guard !isClosed else { return }
        switch phase {
        case .prepare:
            uv_prepare_start(raw.assumingMemoryBound(to: uv_prepare_t.self)) { hook in
                guard let data = hook?.pointee.data else { return }
                Unmanaged<LoopHook>.fromOpaque(data).takeUnretainedValue().callback?()
            }
        case .check:
            uv_check_start(raw.assumingMemoryBound(to: uv_check_t.self)) { hook in
                guard let data = hook?.pointee.data else { return }
                Unmanaged<LoopHook>.fromOpaque(data).takeUnretainedValue().callback?()
            }
        }
    }

    /// Pauses the hook until `start()`.
    public func stop() {
        guard !isClosed else { return }
        switch phase {
        case .prepare: uv_prepare_stop(raw.assumingMemoryBound(to: uv_prepare_t.self))
        case .check: uv_check_stop(raw.assumingMemoryBound(to: uv_check_t.self))
        }
    }

    override func didClose() { callback = nil }
}

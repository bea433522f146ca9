import JobKernelIO

/// Spreads the handling of a child's output over loop turns, so that a handler or worker that
/// logs at full speed costs other clients no more than about 1 ms (docs/promises.md §10): each turn handles
/// at most `sliceNs` of it, and the caller stops reading the child's pipes while some is left, so
/// the child waits rather than the kernel.
final class OutputPacer {
    /// How long one loop turn may spend on one child's output.
    static let sliceNs: UInt64 = 200_000

    private let loop: EventLoop
    /// Runs the continuation in the next turn's prepare phase, before that turn's commit.
    private var hook: LoopHook?
    /// A zero timer, armed while a continuation waits, so that the loop does not block in poll.
    /// (The continuation itself is not run from a timer: libuv 1.44 runs a zero timer re-armed in
    /// its own callback again at once, in the same turn.)
    private var wake: LoopTimer?
    private var continuation: (() -> Void)?

    init(loop: EventLoop) {
        self.loop = loop
    }

    /// Calls `step` until it returns false (nothing left) or the slice is spent. Returns true
    /// when nothing is left.
    func slice(_ step: () -> Bool) -> Bool {
        let start = loop.hrtimeNs
        var n = 0
        while step() {
            n += 1
            if n % 4 == 0 && loop.hrtimeNs - start > OutputPacer.sliceNs { return false }
        }
        return true
    }

    /// Calls `body` in the next loop turn (replacing a continuation already waiting).
    func nextTurn(_ body: @escaping () -> Void) {
        continuation = body
        if let hook {
            hook.start()
        } else {
            hook = LoopHook(loop: loop, phase: .prepare) { [unowned self] in self.fire() }
        }
        let wake = self.wake ?? LoopTimer(loop: loop)
        self.wake = wake
        wake.start(afterMs: 0) {}
    }

    private func fire() {
        hook?.stop()
        let body = continuation
        continuation = nil
        body?()
    }

    /// Drops a waiting continuation and frees the handles.
    func close() {
        continuation = nil
        hook?.close()
        wake?.close()
        hook = nil
        wake = nil
    }
}

import JobKernelCore
import JobKernelIO

/// A persistent worker process speaking the worker protocol on its pipes (docs/promises.md §5.2), or one
/// of the sync_api pool's workers (the kernel's own binary in a worker role).
final class WorkerProcess {
    let id: UInt64
    let poolKey: String
    let argv: [String]
    var process: Process? { didSet { if oldValue !== process { stateChanged() } } }
    var connection: Connection?
    var run: LocalRun? { didSet { if oldValue !== run { stateChanged() } } }
    var runRequestID: Int?
    /// The worker still works on a `run` whose start a failed commit undid: its answer to
    /// `runRequestID` is dropped, and only then does it take another.
    var discarding = false { didSet { if oldValue != discarding { stateChanged() } } }
    /// When the process, its run or `discarding` last changed: since when it is in the state
    /// `workers` shows (`WorkerView.State`).
    private(set) var stateSince: Millis = Kernel.wallClock()
    var restarts = 0
    var restartPending = false
    var stderrLines = LineSplitter(maxLineBytes: 65536)
    /// stderr lines read but not yet handled, oldest first from `stderrHead`. They and the
    /// messages on the worker's stdout are handled a slice per loop turn (`OutputPacer`).
    var stderrBacklog: [String] = []
    var stderrHead = 0
    var pacer: OutputPacer?

    init(id: UInt64, poolKey: String, argv: [String]) {
        self.id = id
        self.poolKey = poolKey
        self.argv = argv
    }

    private func stateChanged() { stateSince = Kernel.wallClock() }

    var isIdle: Bool { process != nil && run == nil && !discarding && !restartPending }
}

import Glibc
import JobKernelCore
import JobKernelIO

/// Why a local run is being stopped.
enum StopReason {
    case cancel, timeout, shutdown, stale
}

/// One unit, or one sync_api batch of units, running in a local pool (docs/promises.md §5.1–5.3).
final class LocalRun {
    let id: UInt64
    let jobID: Int64
    let type: TypeConfig
    /// `type`'s `LocalType.index`.
    let typeIndex: Int
    let lane: Lane
    let indices: [Int]
    var process: Process?
    var worker: WorkerProcess?
    var stdoutLines: LineSplitter
    var stderrLines: LineSplitter
    /// The last `result` an exec handler printed.
    var lastResult: JSON = .null
    /// An `error` an exec handler printed: it decides whether the failure is retryable.
    var declaredError: (error: JobError, retryable: Bool)?
    var stopping: StopReason? {
        didSet { if oldValue == nil, stopping != nil { stoppingSince = Kernel.wallClock() } }
    }
    /// When the run was created (its units' start), and when it began stopping (`workers`).
    let startedAt: Millis
    private(set) var stoppingSince: Millis?
    /// Its `run` request left before the start was committed (`Kernel.send`).
    var sentUnheld = false
    var lastHeard: Millis
    var timeoutMs: Int64?
    /// An exec handler's output lines read but not yet handled (`true`: from stderr), oldest
    /// first from `backlogHead`, handled a slice per loop turn (`OutputPacer`).
    var backlog: [(stderr: Bool, line: String)] = []
    var backlogHead = 0
    var pacer: OutputPacer?
    /// The handler's exit, held until the output read before it has been handled.
    var exited: (status: Int64, signal: Int32, at: Millis)?
    /// Ends the wait for EOF on the pipes after the handler exited.
    var graceTimer: LoopTimer?

    init(id: UInt64, jobID: Int64, type: TypeConfig, typeIndex: Int, lane: Lane, indices: [Int], now: Millis, maxLine: Int) {
        self.id = id
        self.jobID = jobID
        self.type = type
        self.typeIndex = typeIndex
        self.lane = lane
        self.indices = indices
        self.lastHeard = now
        self.startedAt = now
        self.stdoutLines = LineSplitter(maxLineBytes: maxLine)
        self.stderrLines = LineSplitter(maxLineBytes: maxLine)
    }
}

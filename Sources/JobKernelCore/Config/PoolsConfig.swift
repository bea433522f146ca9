/// `[pools]`: worker processes per local dispatch mode (`async_api` has no local pool).
public struct PoolsConfig: Equatable, Sendable {
    /// Processes of the `internal` pool; at least 1.
    public var internalWorkers: Int = 4
    /// Processes of the `sync_api` pool; at least 1.
    public var syncAPIWorkers: Int = 2
    /// The Linux scheduling policy every handler and worker process starts under.
    public var scheduling: Scheduling = .batch

    public enum Scheduling: String, CaseIterable, Sendable {
        /// SCHED_BATCH: the same share of the CPU as any process, but a job process that wakes
        /// (a `run` arrived) does not preempt what runs: the kernel's loop, an editor.
        case batch
        /// SCHED_OTHER, the default of every process: a waking job process may preempt.
        case normal
    }

    /// The documented defaults (docs/configuration.md).
    public init() {}

    /// The pool size of a dispatch mode; nil for `async_api`, whose workers are external.
    public func workers(for mode: DispatchMode) -> Int? {
        switch mode {
        case .internal: return internalWorkers
        case .syncAPI: return syncAPIWorkers
        case .asyncAPI: return nil
        }
    }
}

import JobKernelCore

/// One worker of a local pool as `workers` shows it (protocol/protocol.md): a persistent worker
/// process, or a unit in flight (an exec handler's process, a sync_api batch).
struct WorkerView: Equatable {
    /// What the pool knows of a worker.
    enum State: String {
        /// No process yet: a persistent worker waiting out its restart backoff, or an exec
        /// handler that starts once its unit's start is committed.
        case starting
        /// A persistent worker with no unit.
        case idle
        /// Running a unit.
        case busy
        /// Told to stop (a cancel, a timeout, no heartbeat, the shutdown, or a start a failed
        /// commit undid) and not gone yet.
        case stopping
    }

    var pid: Int32?
    var state: State
    /// The job of the unit it runs; nil when it runs none.
    var jobID: Int64?
    /// When it entered `state`.
    var since: Millis
}

/// A local type's workers as `workers` shows them.
struct PoolView: Equatable {
    var type: String
    var mode: DispatchMode
    /// The most units of the type that may run at once: its cap in force (`parallel`, else the
    /// config's), its mode's pool size and `max_parallel_jobs`, whichever is lowest.
    var concurrency: Int
    /// The type's workers are persistent processes of its own (a `worker` handler).
    var persistent: Bool
    /// By pid (none last), then since.
    var workers: [WorkerView]
}

extension WorkerView.State {
    /// A persistent worker's state: no process is starting; the shutdown, a stopping run or a run
    /// being discarded is stopping; a run is busy; else idle.
    static func ofWorker(hasProcess: Bool, running: Bool, runStopping: Bool, discarding: Bool, shuttingDown: Bool) -> Self {
        guard hasProcess else { return .starting }
        if shuttingDown || runStopping || discarding { return .stopping }
        return running ? .busy : .idle
    }

    /// A unit in flight without a worker of its type's own (an exec handler, a sync_api batch):
    /// no process yet is starting, else busy until it is told to stop.
    static func ofRun(hasProcess: Bool, stopping: Bool) -> Self {
        guard hasProcess else { return .starting }
        return stopping ? .stopping : .busy
    }
}

extension LocalPools {
    /// Every local type with its workers now (`workers`, protocol/protocol.md), by type name.
    func snapshot(pools: PoolsConfig, pipeline: PipelineConfig, shuttingDown: Bool) -> [PoolView] {
        var runsByType: [Int: [LocalRun]] = [:]
        for run in runs.all { runsByType[run.typeIndex, default: []].append(run) }
        return types.map { local in
            let persistent: Bool
            if case .worker = local.config.handler { persistent = true } else { persistent = false }
            let views: [WorkerView]
            if persistent, let pool = local.pool {
                views = (workers[pool.key] ?? []).map { w in
                    let state = WorkerView.State.ofWorker(
                        hasProcess: w.process != nil, running: w.run != nil, runStopping: w.run?.stopping != nil,
                        discarding: w.discarding, shuttingDown: shuttingDown)
                    let since = switch state {
                    case .busy: w.run?.startedAt ?? w.stateSince
                    case .stopping: w.run?.stoppingSince ?? w.stateSince
                    case .starting, .idle: w.stateSince
                    }
                    return WorkerView(pid: w.process?.pid, state: state, jobID: w.run?.jobID, since: since)
                }
            } else {
                views = (runsByType[local.index] ?? []).map { run in
                    // An exec handler's own process, or the sync_api pool's worker posting the batch.
                    let pid = run.process?.pid ?? run.worker?.process?.pid
                    let state = WorkerView.State.ofRun(hasProcess: pid != nil, stopping: run.stopping != nil)
                    let since = state == .stopping ? run.stoppingSince ?? run.startedAt : run.startedAt
                    return WorkerView(pid: pid, state: state, jobID: run.jobID, since: since)
                }
            }
            let cap = min(caps[local.index] ?? .max, pools.workers(for: local.config.mode) ?? .max, pipeline.maxParallelJobs)
            return PoolView(type: local.name, mode: local.config.mode, concurrency: cap, persistent: persistent,
                            workers: views.sorted(by: LocalPools.byPidThenSince))
        }
    }

    private static func byPidThenSince(_ a: WorkerView, _ b: WorkerView) -> Bool {
        (a.pid ?? .max, a.since, a.jobID ?? 0) < (b.pid ?? .max, b.since, b.jobID ?? 0)
    }
}

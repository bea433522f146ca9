import JobKernelCore

/// The runs in the local pools (docs/promises.md §5.1–5.3): by id, by job, and the load they make, counted
/// as runs start and end, so that choosing the next run (`Kernel.pumpLocal`, docs/promises.md §8.1) counts
/// nothing.
struct LocalRuns {
    private var byID: [UInt64: LocalRun] = [:]
    private var byJob: [Int64: FewIDs<UInt64>] = [:]
    /// Runs in all, and those in the normal lane.
    private(set) var running = 0
    private(set) var normal = 0
    /// By `LocalType.index`.
    private var byType: [Int]
    private var internalRuns = 0
    private var syncAPIRuns = 0

    init(typeCount: Int) {
        byType = Array(repeating: 0, count: typeCount)
    }

    subscript(id: UInt64) -> LocalRun? { byID[id] }
    var all: Dictionary<UInt64, LocalRun>.Values { byID.values }
    var isEmpty: Bool { byID.isEmpty }

    mutating func add(_ run: LocalRun) {
        byID[run.id] = run
        if byJob[run.jobID]?.insert(run.id) == nil { byJob[run.jobID] = FewIDs(run.id) }
        count(run, 1)
    }

    /// Forgets run `id`; returns it if it was there.
    @discardableResult
    mutating func remove(_ id: UInt64) -> LocalRun? {
        guard let run = byID.removeValue(forKey: id) else { return nil }
        if byJob[run.jobID]?.remove(id) == true { byJob[run.jobID] = nil }
        count(run, -1)
        return run
    }

    private mutating func count(_ run: LocalRun, _ delta: Int) {
        running += delta
        if run.lane == .normal { normal += delta }
        byType[run.typeIndex] += delta
        switch run.type.mode {
        case .internal: internalRuns += delta
        case .syncAPI: syncAPIRuns += delta
        case .asyncAPI: break
        }
    }

    /// The runs of job `jobID`.
    func runs(ofJob jobID: Int64) -> [LocalRun] { byJob[jobID]?.all.compactMap { byID[$0] } ?? [] }
    func hasRuns(ofJob jobID: Int64) -> Bool { byJob[jobID] != nil }

    func running(_ type: LocalType) -> Int { byType[type.index] }

    /// Whether any unit may start: fewer than `max_parallel_jobs` run (docs/promises.md §8.1).
    func hasFreeSlot(_ pipeline: PipelineConfig) -> Bool { running < pipeline.maxParallelJobs }

    /// Whether a unit of `type` with `priority` may start now, as far as slots go: a slot is free,
    /// and a normal-lane unit leaves the `priority_lane_slots` to the priority lane; the type
    /// runs fewer than `cap`, its concurrency in force (`LocalPools.caps`: a `parallel` override
    /// or the config's `concurrency`); its mode's pool has a process to spare
    /// (docs/promises.md §8.1). Whether a persistent worker is idle is the pool's to say.
    func admits(_ type: LocalType, cap: Int?, priority: Int, pipeline p: PipelineConfig, pools: PoolsConfig) -> Bool {
        guard hasFreeSlot(p) else { return false }
        if let cap, running(type) >= cap { return false }
        if running(mode: type.config.mode) >= (pools.workers(for: type.config.mode) ?? 0) { return false }
        if Lane(priority: priority, threshold: p.priorityThreshold) == .normal,
           normal >= p.maxParallelJobs - p.priorityLaneSlots { return false }
        return true
    }

    func running(mode: DispatchMode) -> Int {
        switch mode {
        case .internal: internalRuns
        case .syncAPI: syncAPIRuns
        case .asyncAPI: 0
        }
    }
}

/// A type the kernel runs itself (internal or sync_api), with what choosing its runs needs,
/// fixed when the kernel starts.
struct LocalType {
    let config: TypeConfig
    /// Its place among the kernel's local types.
    let index: Int
    /// Its pool of persistent workers, if it uses one: the key workers are filed under, the
    /// command and the most processes.
    let pool: (key: String, argv: [String], size: Int)?

    var name: String { config.name }

    init(_ type: TypeConfig, index: Int, pools: PoolsConfig, selfExecutable: String) {
        config = type
        self.index = index
        switch type.handler {
        case .worker(let argv):
            let size = min(type.concurrency ?? pools.internalWorkers, pools.internalWorkers)
            pool = ("type:" + type.name, argv, max(1, size))
        case .endpoint:
            pool = ("sync_api", [selfExecutable, "worker", "sync-api"], max(1, pools.syncAPIWorkers))
        default:
            pool = nil
        }
    }
}

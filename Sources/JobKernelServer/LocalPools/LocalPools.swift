import JobKernelCore

/// The local pools (docs/promises.md §5.1–5.3): the types the kernel runs itself, the runs
/// under way, the persistent workers by pool, and the ids they are given.
struct LocalPools {
    /// Types the kernel runs itself (internal and sync_api), by name; fixed at start-up.
    let types: [LocalType]
    /// The runs under way, and the slots they take.
    var runs: LocalRuns
    /// Each local type's concurrency in force, by `LocalType.index`: the `parallel` override
    /// (setting `concurrency.<type>`) or the config's `concurrency`; nil is no cap of its own.
    /// An array, so that choosing a run looks nothing up by name.
    private(set) var caps: [Int?]
    /// Persistent workers by pool key (`LocalType.pool`).
    var workers: [String: [WorkerProcess]] = [:]
    /// The supervisor every process is spawned through (nil when it is missing: then a process
    /// may outlive a killed kernel).
    let supervisorPath: String?
    private var lastRunID: UInt64 = 0
    private var lastWorkerID: UInt64 = 0
    private var lastRequestID = 0

    /// `selfExecutable`: this binary, which the sync_api pool's workers run in a worker role.
    init(_ config: KernelConfig, selfExecutable: String, supervisorPath: String?) {
        self.supervisorPath = supervisorPath
        types = config.types.values.filter { $0.mode != .asyncAPI }.sorted { $0.name < $1.name }
            .enumerated().map { LocalType($1, index: $0, pools: config.pools, selfExecutable: selfExecutable) }
        runs = LocalRuns(typeCount: types.count)
        caps = types.map(\.config.concurrency)
    }

    /// Sets `type`'s concurrency in force: `override`, or the config's value when nil.
    mutating func setCap(type name: String, override: Int?) {
        guard let i = types.firstIndex(where: { $0.name == name }) else { return }
        caps[i] = override ?? types[i].config.concurrency
    }

    /// How many persistent workers `local`'s pool may have: a pool of its own follows the
    /// concurrency in force (up to `internal_workers`); the shared sync_api pool keeps its size.
    func poolSize(_ local: LocalType, pools: PoolsConfig) -> Int {
        guard let pool = local.pool else { return 0 }
        guard case .worker = local.config.handler else { return pool.size }
        return max(1, min(caps[local.index] ?? pools.internalWorkers, pools.internalWorkers))
    }

    var typeNames: [String] { types.map(\.name) }

    /// An id for a new run.
    mutating func newRunID() -> UInt64 {
        lastRunID += 1
        return lastRunID
    }

    /// An id for a new worker process.
    mutating func newWorkerID() -> UInt64 {
        lastWorkerID += 1
        return lastWorkerID
    }

    /// The id of the next `run` request sent to a worker.
    mutating func newRequestID() -> Int {
        lastRequestID += 1
        return lastRequestID
    }

    /// The turns that started the runs `ids` failed to commit: those runs never were. A worker
    /// that was sent a `run` ahead of the commit must be told to drop it: those are returned.
    mutating func undo(started ids: [UInt64]) -> [(LocalRun, WorkerProcess)] {
        var toDiscard: [(LocalRun, WorkerProcess)] = []
        for id in ids {
            guard let run = runs.remove(id), let worker = run.worker, worker.run === run else { continue }
            worker.run = nil
            if run.sentUnheld {
                toDiscard.append((run, worker))
            } else {
                worker.runRequestID = nil
                worker.connection?.currentJobID = nil
            }
        }
        return toDiscard
    }

    /// No run is under way and no worker process is left.
    var isIdle: Bool {
        runs.isEmpty && workers.values.allSatisfy { $0.allSatisfy { $0.process == nil } }
    }
}

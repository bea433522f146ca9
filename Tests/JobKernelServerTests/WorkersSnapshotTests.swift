import JobKernelCore
import Testing
@testable import JobKernelServer

/// What `workers` shows (protocol/protocol.md): every local type with its effective concurrency and
/// its workers (persistent processes, or units in flight) in one of four states, since when, sorted;
/// and the broker's leases soonest to expire first.
@Suite struct WorkersSnapshotTests {
    typealias State = WorkerView.State

    @Test(arguments: [
        // (has a process, has a run, the run is stopping, discarding, shutting down, state)
        (false, false, false, false, false, State.starting),
        (false, true, false, false, false, .starting),  // exited mid-run: restarting
        (true, false, false, false, false, .idle),
        (true, true, false, false, false, .busy),
        (true, true, true, false, false, .stopping),
        (true, false, false, true, false, .stopping),  // a start a failed commit undid
        (true, false, false, false, true, .stopping),
        (true, true, false, false, true, .stopping),
    ] as [(Bool, Bool, Bool, Bool, Bool, State)])
    func aPersistentWorkersState(hasProcess: Bool, running: Bool, runStopping: Bool, discarding: Bool,
                                 shuttingDown: Bool, expected: State) {
        #expect(State.ofWorker(hasProcess: hasProcess, running: running, runStopping: runStopping,
                               discarding: discarding, shuttingDown: shuttingDown) == expected)
    }

    @Test(arguments: [
        (false, false, State.starting),  // an exec handler spawns once its start is committed
        (false, true, .starting),
        (true, false, .busy),
        (true, true, .stopping),
    ] as [(Bool, Bool, State)])
    func aUnitInFlightsState(hasProcess: Bool, stopping: Bool, expected: State) {
        #expect(State.ofRun(hasProcess: hasProcess, stopping: stopping) == expected)
    }

    static func config() -> KernelConfig {
        var c = KernelConfig()
        c.pools.internalWorkers = 3
        c.pools.syncAPIWorkers = 2
        c.pipeline.maxParallelJobs = 4
        var py = TypeConfig(name: "py", mode: .internal, handler: .worker(["python3", "w.py"]))
        py.concurrency = 2
        for t in [TypeConfig(name: "sh", mode: .internal, handler: .command(["sh", "-c"])), py,
                  TypeConfig(name: "api", mode: .syncAPI, handler: .endpoint("http://127.0.0.1:1/")),
                  TypeConfig(name: "remote", mode: .asyncAPI, handler: .external)] {
            c.types[t.name] = t
        }
        return c
    }

    static func run(_ pools: LocalPools, id: UInt64, job: Int64, type: String, at now: Millis) -> LocalRun {
        let local = pools.types.first { $0.name == type }!
        return LocalRun(id: id, jobID: job, type: local.config, typeIndex: local.index, lane: .normal, indices: [0],
                        now: now, maxLine: 1024)
    }

    @Test func everyLocalTypeIsShownByNameWithItsConcurrencyInForceAndItsWorkers() throws {
        let config = Self.config()
        var pools = LocalPools(config, selfExecutable: "/bin/jobkernel", supervisorPath: nil)
        pools.setCap(type: "sh", override: 1)
        // Two units of sh in flight, their processes not spawned yet; one of api.
        pools.runs.add(Self.run(pools, id: 1, job: 7, type: "sh", at: 2_000))
        pools.runs.add(Self.run(pools, id: 2, job: 5, type: "sh", at: 1_000))
        pools.runs.add(Self.run(pools, id: 3, job: 9, type: "api", at: 3_000))
        // A persistent worker waiting out its restart backoff.
        let worker = WorkerProcess(id: 1, poolKey: "type:py", argv: ["python3", "w.py"])
        pools.workers["type:py", default: []].append(worker)

        let snapshot = pools.snapshot(pools: config.pools, pipeline: config.pipeline, shuttingDown: false)
        // async_api types have no local pool.
        #expect(snapshot.map(\.type) == ["api", "command", "py", "sh"])
        let byType = Dictionary(uniqueKeysWithValues: snapshot.map { ($0.type, $0) })
        // The lowest of the cap in force (parallel, else config), the mode's pool and max_parallel_jobs.
        #expect(byType.mapValues(\.concurrency) == ["api": 2, "command": 3, "py": 2, "sh": 1])
        #expect(byType.mapValues(\.persistent) == ["api": false, "command": false, "py": true, "sh": false])
        #expect(byType["api"]?.mode == .syncAPI && byType["sh"]?.mode == .internal)
        // Units in flight, by pid (none yet) then since.
        #expect(byType["sh"]?.workers == [
            WorkerView(pid: nil, state: .starting, jobID: 5, since: 1_000),
            WorkerView(pid: nil, state: .starting, jobID: 7, since: 2_000),
        ])
        #expect(byType["api"]?.workers == [WorkerView(pid: nil, state: .starting, jobID: 9, since: 3_000)])
        #expect(byType["command"]?.workers == [])
        #expect(byType["py"]?.workers == [WorkerView(pid: nil, state: .starting, jobID: nil, since: worker.stateSince)])
    }

    @Test func aUnitsEndTakesItOffItsPool() {
        let config = Self.config()
        var pools = LocalPools(config, selfExecutable: "/bin/jobkernel", supervisorPath: nil)
        pools.runs.add(Self.run(pools, id: 1, job: 7, type: "sh", at: 2_000))
        pools.runs.remove(1)
        let sh = pools.snapshot(pools: config.pools, pipeline: config.pipeline, shuttingDown: false).first { $0.type == "sh" }
        #expect(sh?.workers == [])
    }

    @Test func theBrokersLeasesSoonestToExpireFirst() {
        var b = Broker(leasePrefix: "t")
        for (id, expiry) in [(LeaseID(2), Millis(3_000)), (1, 1_000), (3, 3_000), (0, 2_000)] {
            b.granted(Lease(id: id, jobID: 1, type: "remote", index: 0, connectionID: 7, expiresAt: expiry, durationMs: 1_000))
        }
        #expect(b.snapshot().map(\.id) == [1, 0, 2, 3])
        b.released(0)
        #expect(b.snapshot().map(\.id) == [1, 2, 3])
    }
}

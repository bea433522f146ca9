import JobKernelCore
import Testing
@testable import JobKernelServer

/// Lanes, priorities and caps (docs/promises.md §8.1): at most `max_parallel_jobs` units run in
/// the local pools, `priority_lane_slots` of them only for the priority lane; a type's
/// `concurrency` and its mode's pool size cap it; within a queue the best unit is the highest
/// priority, then the oldest job, then the lowest item.
@Suite struct LanesTests {
    static let pools: PoolsConfig = {
        var p = PoolsConfig()
        p.internalWorkers = 3
        p.syncAPIWorkers = 1
        return p
    }()

    static func pipeline(max: Int = 4, prioritySlots: Int = 1, threshold: Int = 90) -> PipelineConfig {
        var p = PipelineConfig()
        p.maxParallelJobs = max
        p.priorityLaneSlots = prioritySlots
        p.priorityThreshold = threshold
        return p
    }

    static func type(_ name: String, index: Int, mode: DispatchMode = .internal, concurrency: Int? = nil) -> LocalType {
        var t = TypeConfig(name: name, mode: mode, handler: mode == .syncAPI ? .endpoint("http://127.0.0.1:1/") : .command(["true"]))
        t.concurrency = concurrency
        return LocalType(t, index: index, pools: pools, selfExecutable: "/bin/jobkernel")
    }

    static let a = type("a", index: 0)
    static let b = type("b", index: 1, concurrency: 1)
    static let s = type("s", index: 2, mode: .syncAPI)

    /// Local runs of `types`, each in the lane its priority puts it in.
    static func runs(_ started: [(LocalType, Int)], threshold: Int = 90) -> LocalRuns {
        var runs = LocalRuns(typeCount: 3)
        for (i, (type, priority)) in started.enumerated() {
            runs.add(LocalRun(id: UInt64(i + 1), jobID: Int64(i + 1), type: type.config, typeIndex: type.index,
                              lane: Lane(priority: priority, threshold: threshold), indices: [0], now: 0, maxLine: 1024))
        }
        return runs
    }

    @Test(arguments: [
        // (running (type, priority), candidate, its priority, admitted)
        ([], "a", 50, true),
        // Three normal units fill the normal lane of 4 − 1: a fourth normal one waits…
        ([("a", 50), ("a", 50), ("a", 50)], "a", 50, false),
        // …while a priority-lane one takes the kept slot — but not from the internal pool of 3.
        ([("a", 50), ("a", 50), ("s", 50)], "a", 95, true),
        ([("a", 50), ("a", 50), ("a", 50)], "a", 95, false),
        // A priority unit may use a normal slot too: the lane keeps slots, it does not confine.
        ([("a", 95), ("a", 95), ("s", 95)], "a", 95, true),
        // At max_parallel_jobs nothing starts, whatever its lane.
        ([("a", 95), ("a", 95), ("a", 95), ("s", 95)], "s", 95, false),
        // A type's concurrency caps it; others go on.
        ([("b", 50)], "b", 50, false),
        ([("b", 50)], "a", 50, true),
        // The sync_api pool has one worker.
        ([("s", 50)], "s", 95, false),
        ([("s", 50)], "a", 50, true),
        // priority_threshold is inclusive.
        ([("a", 50), ("a", 50), ("s", 50)], "a", 90, true),
        ([("a", 50), ("a", 50), ("s", 50)], "a", 89, false),
    ] as [([(String, Int)], String, Int, Bool)])
    func aUnitStartsOnlyWhereItsLaneTypeAndPoolHaveRoom(running: [(String, Int)], candidate: String, priority: Int, admitted: Bool) {
        let byName = ["a": Self.a, "b": Self.b, "s": Self.s]
        let runs = Self.runs(running.map { (byName[$0.0]!, $0.1) })
        let type = byName[candidate]!
        #expect(runs.admits(type, cap: type.config.concurrency, priority: priority, pipeline: Self.pipeline(), pools: Self.pools) == admitted)
    }

    @Test(arguments: [
        // (running (type, priority), candidate, the cap in force (`parallel` or config), admitted)
        // `parallel b 2` lifts b's configured cap of 1…
        ([("b", 50)], "b", 2, true),
        ([("b", 50), ("b", 50)], "b", 2, false),
        // …`parallel a 1` caps a type the config leaves uncapped…
        ([("a", 50)], "a", 1, false),
        ([("b", 50)], "a", 1, true),
        // …and no cap lets the lanes and pools alone decide.
        ([("b", 50)], "b", nil, true),
        ([("a", 50), ("a", 50), ("a", 50)], "a", nil, false),
        // A cap above the slots changes nothing: max_parallel_jobs still holds.
        ([("a", 95), ("a", 95), ("a", 95), ("s", 95)], "a", 10_000, false),
    ] as [([(String, Int)], String, Int?, Bool)])
    func theConcurrencyInForceCapsItsType(running: [(String, Int)], candidate: String, cap: Int?, admitted: Bool) {
        let byName = ["a": Self.a, "b": Self.b, "s": Self.s]
        let runs = Self.runs(running.map { (byName[$0.0]!, $0.1) })
        #expect(runs.admits(byName[candidate]!, cap: cap, priority: 50, pipeline: Self.pipeline(), pools: Self.pools) == admitted)
    }

    @Test func parallelOverridesTheConfigsConcurrencyAndNullReturnsToIt() {
        var t = TypeConfig(name: "w", mode: .internal, handler: .worker(["w"]))
        t.concurrency = 2
        var config = KernelConfig()
        config.pools = Self.pools
        config.types = ["w": t, "a": Self.a.config]
        var pools = LocalPools(config, selfExecutable: "/bin/jobkernel", supervisorPath: nil)
        let w = pools.types.first { $0.name == "w" }!
        #expect(pools.caps[w.index] == 2 && pools.poolSize(w, pools: Self.pools) == 2)
        pools.setCap(type: "w", override: 1)
        #expect(pools.caps[w.index] == 1 && pools.poolSize(w, pools: Self.pools) == 1)
        // A persistent-worker pool grows with the cap, up to internal_workers.
        pools.setCap(type: "w", override: 50)
        #expect(pools.caps[w.index] == 50 && pools.poolSize(w, pools: Self.pools) == 3)
        pools.setCap(type: "w", override: nil)
        #expect(pools.caps[w.index] == 2)
        pools.setCap(type: "a", override: 5)
        #expect(pools.caps[pools.types.first { $0.name == "a" }!.index] == 5)
    }

    @Test func withNoKeptSlotTheNormalLaneMayFillEverySlot() {
        let runs = Self.runs([(Self.a, 1), (Self.s, 1), (Self.a, 1)])
        #expect(runs.admits(Self.a, cap: nil, priority: 1, pipeline: Self.pipeline(prioritySlots: 0), pools: Self.pools))
        #expect(!runs.admits(Self.a, cap: nil, priority: 1, pipeline: Self.pipeline(prioritySlots: 1), pools: Self.pools))
    }

    @Test func endingARunFreesItsSlotLaneAndTypeCount() {
        var runs = Self.runs([(Self.b, 50), (Self.a, 50), (Self.a, 50)])
        #expect(!runs.admits(Self.b, cap: 1, priority: 50, pipeline: Self.pipeline(), pools: Self.pools))
        runs.remove(1)
        #expect(runs.running == 2 && runs.normal == 2)
        #expect(runs.running(Self.b) == 0)
        #expect(runs.admits(Self.b, cap: 1, priority: 50, pipeline: Self.pipeline(), pools: Self.pools))
    }

    @Test(arguments: [
        // Higher priority first, then the older job, then the lower item.
        ((50, 2, 0), (10, 1, 0)),
        ((50, 1, 0), (50, 2, 0)),
        ((50, 1, 0), (50, 1, 1)),
    ] as [((Int, Int64, Int), (Int, Int64, Int))])
    func theBestUnitComesOutFirst(first: (Int, Int64, Int), second: (Int, Int64, Int)) {
        var queues = UnitQueues()
        queues.push(type: "a", QueuedUnit(priority: second.0, jobID: second.1, index: second.2))
        queues.push(type: "a", QueuedUnit(priority: first.0, jobID: first.1, index: first.2))
        let head = queues.popMax(type: "a")
        #expect(head.map { [$0.priority, Int($0.jobID), $0.index] } == [first.0, Int(first.1), first.2])
    }
}

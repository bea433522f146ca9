import Glibc
import Testing
import JobKernelCore
@testable import JobKernelStore

/// docs/promises.md §13 in the store: per-item results, removal with its idempotency keys and ids, finding
/// finished jobs by age, incremental vacuum, and dependency edges.
struct JobStoreOperationsTests {
    static func open() throws -> JobStore {
        try JobStore(path: JobStoreTests.tempPath(), durability: .normal)
    }

    /// Inserts a job and ends it in `status` at `finishedAt`.
    static func finished(_ store: JobStore, _ status: JobStatus = .success, finishedAt: Millis = 5000, type: String = "t",
                         key: String? = nil, payloadBytes: Int = 10) throws -> Job {
        var job = Job(id: 0, type: type, dispatchMode: "internal", status: .pending, priority: 50, lane: .normal,
                      payload: ["p": .string(String(repeating: "x", count: payloadBytes))], createdBy: "me",
                      idempotencyKey: key, maxAttempts: 3, itemized: false, units: UnitCounts(pending: 1),
                      createdAt: 1000, updatedAt: 1000)
        try store.insert(&job, items: nil, request: key == nil ? nil : "r")
        job.status = status
        job.finishedAt = finishedAt
        job.units = UnitCounts(success: 1)
        try store.update(job)
        return job
    }

    @Test func aNewDatabaseIsIncrementalAndAtTheCurrentSchema() throws {
        let store = try Self.open()
        #expect(try store.db.scalar("PRAGMA auto_vacuum") == 2)
        #expect(try store.db.scalar("PRAGMA user_version") == Int64(Schema.version))
        #expect(Schema.migrations.count == Schema.version)
    }

    @Test func itemsPageByIndexAndFilterByStatus() throws {
        let store = try Self.open()
        var job = JobStoreTests.newJob(items: 5)
        try store.insert(&job, items: [10, 11, 12, 13, 14], request: nil)
        var u = try #require(try store.unit(jobID: job.id, index: 3))
        u.status = .failed
        u.attempt = 2
        u.error = JobError(message: "bad")
        u.startedAt = 100
        u.finishedAt = 200
        try store.update(u)
        #expect(try store.items(jobID: job.id, status: nil, since: -1, limit: 2).map(\.index) == [0, 1])
        #expect(try store.items(jobID: job.id, status: nil, since: 1, limit: 10).map(\.index) == [2, 3, 4])
        let failed = try store.items(jobID: job.id, status: .failed, since: -1, limit: 10)
        #expect(failed.map(\.index) == [3] && failed[0].value == 13 && failed[0].attempt == 2)
        #expect(failed[0].error?.message == "bad" && failed[0].startedAt == 100 && failed[0].finishedAt == 200)
    }

    @Test func removalFreesTheKeyAndNeverGivesTheIdAgainEvenAfterReopening() throws {
        let path = JobStoreTests.tempPath()
        do {
            let store = try JobStore(path: path, durability: .normal)
            let a = try Self.finished(store, key: "k")
            let b = try Self.finished(store)
            try store.remove(jobIDs: [b.id])
            try store.commit()
            #expect(try store.job(id: b.id) == nil)
            #expect(try store.units(jobID: b.id, status: .success).isEmpty)
            #expect(try store.job(createdBy: "me", idempotencyKey: "k")?.0.id == a.id)
            try store.remove(jobIDs: [a.id])
            try store.commit()
            #expect(try store.job(createdBy: "me", idempotencyKey: "k") == nil)
        }
        // The kernel numbers jobs from maxJobID() + 1: ids 1 and 2 were given and removed.
        let store = try JobStore(path: path, durability: .normal)
        #expect(try store.maxJobID() == 2)
        var next = JobStoreTests.newJob(key: "k")
        next.id = try store.maxJobID() + 1
        try store.insert(&next, items: nil, request: "r2")
        #expect(next.id == 3)
        #expect(try store.maxJobID() == 3)
    }

    @Test func finishedJobsAreFoundOldestFinishFirstWithFilters() throws {
        let store = try Self.open()
        let old = try Self.finished(store, finishedAt: 1000)
        let failed = try Self.finished(store, .failed, finishedAt: 2000)
        let other = try Self.finished(store, finishedAt: 3000, type: "u")
        _ = try Self.finished(store, finishedAt: 9000)
        var open = JobStoreTests.newJob()
        try store.insert(&open, items: nil, request: nil)
        #expect(try store.finishedJobs(statuses: nil, types: nil, finishedBefore: 5000, limit: 10).map(\.id)
                == [old.id, failed.id, other.id])
        #expect(try store.finishedJobs(statuses: [.failed], types: nil, finishedBefore: nil, limit: 10).map(\.id) == [failed.id])
        #expect(try store.finishedJobs(statuses: nil, types: ["u"], finishedBefore: nil, limit: 10).map(\.id) == [other.id])
        #expect(try store.finishedJobs(statuses: [.pending], types: nil, finishedBefore: nil, limit: 10).isEmpty)
        #expect(try store.finishedJobs(statuses: nil, types: nil, finishedBefore: nil, limit: 2).count == 2)
    }

    @Test func incrementalVacuumGivesFreedPagesBack() throws {
        let store = try Self.open()
        var ids: [Int64] = []
        for _ in 0..<200 { ids.append(try Self.finished(store, payloadBytes: 8000).id) }
        try store.commit()
        try store.remove(jobIDs: ids)
        try store.commit()
        let free = try store.freePages()
        #expect(free > 100)
        let pages = try #require(try store.db.scalar("PRAGMA page_count"))
        try store.incrementalVacuum(pages: 100)
        try store.commit()
        #expect(try store.freePages() == free - 100)
        #expect(try store.db.scalar("PRAGMA page_count") == pages - 100)
    }

    @Test func dependencyEdgesResolve() throws {
        let store = try Self.open()
        try store.addDependency(jobID: 5, afterID: 1)
        try store.addDependency(jobID: 5, afterID: 2)
        try store.addDependency(jobID: 6, afterID: 1)
        #expect(try store.hasDependencies())
        #expect(try store.dependents(of: 1) == [5, 6])
        #expect(try store.unresolvedDependencies(of: 5) == 2)
        try store.resolveDependency(afterID: 1)
        #expect(try store.unresolvedDependencies(of: 5) == 1 && store.unresolvedDependencies(of: 6) == 0)
        try store.dropDependencies(of: 5)
        #expect(try !store.hasDependencies())
    }
}

/// Schema 4: the one unit of a job without items lives in its job's row; every unit query
/// finds it there, and a job with items keeps its units in `units`.
struct JobStoreLeanUnitTests {
    @Test func aJobWithoutItemsIsOneRowAndItsUnitIsFoundInIt() throws {
        let store = try JobStoreOperationsTests.open()
        var plain = JobStoreTests.newJob(items: nil)
        try store.insert(&plain, items: nil, request: nil)
        var itemized = JobStoreTests.newJob(items: 2)
        try store.insert(&itemized, items: [nil, 7], request: nil)
        #expect(try store.db.scalar("SELECT count(*) FROM units WHERE job_id=?", [.int(plain.id)]) == 0)
        #expect(try store.db.scalar("SELECT count(*) FROM units WHERE job_id=?", [.int(itemized.id)]) == 2)

        var unit = try #require(try store.unit(jobID: plain.id, index: 0))
        #expect(unit.status == .pending && unit.attempt == 0 && unit.value == .null)
        // Item 0 of a job with items (its value null too) is its own row.
        #expect(try store.unit(jobID: itemized.id, index: 0)?.status == .pending)

        // The job and its unit change in one statement.
        unit.status = .running
        unit.attempt = 1
        unit.startedAt = 1500
        plain.status = .running
        plain.units = UnitCounts(running: 1)
        try store.update(plain, unit: unit)
        #expect(try store.job(id: plain.id)?.status == .running)
        #expect(try store.unit(jobID: plain.id, index: 0) == unit)
        #expect(try store.units(jobID: nil, status: .running).map(\.jobID) == [plain.id])
        #expect(try store.units(jobID: plain.id, status: .running) == [unit])
        #expect(try store.units(jobID: itemized.id, status: .pending).map(\.index) == [0, 1])

        // A unit written on its own lands in its job's row as well.
        unit.status = .failed
        unit.error = JobError(message: "no")
        unit.finishedAt = 1600
        try store.update(unit)
        #expect(try store.items(jobID: plain.id, status: .failed, since: -1, limit: 10) == [unit])
        #expect(try store.items(jobID: plain.id, status: .success, since: -1, limit: 10).isEmpty)
        #expect(try store.items(jobID: plain.id, status: nil, since: 0, limit: 10).isEmpty)

        // Retry resets it, cancel ends it.
        let reset = try store.resetUnsucceededUnits(jobID: plain.id)
        #expect(reset.map(\.index) == [0] && reset[0].from == .failed)
        let pending = try #require(try store.unit(jobID: plain.id, index: 0))
        #expect(pending.status == .pending && pending.attempt == 0 && pending.error == nil && pending.startedAt == nil)
        #expect(try store.cancelPendingUnits(jobID: plain.id) == [0])
        let cancelled = try #require(try store.unit(jobID: plain.id, index: 0))
        #expect(cancelled.status == .cancelled && cancelled.error?.message == "cancelled")
        #expect(try store.cancelPendingUnits(jobID: itemized.id) == [0, 1])
    }
}

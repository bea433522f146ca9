import Testing
import JobKernelCore
@testable import JobKernelStore

/// A batch drops a row write that a later one of the same row makes redundant, and folds the writes
/// of a new job's row into its insert, and only then: what is committed is what the writes in order
/// would have left.
struct WriteBatchTests {
    /// A stored job (with `items` items, or none) and its unit 0, as read back.
    static func stored(_ store: JobStore, items: Int? = nil) throws -> (Job, WorkUnit) {
        var job = JobStoreTests.newJob(items: items)
        try store.insert(&job, items: items.map { (0..<$0).map { JSON.int($0) } }, request: nil)
        try store.commit()
        return (job, try #require(try store.unit(jobID: job.id, index: 0)))
    }

    /// Moves the job and its unit to `status` and adds the write of their row to `batch`.
    static func move(_ job: inout Job, _ unit: inout WorkUnit, to status: JobStatus, in batch: inout WriteBatch) {
        job.status = status
        unit.status = status == .running ? .running : .success
        batch.appendUpdate(job, unit: unit)
    }

    static func run(_ batch: inout WriteBatch, on store: JobStore) throws {
        for write in batch.take() { try write(store) }
        try store.commit()
    }

    @Test("a job started and finished in one batch: one row write, the finished state committed")
    func startThenFinishWritesTheRowOnce() throws {
        let store = try JobStore(path: ":memory:", durability: .normal)
        var (job, unit) = try Self.stored(store)
        var batch = WriteBatch()
        Self.move(&job, &unit, to: .running, in: &batch)
        batch.append { try $0.appendEvent(seq: 1, ts: 1, kind: "job.status", jobID: job.id, type: "t", data: Array("{}".utf8)) }
        job.result = ["ok": true]
        Self.move(&job, &unit, to: .success, in: &batch)
        #expect(batch.dropped == 1)
        #expect(batch.count == 3)  // the dropped write's place stays, doing nothing
        try Self.run(&batch, on: store)
        #expect(try store.job(id: job.id)?.status == .success)
        #expect(try store.job(id: job.id)?.result == ["ok": true])
        #expect(try store.unit(jobID: job.id, index: 0)?.status == .success)
        var events = 0
        try store.events(after: 0, through: 10) { _ in events += 1 }
        #expect(events == 1)
    }

    @Test("a write of the job alone does not make an earlier write of the job and its unit redundant")
    func aNarrowerWriteKeepsTheEarlierOne() throws {
        let store = try JobStore(path: ":memory:", durability: .normal)
        var (job, unit) = try Self.stored(store)
        var batch = WriteBatch()
        job.status = .running
        unit.status = .running
        unit.attempt = 1
        batch.appendUpdate(job, unit: unit)
        job.progress.apply(current: 1, total: 2, phase: nil, message: nil)
        batch.appendUpdate(job, unit: nil)
        #expect(batch.dropped == 0)
        try Self.run(&batch, on: store)
        #expect(try store.unit(jobID: job.id, index: 0)?.attempt == 1)
        #expect(try store.job(id: job.id)?.progress.current == 1)
    }

    @Test("a job's own write covers an earlier one of the job alone")
    func aWiderWriteDropsTheEarlierOne() throws {
        let store = try JobStore(path: ":memory:", durability: .normal)
        var (job, unit) = try Self.stored(store)
        var batch = WriteBatch()
        job.progress.apply(current: 1, total: 2, phase: nil, message: nil)
        batch.appendUpdate(job, unit: nil)
        unit.status = .running
        job.status = .running
        batch.appendUpdate(job, unit: unit)
        #expect(batch.dropped == 1)
        try Self.run(&batch, on: store)
        #expect(try store.job(id: job.id)?.progress.current == 1)
        #expect(try store.unit(jobID: job.id, index: 0)?.status == .running)
    }

    @Test("the units of a job with items are rows of their own: each write of one stays")
    func itemWritesAllStay() throws {
        let store = try JobStore(path: ":memory:", durability: .normal)
        var (job, first) = try Self.stored(store, items: 2)
        var second = try #require(try store.unit(jobID: job.id, index: 1))
        var batch = WriteBatch()
        job.status = .running
        first.status = .running
        batch.appendUpdate(job, unit: first)
        second.status = .running
        batch.appendUpdate(job, unit: second)
        #expect(batch.dropped == 0)
        try Self.run(&batch, on: store)
        #expect(try store.units(jobID: job.id, status: .running).map(\.index) == [0, 1])
    }

    @Test("each batch starts afresh: a write is never dropped for one in a later batch")
    func batchesAreIndependent() throws {
        let store = try JobStore(path: ":memory:", durability: .normal)
        var (job, unit) = try Self.stored(store)
        var batch = WriteBatch()
        Self.move(&job, &unit, to: .running, in: &batch)
        try Self.run(&batch, on: store)
        #expect(batch.isEmpty)
        Self.move(&job, &unit, to: .success, in: &batch)
        #expect(batch.dropped == 0)
        try Self.run(&batch, on: store)
        #expect(try store.job(id: job.id)?.status == .success)
    }

    /// A job numbered as the kernel numbers it, not yet stored.
    static func unsaved(id: Int64, items: Int? = nil) -> (Job, WorkUnit) {
        var job = JobStoreTests.newJob(items: items)
        job.id = id
        return (job, WorkUnit(jobID: id, index: 0, value: .null, status: .pending, attempt: 0))
    }

    /// Everything a read of the job's row gives, for comparing two ways of writing it.
    static func readBack(_ store: JobStore, _ id: Int64) throws -> (Job?, WorkUnit?, [WorkUnit]) {
        (try store.job(id: id), try store.unit(jobID: id, index: 0),
         try store.units(jobID: id, status: .running) + store.units(jobID: id, status: .success))
    }

    /// Each sequence of writes of a new job without items, run in one batch (folded into the insert)
    /// and one write per transaction (as written before batching), reads back the same.
    @Test("a new job's later writes in its batch fold into its insert, and the row is what the writes in order leave",
          arguments: [
              ["start"], ["start", "finish"], ["progress"], ["start", "progress"], ["start", "progress", "finish"],
              ["progress", "start"],
          ])
    func laterWritesFoldIntoTheInsert(steps: [String]) throws {
        let folded = try JobStore(path: ":memory:", durability: .normal)
        let unfolded = try JobStore(path: ":memory:", durability: .normal)
        var (job, unit) = Self.unsaved(id: 7)
        var batch = WriteBatch()
        batch.appendInsert(job, items: nil, request: "r", payloadBytes: nil)
        var one = job
        try unfolded.insert(&one, items: nil, request: "r")
        try unfolded.commit()
        for step in steps {
            var withUnit = true
            switch step {
            case "start":
                job.status = .running
                job.attempt = 1
                job.startedAt = 2_000
                job.units = UnitCounts(pending: 0, running: 1)
                unit.status = .running
                unit.attempt = 1
                unit.startedAt = 2_000
            case "finish":
                job.status = .success
                job.finishedAt = 3_000
                job.result = ["ok": true]
                job.units = UnitCounts(pending: 0, success: 1)
                unit.status = .success
                unit.result = ["ok": true]
                unit.finishedAt = 3_000
            default:
                job.progress.apply(current: 1, total: 2, phase: "half", message: nil)
                withUnit = false
            }
            let seq = Int64(batch.count)
            batch.append { try $0.appendEvent(seq: seq, ts: 1, kind: "job.status", jobID: 7, type: "t", data: Array("{}".utf8)) }
            batch.appendUpdate(job, unit: withUnit ? unit : nil)
            try unfolded.update(job, unit: withUnit ? unit : nil)
            try unfolded.commit()
        }
        #expect(batch.dropped == steps.count)
        try Self.run(&batch, on: folded)
        let (a, b) = (try Self.readBack(folded, 7), try Self.readBack(unfolded, 7))
        #expect(a.0 == b.0 && a.0 != nil)
        #expect(a.1 == b.1)
        #expect(a.2 == b.2)
        #expect(try folded.job(id: 7)?.status == job.status)
        var events = 0
        try folded.events(after: 0, through: 100) { _ in events += 1 }
        #expect(events == steps.count)  // the events stay
    }

    @Test("a job with items is inserted as it was enqueued: its later writes stay, in order")
    func anItemizedJobIsNotFolded() throws {
        let store = try JobStore(path: ":memory:", durability: .normal)
        var (job, _) = Self.unsaved(id: 3, items: 2)
        var batch = WriteBatch()
        batch.appendInsert(job, items: [1, 2], request: nil, payloadBytes: nil)
        job.status = .running
        job.units = UnitCounts(pending: 1, running: 1)
        var first = WorkUnit(jobID: 3, index: 0, value: 1, status: .running, attempt: 1)
        first.startedAt = 2_000
        batch.appendUpdate(job, unit: first)
        #expect(batch.dropped == 0)
        #expect(batch.count == 2)
        try Self.run(&batch, on: store)
        #expect(try store.job(id: 3)?.status == .running)
        #expect(try store.units(jobID: 3, status: .running).map(\.index) == [0])
        #expect(try store.units(jobID: 3, status: .pending).map(\.index) == [1])
    }

    @Test("a job inserted in an earlier batch is updated, not inserted again")
    func anInsertFoldsOnlyWithinItsBatch() throws {
        let store = try JobStore(path: ":memory:", durability: .normal)
        var (job, unit) = Self.unsaved(id: 5)
        var batch = WriteBatch()
        batch.appendInsert(job, items: nil, request: nil, payloadBytes: nil)
        try Self.run(&batch, on: store)
        Self.move(&job, &unit, to: .running, in: &batch)
        #expect(batch.dropped == 0)
        try Self.run(&batch, on: store)
        #expect(try store.job(id: 5)?.status == .running)
        #expect(try store.unit(jobID: 5, index: 0)?.status == .running)
    }
}

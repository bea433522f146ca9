import Testing
import JobKernelCore
@testable import JobKernelStore

/// A batch drops a row write that a later one of the same row makes redundant, and only then:
/// what is committed is what the writes in order would have left.
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
}

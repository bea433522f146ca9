import Glibc
import Testing
import JobKernelCore
@testable import JobKernelStore

/// The writer thread commits a batch as a whole or not at all (docs/promises.md §9, §10), and the loop
/// learns which.
struct StoreWriterTests {
    struct Refused: Error {}

    static func job(_ id: Int64) -> Job {
        var job = JobStoreTests.newJob()
        job.id = id
        return job
    }

    @Test func aBatchCommitsOnTheWriterThreadAndIsReadBackAfterItsOutcome() throws {
        let path = JobStoreTests.tempPath()
        let store = try JobStore(path: path, durability: .normal)
        let writer = StoreWriter(store: store, wake: {})
        writer.start()
        defer { writer.stop() }
        let writes: [StoreWriter.Write] = (1...50).map { id in { var j = Self.job(Int64(id)); try $0.insert(&j, items: nil, request: nil) } }
        writer.submit(writes, batch: 7)
        #expect(writer.isBusy)
        let outcome = try #require(writer.waitForOutcome())
        #expect(outcome.batch == 7 && outcome.error == nil)
        #expect(!writer.isBusy)
        #expect(writer.waitForOutcome() == nil)  // nothing in flight
        #expect(try store.maxJobID() == 50)
        let other = try JobStore(path: path, durability: .normal)  // committed: seen by another connection
        #expect(try other.job(id: 50)?.id == 50)
    }

    @Test func aFailingWriteUndoesTheWholeBatch() throws {
        let path = JobStoreTests.tempPath()
        let store = try JobStore(path: path, durability: .normal)
        let writer = StoreWriter(store: store, wake: {})
        writer.start()
        defer { writer.stop() }
        var writes: [StoreWriter.Write] = [{ var j = Self.job(1); try $0.insert(&j, items: nil, request: nil) }]
        writes.append { _ in throw Refused() }
        writer.submit(writes, batch: 1)
        let outcome = try #require(writer.waitForOutcome())
        #expect(outcome.error is Refused)
        #expect(try store.job(id: 1) == nil)
        #expect(!store.db.isInTransaction)
        // The next batch starts clean.
        writer.submit([{ var j = Self.job(2); try $0.insert(&j, items: nil, request: nil) }], batch: 2)
        #expect(try #require(writer.waitForOutcome()).error == nil)
        #expect(try store.maxJobID() == 2)
    }

    @Test func theOutcomeWakesTheLoopAndCanBeTakenWithoutWaiting() throws {
        let store = try JobStore(path: JobStoreTests.tempPath(), durability: .normal)
        let woken = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        woken.initialize(to: 0)
        defer { woken.deallocate() }
        let writer = StoreWriter(store: store, wake: { woken.pointee = 1 })
        writer.start()
        defer { writer.stop() }
        #expect(writer.takeOutcome() == nil)
        writer.submit([{ var j = Self.job(1); try $0.insert(&j, items: nil, request: nil) }], batch: 3)
        var outcome: StoreWriter.Outcome?
        for _ in 0..<2000 where outcome == nil {
            outcome = writer.takeOutcome()
            if outcome == nil { usleep(1000) }
        }
        #expect(outcome?.batch == 3)
        #expect(woken.pointee == 1)
    }
}

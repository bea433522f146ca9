import CSQLiteSupport
import Foundation
import Testing
import JobKernelCore
@testable import JobKernelStore

/// The store's VFS writes a transaction's WAL frames with one system call, at its commit, and
/// what it commits is in the files the moment the commit returns (a kill -9 then loses none).
struct WALGatheringTests {
    @Test func aTransactionIsWrittenByOneCallAtItsCommit() throws {
        let path = JobStoreTests.tempPath()
        let store = try JobStore(path: path, durability: .normal)
        defer { store.close() }
        for id in Int64(1)...30 {
            let before = jk_sqlite_wal_vfs_writes()
            try store.beginIfNeeded()
            var job = JobStoreTests.newJob()
            job.id = id
            try store.insert(&job, items: nil, request: nil)
            try store.appendEvent(seq: id, ts: 1000, kind: "job.created", jobID: id, type: "t", data: Array("{}".utf8))
            #expect(jk_sqlite_wal_vfs_writes() == before)  // nothing written before the commit
            _ = try store.commit()
            #expect(jk_sqlite_wal_vfs_writes() == before + 1)
        }
    }

    @Test(arguments: [Durability.normal, .full])
    func everyCommitIsInTheFilesWhenItReturns(durability: Durability) throws {
        let path = JobStoreTests.tempPath()
        let store = try JobStore(path: path, durability: durability)
        defer { store.close() }
        let files = FileManager.default
        for id in Int64(1)...12 {
            try store.beginIfNeeded()
            var job = JobStoreTests.newJob()
            job.id = id
            job.payload = ["blob": .string(String(repeating: "x", count: 3000 * Int(id)))]  // from 1 to 9 pages
            try store.insert(&job, items: nil, request: nil)
            _ = try store.commit()
            // The files as a kill -9 would leave them now: a copy opened by a new store has every job.
            let copy = JobStoreTests.tempPath()
            try files.copyItem(atPath: path, toPath: copy)
            if files.fileExists(atPath: path + "-wal") { try files.copyItem(atPath: path + "-wal", toPath: copy + "-wal") }
            let reopened = try JobStore(path: copy, durability: .normal)
            defer { reopened.close() }
            for seen in Int64(1)...id {
                let j = try #require(try reopened.job(id: seen), "job \(seen) of \(id) missing from the copy")
                #expect(j.payload == ["blob": .string(String(repeating: "x", count: 3000 * Int(seen)))])
            }
        }
    }

    /// A transaction larger than the page cache writes some of its pages to the WAL before its
    /// commit (a spill). A spilled page it changes again is rewritten in place, and at the commit
    /// SQLite rewrites the header of every frame from that one to the commit's, to fix their
    /// checksums; the commit must be in the files when it returns all the same. (The commit's
    /// rewritten header used to stay gathered until the next write, and a kill -9 meanwhile lost
    /// the whole transaction.)
    @Test func aCommitThatSpilledTheCacheIsInTheFilesWhenItReturns() throws {
        let path = JobStoreTests.tempPath()
        let store = try JobStore(path: path, durability: .normal)
        defer { store.close() }
        try store.db.execute("PRAGMA cache_size = 20")
        try store.beginIfNeeded()
        var big = JobStoreTests.newJob(items: 3000)
        big.id = 1
        let items: [JSON] = (0..<3000).map { .string("item \($0) " + String(repeating: "x", count: 100)) }
        try store.insert(&big, items: items, request: nil)
        var small = JobStoreTests.newJob()
        small.id = 2
        try store.insert(&small, items: nil, request: nil)  // changes the jobs page spilled meanwhile
        let before = jk_sqlite_wal_vfs_writes()
        _ = try store.commit()
        #expect(jk_sqlite_wal_vfs_writes() > before + 1)  // the spill's checksums were rewritten
        let files = FileManager.default
        let copy = JobStoreTests.tempPath()
        try files.copyItem(atPath: path, toPath: copy)
        try files.copyItem(atPath: path + "-wal", toPath: copy + "-wal")
        let reopened = try JobStore(path: copy, durability: .normal)
        defer { reopened.close() }
        #expect(try reopened.job(id: 1) != nil, "the large job is missing from the copy")
        #expect(try reopened.job(id: 2) != nil, "the small job is missing from the copy")
    }
}

import CSQLite
import CSQLiteSupport
import Foundation
import Testing
import JobKernelCore
@testable import JobKernelStore

/// SQLite allocates through per-thread caches of small blocks (`CSQLiteSupport`): sizes round up
/// to a class, a block keeps its bytes when it grows, and a freed block is taken again.
struct SQLiteMallocTests {
    init() throws {
        // The allocator is installed before the first connection opens.
        _ = try Database(path: ":memory:")
    }

    @Test(arguments: [(1, 32), (32, 32), (33, 64), (500, 512), (513, 1024), (1500, 2048), (4096, 4096), (5000, 5000)])
    func aBlockIsRoundedUpToItsClass(asked: Int, size: Int) throws {
        let p = try #require(sqlite3_malloc64(sqlite3_uint64(asked)))
        defer { sqlite3_free(p) }
        #expect(Int(sqlite3_msize(p)) == size)
    }

    @Test func aFreedBlockIsTakenAgainByTheSameThread() throws {
        let p = try #require(sqlite3_malloc(200))
        let before = jk_sqlite_block_cache_count()
        sqlite3_free(p)
        #expect(jk_sqlite_block_cache_count() == before + 1)
        let q = try #require(sqlite3_malloc(220))  // the same class: 224 bytes
        defer { sqlite3_free(q) }
        #expect(q == p)
        #expect(jk_sqlite_block_cache_count() == before)
    }

    @Test(arguments: [10, 100, 3000, 10_000])
    func aBlockKeepsItsBytesWhenResized(to size: Int32) throws {
        let p = try #require(sqlite3_malloc(100)).assumingMemoryBound(to: UInt8.self)
        for i in 0..<100 { p[i] = UInt8(i) }
        let q = try #require(sqlite3_realloc(p, size)).assumingMemoryBound(to: UInt8.self)
        defer { sqlite3_free(q) }
        #expect(Int(sqlite3_msize(q)) >= Int(size))
        #expect((0..<min(100, Int(size))).allSatisfy { q[$0] == UInt8($0) })
        if size <= 100 { #expect(q == p) }  // shrinking keeps the block
    }

    @Test func statementsRunOnTheCache() throws {
        let db = try Database(path: ":memory:")
        try db.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
        for i in 0..<200 {
            try db.run("INSERT INTO t (b) VALUES (?)", [.text(String(repeating: "x", count: i))])
        }
        #expect(try db.scalar("SELECT sum(length(b)) FROM t") == 19_900)
        #expect(jk_sqlite_block_cache_count() > 0)
    }
}

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
}

import CSQLite
import CSQLiteMalloc
import Testing
@testable import JobKernelStore

/// SQLite allocates through per-thread caches of small blocks (`CSQLiteMalloc`): sizes round up
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

import Glibc
import Testing
import JobKernelCore
@testable import JobKernelStore

/// The store keeps what the kernel acknowledged (SPEC §9): a real SQLite file per test.
struct JobStoreTests {
    static func tempPath() -> String {
        var template = Array("/tmp/jkstore-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        return dir + "/jobs.db"
    }

    static func newJob(_ t: Millis = 1000, items: Int? = nil, key: String? = nil) -> Job {
        Job(id: 0, type: "t", dispatchMode: "internal", status: .pending, priority: 50, lane: .normal,
            payload: ["x": 1], createdBy: "me", idempotencyKey: key, maxAttempts: 3, itemized: items != nil,
            units: UnitCounts(pending: items ?? 1), createdAt: t, updatedAt: t)
    }

    @Test func committedJobsSurviveReopening() throws {
        let path = Self.tempPath()
        do {
            let store = try JobStore(path: path, durability: .normal)
            var job = Self.newJob(items: 3)
            try store.insert(&job, items: [1, 2, 3], request: "r")
            #expect(job.id == 1)
            try store.commit()
        }
        let store = try JobStore(path: path, durability: .normal)
        let job = try #require(try store.job(id: 1))
        #expect(job.payload == ["x": 1])
        #expect(job.units == UnitCounts(pending: 3))
        #expect(try store.units(jobID: 1, status: .pending).map(\.value) == [1, 2, 3])
    }

    @Test func uncommittedWritesAreLostOnClose() throws {
        let path = Self.tempPath()
        do {
            let store = try JobStore(path: path, durability: .normal)
            var job = Self.newJob()
            try store.insert(&job, items: nil, request: nil)
        }
        let store = try JobStore(path: path, durability: .normal)
        #expect(try store.job(id: 1) == nil)
    }

    @Test func idempotencyKeyIsUniquePerCreator() throws {
        let store = try JobStore(path: ":memory:", durability: .normal)
        var a = Self.newJob(key: "k")
        try store.insert(&a, items: nil, request: "first")
        var b = Self.newJob(key: "k")
        #expect(throws: DatabaseError.self) { try store.insert(&b, items: nil, request: "second") }
        let found = try #require(try store.job(createdBy: "me", idempotencyKey: "k"))
        #expect(found.0.id == a.id && found.1 == "first")
    }

    @Test func listIsNewestFirstWithFiltersAndCursor() throws {
        let store = try JobStore(path: ":memory:", durability: .normal)
        for _ in 0..<5 {
            var j = Self.newJob()
            try store.insert(&j, items: nil, request: nil)
        }
        let page = try store.list(filters: [], before: nil, limit: 2)
        #expect(page.map(\.id) == [5, 4])
        #expect(try store.list(filters: [], before: 4, limit: 10).map(\.id) == [3, 2, 1])
        #expect(try store.list(filters: [("status", [.text("running")])], before: nil, limit: 10).isEmpty)
    }

    @Test func logKeepsTheNewestLinesWithinTheByteLimit() throws {
        let store = try JobStore(path: ":memory:", durability: .normal)
        var j = Self.newJob()
        try store.insert(&j, items: nil, request: nil)
        for n in 1...10 {
            let seq = try store.appendLog(jobID: j.id, ts: 0, level: "info", message: String(repeating: "x", count: 10), maxBytes: 35)
            #expect(seq == Int64(n))
        }
        let lines = try store.logs(jobID: j.id, since: 0, limit: 100)
        #expect(lines.map(\.seq) == [8, 9, 10])
    }

    @Test func eventsReplayInOrderAndPruningKeepsTheLatest() throws {
        let store = try JobStore(path: ":memory:", durability: .normal)
        for seq in 1...5 {
            try store.appendEvent(seq: Int64(seq), ts: Int64(seq), kind: "job.created", jobID: 1, type: "t", data: Array("{}".utf8))
        }
        var seen: [Int64] = []
        try store.events(after: 2, through: 4) { seen.append($0.seq) }
        #expect(seen == [3, 4])
        try store.pruneEvents(olderThan: 100)
        #expect(try store.latestEventSeq() == 5)
        #expect(try store.oldestEventSeq() == 5)
    }

    @Test func descendantsAtAnyDepth() throws {
        let store = try JobStore(path: ":memory:", durability: .normal)
        var root = Self.newJob()
        try store.insert(&root, items: nil, request: nil)
        var child = Self.newJob()
        child.parentID = root.id
        try store.insert(&child, items: nil, request: nil)
        var grandchild = Self.newJob()
        grandchild.parentID = child.id
        try store.insert(&grandchild, items: nil, request: nil)
        #expect(try store.descendants(of: root.id) == [child.id, grandchild.id])
        #expect(try store.childCounts(of: root.id) == ["total": 1, "pending": 1])
    }

    @Test func walIsCheckpointedInTheBackgroundWhileTheStoreIsOpen() throws {
        let path = Self.tempPath()
        let store = try JobStore(path: path, durability: .normal)
        for _ in 0..<500 {
            var j = Self.newJob()
            try store.insert(&j, items: nil, request: nil)
        }
        try store.commit()
        func size() -> Int {
            var st = stat()
            return stat(path, &st) == 0 ? Int(st.st_size) : 0
        }
        let before = size()
        var after = before
        for _ in 0..<40 where after <= before {
            usleep(100_000)
            after = size()
        }
        #expect(after > before, "the database file did not grow: the WAL was not checkpointed")
        store.close()
    }
}

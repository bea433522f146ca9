import Glibc
import Testing
import JobKernelCore
@testable import JobKernelStore

/// The store keeps what the kernel acknowledged (docs/promises.md §9): a real SQLite file per test.
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

    @Test("a log past its cap: retained bytes stay within it, oldest lines go first, seqs continue")
    func logCapDropsOldestFirstAndSeqsContinue() throws {
        let path = Self.tempPath()
        let cap = 1000
        var sizes: [Int64: Int] = [:]
        do {
            let store = try JobStore(path: path, durability: .normal)
            var j = Self.newJob()
            try store.insert(&j, items: nil, request: nil)
            for n in 1...500 {
                let size = 1 + (n * 37) % 120
                let seq = try store.appendLog(jobID: j.id, ts: 0, level: "info", message: String(repeating: "é", count: size / 2) + String(repeating: "x", count: size % 2), maxBytes: cap)
                #expect(seq == Int64(n))
                sizes[seq] = size
                let lines = try store.logs(jobID: j.id, since: 0, limit: 10_000)
                let bytes = lines.reduce(0) { $0 + $1.message.utf8.count }
                #expect(bytes <= cap)
                // The retained lines are the newest ones: a contiguous tail ending at `seq`, and one
                // older line would not have fitted.
                #expect(lines.map(\.seq) == Array((seq - Int64(lines.count) + 1)...seq))
                if let first = lines.first?.seq, first > 1 { #expect(bytes + sizes[first - 1]! > cap) }
            }
            try store.commit()
        }
        let store = try JobStore(path: path, durability: .normal)
        #expect(try store.appendLog(jobID: 1, ts: 0, level: "info", message: "after reopening", maxBytes: cap) == 501)
        #expect(try store.logs(jobID: 1, since: 0, limit: 10_000).reduce(0) { $0 + $1.message.utf8.count } <= cap)
    }

    @Test("a turn rolled back takes its log lines with it: seqs continue from the last committed one")
    func logTailFollowsARollback() throws {
        let store = try JobStore(path: ":memory:", durability: .normal)
        var j = Self.newJob()
        try store.insert(&j, items: nil, request: nil)
        for _ in 1...3 { _ = try store.appendLog(jobID: j.id, ts: 0, level: "info", message: "kept", maxBytes: 12) }
        try store.commit()
        for _ in 1...2 { _ = try store.appendLog(jobID: j.id, ts: 0, level: "info", message: "lost!", maxBytes: 12) }
        try store.db.execute("ROLLBACK")
        #expect(try store.appendLog(jobID: j.id, ts: 0, level: "info", message: "next", maxBytes: 12) == 4)
        #expect(try store.logs(jobID: j.id, since: 0, limit: 10).map(\.message) == ["kept", "kept", "next"])
        #expect(try store.lastLogSeq(jobID: j.id) == 4)
    }

    @Test("keeping a log under its cap costs O(1) per line, not a scan of the retained lines")
    func logCapCostDoesNotGrowWithTheRetainedLines() throws {
        let store = try JobStore(path: ":memory:", durability: .normal)
        var j = Self.newJob()
        try store.insert(&j, items: nil, request: nil)
        let cap = 100_000, line = String(repeating: "y", count: 10)
        func append(_ n: Int) throws -> Double {
            var t0 = timespec(), t1 = timespec()
            clock_gettime(CLOCK_MONOTONIC, &t0)
            for _ in 0..<n { _ = try store.appendLog(jobID: j.id, ts: 0, level: "info", message: line, maxBytes: cap) }
            clock_gettime(CLOCK_MONOTONIC, &t1)
            return Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) / 1e9
        }
        let filling = try append(cap / 10)  // up to the cap: 10,000 lines retained
        let past = try append(cap / 10)     // as many again, each dropping one
        // A rescan per line reads 10,000 rows for each of these: ~200 times slower (13.6 s against
        // 0.07 s); the margin is for a loaded machine.
        #expect(past < filling * 20 + 0.25, "filling \(filling)s, past the cap \(past)s")
        #expect(try store.logs(jobID: j.id, since: 0, limit: 1).first?.seq == Int64(cap / 10 + 1))
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

    /// Events older than the retention go, oldest first, and the latest always stays (it holds
    /// the seq); the cost follows what goes, not the whole log.
    @Test(arguments: [(Millis(6), [6, 7, 8, 9, 10] as [Int64]), (Millis(1), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), (Millis(100), [10])])
    func pruneKeepsTheRecentEventsAndTheLatest(cutoff: Millis, kept: [Int64]) throws {
        let store = try JobStore(path: Self.tempPath(), durability: .normal)
        for seq in Int64(1)...10 {
            try store.appendEvent(seq: seq, ts: seq, kind: "job.log", jobID: 1, type: "t", data: Array("{}".utf8))
        }
        try store.commit()
        try store.pruneEvents(olderThan: cutoff)
        try store.commit()
        var seqs: [Int64] = []
        try store.events(after: 0, through: 100) { seqs.append($0.seq) }
        #expect(seqs == kept)
        #expect(try store.latestEventSeq() == 10)
    }
}

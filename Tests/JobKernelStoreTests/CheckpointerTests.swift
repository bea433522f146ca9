import Foundation
import Testing
import JobKernelCore
@testable import JobKernelStore

/// The background checkpoint keeps the WAL bounded under load that never pauses
/// (docs/durability.md, "The WAL under unbroken load").
struct CheckpointerTests {
    /// 2,000 commits with no pause longer than a millisecond, each of about five pages: some
    /// 40 MB of WAL frames. Passive checkpoints alone never let the WAL start again here, so the
    /// file grew by all of it; with a restart at 256 frames it stays within a few MB, and every
    /// commit is still there after a reopen.
    @Test func theWALStartsAgainUnderUnbrokenCommits() throws {
        let path = JobStoreTests.tempPath()
        let commits: Int64 = 2000
        var largest = 0
        do {
            let store = try JobStore(path: path, durability: .normal, checkpointEveryMs: 50, walRestartFrames: 256)
            defer { store.close() }
            for id in 1...commits {
                try store.beginIfNeeded()
                var job = JobStoreTests.newJob()
                job.id = id
                job.payload = ["blob": .string(String(repeating: "x", count: 6000))]
                try store.insert(&job, items: nil, request: nil)
                _ = try store.commit()
                largest = max(largest, Self.size(path + "-wal"))
                usleep(500)
            }
        }
        // Without the restart the file holds every frame written: 2,000 commits of 4 to 6 pages.
        #expect(largest < 12 << 20, "the WAL grew to \(largest >> 20) MB")
        let reopened = try JobStore(path: path, durability: .normal)
        defer { reopened.close() }
        for id in [Int64(1), commits / 2, commits] {
            #expect(try reopened.job(id: id) != nil, "job \(id) is missing")
        }
        #expect(try reopened.db.scalarOrThrow("SELECT count(*) FROM jobs") == commits)
    }

    static func size(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }
}

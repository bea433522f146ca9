import Testing
@testable import JobKernelCore

/// `Job.serializedJSON` must write exactly what `json(children:).serialized()` writes.
struct JobSerializedTests {
    static let jobs: [Job] = {
        let plain = Job(id: 17, type: "detect", dispatchMode: "sync_api", status: .pending, priority: 50, lane: .normal,
                        payload: ["n": 1, "s": "a\"b\n"], createdBy: "cli", maxAttempts: 3, itemized: false,
                        units: UnitCounts(pending: 1), createdAt: 1_700_000_000_123, updatedAt: 1_700_000_000_123)
        var full = plain
        full.id = 9_000_000_000
        full.status = .partialSuccess
        full.idempotencyKey = "key ü \\ \u{1}"
        full.parentID = 3
        full.manual = true
        full.attempt = 2
        full.runAt = 1_700_000_100_000
        full.cancelRequested = true
        full.progress = Progress(current: 3, total: 10, phase: "infer", message: "m")
        full.itemized = true
        full.units = UnitCounts(pending: 1, running: 2, success: 3, failed: 4, cancelled: 5)
        full.result = [1, 2.5, nil, ["x": true]]
        full.error = JobError(message: "bad", code: "E1", data: ["k": "v"])
        full.startedAt = 0
        full.finishedAt = -62_135_596_800_000
        full.lastActivityAt = 253_402_300_799_999
        var odd = plain
        odd.payload = .rawNumber("123456789012345678901234567890")
        odd.result = .string("")
        return [plain, full, odd]
    }()

    @Test(arguments: jobs)
    func matchesTheTree(job: Job) {
        #expect(job.serializedJSON() == job.json().serialized())
        let children: JSON = ["total": 2, "success": 2]
        #expect(job.serializedJSON(children: children) == job.json(children: children).serialized())
        // The payload's bytes, when the caller has them, are written as they are.
        #expect(job.serializedJSON(payload: job.payload.serialized()) == job.json().serialized())
    }

    /// A compact `job.status` keeps the changing state; the job as created plus that state is the
    /// job again, so a replay renders the object that was sent live.
    @Test(arguments: jobs)
    func changingStateRoundTrips(job: Job) throws {
        let state = try JSONParser.parse(job.changingState())
        let created = job.asCreated(runAt: nil)
        let again = try #require(created.withChangingState(state))
        #expect(again.serializedJSON() == job.serializedJSON())
    }

    @Test func aStateOfAnotherShapeIsRefused() {
        #expect(Self.jobs[0].withChangingState(["status": "running"]) == nil)
        #expect(Self.jobs[0].withChangingState(.null) == nil)
    }
}

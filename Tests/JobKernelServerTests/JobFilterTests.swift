import JobKernelCore
import Testing
@testable import JobKernelServer

/// Steering many jobs at once (docs/promises.md §13): `cancel`, `retry` and `remove` take `ids` or
/// a filter `{status?, type?, label?, older_than_s?}`; an empty filter is refused, the single
/// `{id}` forms are left to the methods as they were.
@Suite struct JobFilterTests {
    static func read(_ params: JSONObject) throws -> JobSelection? {
        var p = try Params(.object(params))
        return try JobSelection.read(&p)
    }

    @Test func idsAreASelection() throws {
        #expect(try Self.read(["ids": ["3", "1", "3"]]) == .ids([3, 1, 3]))
        #expect(try Self.read(["ids": "7"]) == .ids([7]))
    }

    @Test func aFilterIsReadWithEveryPart() throws {
        let s = try Self.read(["status": ["failed", "cancelled"], "type": "thumb", "label": "nightly", "older_than_s": 60])
        #expect(s == .filter(JobFilter(statuses: [.failed, .cancelled], types: ["thumb"], label: "nightly", olderThanMs: 60_000)))
    }

    @Test func theSingleIdFormIsNoSelection() throws {
        #expect(try Self.read(["id": "4"]) == nil)
        #expect(try Self.read(["id": "4", "ids": .null, "status": .null]) == nil)
        #expect(try Self.read([:]) == nil)
    }

    @Test(arguments: [
        // (params, the field the -32602 names)
        (["ids": .array([])], "ids"),
        (["ids": ["x"]], "ids"),
        (["id": "1", "ids": ["2"]], "id"),
        (["ids": ["2"], "status": "failed"], "ids"),
        (["id": "1", "type": "a"], "id"),
        (["status": "finished"], "status"),
        (["status": .array([])], "status"),
        (["type": 3], "type"),
        (["label": ""], "label"),
        (["label": .string(String(repeating: "x", count: 201))], "label"),
        (["older_than_s": -1], "older_than_s"),
        (["older_than_s": "1h"], "older_than_s"),
    ] as [(JSONObject, String)])
    func badSelectionsAreInvalidParams(params: JSONObject, field: String) {
        do {
            _ = try Self.read(params)
            Issue.record("accepted \(params)")
        } catch {
            let e = error as? RPCError
            #expect(e?.code == -32602)
            #expect(e?.data?["field"]?.stringValue == field)
        }
    }

    static let now: Millis = 1_000_000

    @Test(arguments: [
        // (filter, status, type, label, created ms ago, finished ms ago, matches)
        (JobFilter(statuses: [.failed]), JobStatus.failed, "a", nil, 10, 5, true),
        (JobFilter(statuses: [.failed]), .success, "a", nil, 10, 5, false),
        (JobFilter(types: ["a", "b"]), .pending, "b", nil, 10, nil, true),
        (JobFilter(types: ["a"]), .pending, "c", nil, 10, nil, false),
        (JobFilter(label: "x"), .pending, "a", "x", 10, nil, true),
        (JobFilter(label: "x"), .pending, "a", "y", 10, nil, false),
        (JobFilter(label: "x"), .pending, "a", nil, 10, nil, false),
        // older_than_s: a finished job by when it finished, an open one by when it was created.
        (JobFilter(olderThanMs: 100), .success, "a", nil, 500, 50, false),
        (JobFilter(olderThanMs: 100), .success, "a", nil, 500, 100, true),
        (JobFilter(olderThanMs: 100), .pending, "a", nil, 100, nil, true),
        (JobFilter(olderThanMs: 100), .running, "a", nil, 99, nil, false),
        // The parts AND.
        (JobFilter(statuses: [.failed], types: ["a"], label: "x"), .failed, "a", "x", 1, 1, true),
        (JobFilter(statuses: [.failed], types: ["a"], label: "x"), .failed, "b", "x", 1, 1, false),
    ] as [(JobFilter, JobStatus, String, String?, Millis, Millis?, Bool)])
    func aJobMatchesWhenEveryPartDoes(filter: JobFilter, status: JobStatus, type: String, label: String?,
                                      createdAgo: Millis, finishedAgo: Millis?, matches: Bool) {
        #expect(filter.matches(status: status, type: type, label: label, createdAt: Self.now - createdAgo,
                               finishedAt: finishedAgo.map { Self.now - $0 }, now: Self.now) == matches)
    }

    @Test func theStatusesAskedOfTheStoreAreThoseTheMethodCanChange() {
        let open: Set<JobStatus> = [.scheduled, .pending, .running]
        #expect(JobFilter(types: ["a"]).statuses(among: open) == [.scheduled, .pending, .running])
        #expect(JobFilter(statuses: [.pending, .failed]).statuses(among: open) == [.pending])
        #expect(JobFilter(statuses: [.success]).statuses(among: open).isEmpty)
    }

    @Test func aLabelIsTheJobsOwnNotThePayloads() {
        func job(label: String?) -> Job {
            Job(id: 1, type: "command", dispatchMode: "internal", status: .pending, priority: 50, lane: .normal,
                payload: ["argv": ["true"], "label": "in the payload"], label: label, createdBy: "t", maxAttempts: 1,
                itemized: false, units: UnitCounts(), createdAt: 0, updatedAt: 0)
        }
        #expect(JobFilter.label(of: job(label: "build docs")) == "build docs")
        #expect(JobFilter(label: "in the payload").matches(job(label: nil), now: 0) == false)
        #expect(JobFilter(label: "build docs").matches(job(label: "build docs"), now: 0))
    }
}

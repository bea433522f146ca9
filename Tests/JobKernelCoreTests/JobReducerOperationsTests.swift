import Testing
@testable import JobKernelCore

/// docs/promises.md §8.6 (dependencies) and §13 (per-item times): the reducer's operations transitions.
struct JobReducerOperationsTests {
    static let t0: Millis = 1_700_000_000_000

    static func waitingJob(runAt: Millis? = nil, status: JobStatus = .scheduled, items: Int? = nil) -> Job {
        Job(id: 9, type: "t", dispatchMode: "internal", status: status, priority: 50, lane: .normal, payload: [:],
            createdBy: "test", maxAttempts: 3, runAt: runAt, itemized: items != nil,
            units: UnitCounts(pending: items ?? 1), createdAt: t0, updatedAt: t0)
    }

    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        var job: Job
        var event: JobEvent
        var status: JobStatus
        var effects: [JobEffect]
        var testDescription: String { name }
    }

    static let table: [Row] = [
        Row(name: "dependencies met: a waiting job becomes pending and its units are dispatched",
            job: waitingJob(), event: .dependenciesMet, status: .pending,
            effects: [.dispatchPendingUnits, .publishStatus(from: .scheduled, to: .pending)]),
        Row(name: "dependencies met before run_at: the job keeps waiting for run_at",
            job: waitingJob(runAt: t0 + 5000), event: .dependenciesMet, status: .scheduled,
            effects: [.armRunAt(at: t0 + 5000)]),
        Row(name: "dependencies met after run_at passed: pending at once",
            job: waitingJob(runAt: t0 - 5000), event: .dependenciesMet, status: .pending,
            effects: [.dispatchPendingUnits, .publishStatus(from: .scheduled, to: .pending)]),
        Row(name: "dependency failed: skipped, pending units cancelled, finalized",
            job: waitingJob(), event: .dependencyFailed(jobID: 4, status: "failed"), status: .skipped,
            effects: [.appendLog(level: "warn", message: "skipped: dependency 4 ended failed"), .cancelPendingUnits,
                      .publishStatus(from: .scheduled, to: .skipped), .finalized(.skipped)]),
        Row(name: "dependency failed on a finished job changes nothing",
            job: waitingJob(status: .success), event: .dependencyFailed(jobID: 4, status: "failed"), status: .success,
            effects: []),
        Row(name: "dependencies met on a cancelled job changes nothing",
            job: waitingJob(status: .cancelled), event: .dependenciesMet, status: .cancelled, effects: []),
    ]

    @Test(arguments: table)
    func dependencyTransition(_ row: Row) throws {
        var job = row.job
        var unit: WorkUnit? = nil
        let effects = try JobReducer.reduce(&job, &unit, row.event, ReducerContext(now: Self.t0))
        #expect(job.status == row.status)
        #expect(effects == row.effects)
    }

    @Test func skippedByADependencyCarriesTheErrorNamingIt() throws {
        var job = Self.waitingJob(items: 3)
        var unit: WorkUnit? = nil
        _ = try JobReducer.reduce(&job, &unit, .dependencyFailed(jobID: 12, status: "cancelled"), ReducerContext(now: Self.t0 + 7))
        #expect(job.error == JobError(message: "dependency 12 ended cancelled", data: ["job_id": "12"]))
        #expect(job.finishedAt == Self.t0 + 7)
        #expect(job.units.cancelled == 3 && job.units.pending == 0)
    }

    @Test func eachUnitKeepsWhenItsLatestRunStartedAndEnded() throws {
        var job = Self.waitingJob(status: .pending, items: 2)
        var unit: WorkUnit? = WorkUnit(jobID: 9, index: 1, value: "b")
        _ = try JobReducer.reduce(&job, &unit, .unitStarted(index: 1), ReducerContext(now: Self.t0 + 10))
        #expect(unit?.startedAt == Self.t0 + 10 && unit?.finishedAt == nil)
        _ = try JobReducer.reduce(&job, &unit, .unitFailed(index: 1, error: JobError(message: "x"), retryable: true),
                                  ReducerContext(now: Self.t0 + 20))
        #expect(unit?.status == .pending && unit?.finishedAt == nil)  // waiting out a backoff: not ended
        _ = try JobReducer.reduce(&job, &unit, .unitBackoffElapsed(index: 1), ReducerContext(now: Self.t0 + 2000))
        _ = try JobReducer.reduce(&job, &unit, .unitStarted(index: 1), ReducerContext(now: Self.t0 + 2100))
        #expect(unit?.startedAt == Self.t0 + 2100 && unit?.attempt == 2)
        _ = try JobReducer.reduce(&job, &unit, .unitSucceeded(index: 1, result: "ok"), ReducerContext(now: Self.t0 + 2500))
        #expect(unit?.finishedAt == Self.t0 + 2500 && unit?.result == "ok")
    }
}

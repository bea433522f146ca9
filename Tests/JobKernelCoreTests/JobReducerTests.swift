import Testing
@testable import JobKernelCore

/// docs/promises.md §5: every status transition of a job and its units, decided by the pure reducer.
struct JobReducerTests {
    static let t0: Millis = 1_700_000_000_000

    static func job(items: Int? = nil, status: JobStatus = .pending, maxAttempts: Int = 3) -> Job {
        Job(id: 7, type: "t", dispatchMode: "async_api", status: status, priority: 50, lane: .normal, payload: [:],
            createdBy: "test", maxAttempts: maxAttempts, itemized: items != nil,
            units: UnitCounts(pending: items ?? 1), createdAt: t0, updatedAt: t0)
    }

    static func ctx(_ dt: Millis = 0) -> ReducerContext {
        ReducerContext(now: t0 + dt, backoffBaseMs: 1000, backoffMaxMs: 60_000, jitter: 0)
    }

    /// Runs events against a job; unit events act on units kept in a dictionary by index.
    struct Run {
        var job: Job
        var units: [Int: WorkUnit]
        var effects: [JobEffect] = []

        init(_ job: Job) {
            self.job = job
            units = Dictionary(uniqueKeysWithValues: (0..<job.units.total).map { ($0, WorkUnit(jobID: job.id, index: $0)) })
        }

        mutating func send(_ e: JobEvent, index: Int? = nil, dt: Millis = 0) throws {
            var u = index.map { units[$0]! }
            effects = try JobReducer.reduce(&job, &u, e, JobReducerTests.ctx(dt))
            if let u { units[u.index] = u }
            // Carry out the bulk effects the way the store does.
            for effect in effects {
                switch effect {
                case .cancelPendingUnits:
                    for (i, v) in units where v.status == .pending { units[i]!.status = .cancelled; units[i]!.runAt = nil }
                case .resetUnsucceededUnits:
                    for (i, v) in units where v.status == .failed || v.status == .cancelled {
                        units[i]!.status = .pending
                        units[i]!.attempt = 0
                    }
                default: break
                }
            }
        }
    }

    // MARK: One job without items

    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        var events: [(JobEvent, Int?)]
        var status: JobStatus
        var unit: UnitStatus
        var attempt: Int
        var testDescription: String { name }
    }

    static let err = JobError(message: "boom")

    static let table: [Row] = [
        Row(name: "started job is running", events: [(.unitStarted(index: 0), 0)], status: .running, unit: .running, attempt: 1),
        Row(name: "success", events: [(.unitStarted(index: 0), 0), (.unitSucceeded(index: 0, result: 1), 0)],
            status: .success, unit: .success, attempt: 1),
        Row(name: "permanent failure fails", events: [(.unitStarted(index: 0), 0), (.unitFailed(index: 0, error: err, retryable: false), 0)],
            status: .failed, unit: .failed, attempt: 1),
        Row(name: "retryable failure waits as scheduled", events: [(.unitStarted(index: 0), 0), (.unitFailed(index: 0, error: err, retryable: true), 0)],
            status: .scheduled, unit: .pending, attempt: 1),
        Row(name: "backoff elapsed makes it pending", events: [(.unitStarted(index: 0), 0), (.unitFailed(index: 0, error: err, retryable: true), 0),
                                                               (.unitBackoffElapsed(index: 0), 0)],
            status: .pending, unit: .pending, attempt: 1),
        Row(name: "second run is attempt 2", events: [(.unitStarted(index: 0), 0), (.unitFailed(index: 0, error: err, retryable: true), 0),
                                                      (.unitBackoffElapsed(index: 0), 0), (.unitStarted(index: 0), 0)],
            status: .running, unit: .running, attempt: 2),
        Row(name: "lost unit is requeued at once with its attempt counted",
            events: [(.unitStarted(index: 0), 0), (.unitLost(index: 0, reason: "lease expired"), 0)],
            status: .pending, unit: .pending, attempt: 1),
        Row(name: "interrupted unit reruns with the same attempt",
            events: [(.unitStarted(index: 0), 0), (.unitInterrupted(index: 0), 0), (.unitStarted(index: 0), 0)],
            status: .running, unit: .running, attempt: 1),
        Row(name: "cancel pending", events: [(.cancelRequested(reason: nil), nil)], status: .cancelled, unit: .cancelled, attempt: 0),
        Row(name: "cancel running waits for the unit", events: [(.unitStarted(index: 0), 0), (.cancelRequested(reason: nil), nil)],
            status: .running, unit: .running, attempt: 1),
        Row(name: "stopped unit ends the cancelled job", events: [(.unitStarted(index: 0), 0), (.cancelRequested(reason: nil), nil),
                                                                 (.unitStopped(index: 0), 0)],
            status: .cancelled, unit: .cancelled, attempt: 1),
        Row(name: "retry after failure restarts attempts", events: [(.unitStarted(index: 0), 0), (.unitFailed(index: 0, error: err, retryable: false), 0),
                                                                    (.retryRequested, nil), (.unitStarted(index: 0), 0)],
            status: .running, unit: .running, attempt: 1),
        Row(name: "requirement unmet skips", events: [(.requirementUnmet(toggle: "publishing"), nil)], status: .skipped, unit: .cancelled, attempt: 0),
        Row(name: "a late success after cancel of a pending job changes nothing",
            events: [(.cancelRequested(reason: nil), nil), (.unitSucceeded(index: 0, result: 1), 0)],
            status: .cancelled, unit: .cancelled, attempt: 0),
    ]

    @Test("transition table for a job without items", arguments: table)
    func transitions(row: Row) throws {
        var run = Run(Self.job())
        for (event, index) in row.events { try run.send(event, index: index) }
        #expect(run.job.status == row.status)
        #expect(run.units[0]!.status == row.unit)
        #expect(run.job.attempt == row.attempt)
        #expect(run.job.units.total == 1)
        #expect(run.job.units[row.unit] == 1)
    }

    @Test("attempts run out: the last retryable failure fails the job")
    func attemptsExhausted() throws {
        var run = Run(Self.job(maxAttempts: 2))
        try run.send(.unitStarted(index: 0), index: 0)
        try run.send(.unitFailed(index: 0, error: Self.err, retryable: true), index: 0)
        #expect(run.effects.contains(.armBackoff(index: 0, at: Self.t0 + 500)))
        try run.send(.unitBackoffElapsed(index: 0), index: 0)
        try run.send(.unitStarted(index: 0), index: 0)
        try run.send(.unitFailed(index: 0, error: Self.err, retryable: true), index: 0)
        #expect(run.job.status == .failed)
        #expect(run.job.error == Self.err)
        #expect(run.effects.contains(.finalized(.failed)))
    }

    @Test("started_at is when the latest run began: a retry after backoff moves it")
    func startedAtIsTheLatestRun() throws {
        var run = Run(Self.job())
        try run.send(.unitStarted(index: 0), index: 0, dt: 10)
        #expect(run.job.startedAt == Self.t0 + 10)
        try run.send(.unitFailed(index: 0, error: Self.err, retryable: true), index: 0, dt: 20)
        try run.send(.unitBackoffElapsed(index: 0), index: 0, dt: 600)
        try run.send(.unitStarted(index: 0), index: 0, dt: 700)
        #expect(run.job.startedAt == Self.t0 + 700)
    }

    @Test("started_at stays while the job keeps running: items starting one after another")
    func startedAtStaysWhileRunning() throws {
        var run = Run(Self.job(items: 2))
        try run.send(.unitStarted(index: 0), index: 0, dt: 10)
        try run.send(.unitStarted(index: 1), index: 1, dt: 30)
        #expect(run.job.startedAt == Self.t0 + 10)
    }

    @Test("lease lost with no attempts left fails with the reason")
    func lostWithoutAttempts() throws {
        var run = Run(Self.job(maxAttempts: 1))
        try run.send(.unitStarted(index: 0), index: 0)
        try run.send(.unitLost(index: 0, reason: "lease expired"), index: 0)
        #expect(run.job.status == .failed)
        #expect(run.job.error?.message == "lease expired")
    }

    @Test("retry is refused unless failed, cancelled or partial_success",
          arguments: [JobStatus.scheduled, .pending, .running, .success, .skipped])
    func retryRefused(status: JobStatus) {
        var job = Self.job(status: status)
        var unit: WorkUnit? = nil
        #expect(throws: JobRejection.invalidState(status)) {
            _ = try JobReducer.reduce(&job, &unit, .retryRequested, Self.ctx())
        }
    }

    @Test("cancel of a terminal job changes nothing", arguments: [JobStatus.success, .failed, .cancelled, .skipped, .partialSuccess])
    func cancelTerminal(status: JobStatus) throws {
        var job = Self.job(status: status)
        let before = job
        var unit: WorkUnit? = nil
        let effects = try JobReducer.reduce(&job, &unit, .cancelRequested(reason: nil), Self.ctx(5))
        #expect(effects.isEmpty)
        #expect(job.status == before.status)
    }

    // MARK: Items

    @Test("items finalize by the aggregate rule", arguments: [
        ([true, true, true], JobStatus.success),
        ([false, false, false], JobStatus.failed),
        ([true, false, true], JobStatus.partialSuccess),
    ])
    func aggregate(outcomes: [Bool], expected: JobStatus) throws {
        var run = Run(Self.job(items: outcomes.count))
        for i in outcomes.indices {
            try run.send(.unitStarted(index: i), index: i)
            #expect(run.effects.contains(.publishItemStatus(index: i, from: .pending, to: .running, error: nil)))
        }
        for (i, ok) in outcomes.enumerated() {
            try run.send(ok ? .unitSucceeded(index: i, result: .int(i)) : .unitFailed(index: i, error: Self.err, retryable: false), index: i)
            #expect(run.job.status == (i == outcomes.count - 1 ? expected : .running))
        }
        #expect(run.job.units.success == outcomes.filter { $0 }.count)
        #expect(run.job.finishedAt != nil)
    }

    @Test("retry of partial_success re-runs only the units that did not succeed")
    func retryPartial() throws {
        var run = Run(Self.job(items: 3))
        for i in 0..<3 { try run.send(.unitStarted(index: i), index: i) }
        try run.send(.unitSucceeded(index: 0, result: 0), index: 0)
        try run.send(.unitFailed(index: 1, error: Self.err, retryable: false), index: 1)
        try run.send(.unitSucceeded(index: 2, result: 2), index: 2)
        #expect(run.job.status == .partialSuccess)
        try run.send(.retryRequested)
        #expect(run.job.status == .pending)
        #expect(run.job.units == UnitCounts(pending: 1, success: 2))
        #expect(run.units[1]!.status == .pending && run.units[1]!.attempt == 0)
        #expect(run.effects.contains(.dispatchPendingUnits))
    }

    @Test("cancel of an itemized running job cancels pending items and stops running ones")
    func cancelItems() throws {
        var run = Run(Self.job(items: 4))
        try run.send(.unitStarted(index: 0), index: 0)
        try run.send(.unitSucceeded(index: 0, result: 0), index: 0)
        try run.send(.unitStarted(index: 1), index: 1)
        try run.send(.cancelRequested(reason: "user"))
        #expect(run.effects.contains(.stopRunningUnits))
        #expect(run.effects.contains(.cancelPendingUnits))
        #expect(run.effects.contains(.cancelDescendants(reason: "user")))
        #expect(run.job.status == .running && run.job.cancelRequested)
        try run.send(.unitStopped(index: 1), index: 1)
        #expect(run.job.status == .cancelled)
        #expect(run.job.units == UnitCounts(success: 1, cancelled: 3))
        #expect(run.job.error?.message == "user")
    }

    @Test("a retryable failure while other items run keeps the job running")
    func retryWhileOthersRun() throws {
        var run = Run(Self.job(items: 2))
        try run.send(.unitStarted(index: 0), index: 0)
        try run.send(.unitStarted(index: 1), index: 1)
        try run.send(.unitFailed(index: 0, error: Self.err, retryable: true), index: 0)
        #expect(run.job.status == .running)
        #expect(run.job.waiting == 1)
        try run.send(.unitSucceeded(index: 1, result: 1), index: 1)
        #expect(run.job.status == .running)
    }

    @Test("run_at reached makes a scheduled job pending and dispatches it")
    func runAt() throws {
        var job = Self.job(status: .scheduled)
        job.runAt = Self.t0 + 1000
        var unit: WorkUnit? = nil
        #expect(try JobReducer.reduce(&job, &unit, .runAtReached, Self.ctx(10)).isEmpty)
        let effects = try JobReducer.reduce(&job, &unit, .runAtReached, Self.ctx(1000))
        #expect(job.status == .pending)
        #expect(effects.contains(.dispatchPendingUnits))
    }

    @Test("backoff doubles, caps and is jittered into [0.5, 1) of its value")
    func backoff() {
        let c = ReducerContext(now: 0, backoffBaseMs: 1000, backoffMaxMs: 5000, jitter: 0)
        #expect(c.backoff(afterAttempt: 1) == 500)
        #expect(c.backoff(afterAttempt: 2) == 1000)
        #expect(c.backoff(afterAttempt: 3) == 2000)
        #expect(c.backoff(afterAttempt: 10) == 2500)
        let hi = ReducerContext(now: 0, backoffBaseMs: 1000, backoffMaxMs: 5000, jitter: 0.999)
        #expect(hi.backoff(afterAttempt: 3) < 4000 && hi.backoff(afterAttempt: 3) >= 3990)
    }
}

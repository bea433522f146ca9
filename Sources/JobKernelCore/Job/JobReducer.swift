/// Something that happened to a job or one of its units. Named in the past tense; the reducer
/// decides what it means.
public enum JobEvent: Hashable, Sendable {
    /// A worker took the unit (a lease was granted, a handler was spawned).
    case unitStarted(index: Int)
    case unitSucceeded(index: Int, result: JSON)
    case unitFailed(index: Int, error: JobError, retryable: Bool)
    /// The unit's runner vanished (lease expired, worker died, kernel crashed): a retryable
    /// failure with its attempt counted.
    case unitLost(index: Int, reason: String)
    /// A graceful shutdown stopped the unit; the rerun keeps its attempt number.
    case unitInterrupted(index: Int)
    /// A unit stopped because its job was cancelled.
    case unitStopped(index: Int)
    /// A retry backoff elapsed.
    case unitBackoffElapsed(index: Int)
    /// The job's `run_at` arrived.
    case runAtReached
    case cancelRequested(reason: String?)
    case retryRequested
    /// A toggle the job `requires` was off when it was about to start (docs/promises.md §8.3).
    case requirementUnmet(toggle: String)
    /// Every job the job waited for (`after`, docs/promises.md §8.6) ended `success`.
    case dependenciesMet
    /// A job the job waited for ended other than `success` (or was removed before it did).
    case dependencyFailed(jobID: Int64, status: String)
}

/// What the shell must do after a transition. The reducer has already updated the job and unit;
/// persisting both is implied, these are the rest.
public enum JobEffect: Hashable, Sendable {
    /// Append `job.status` `{from, to, job}`.
    case publishStatus(from: JobStatus, to: JobStatus)
    /// Append `item.status` for an itemized job's unit.
    case publishItemStatus(index: Int, from: UnitStatus, to: UnitStatus, error: JobError?)
    /// Make the unit available to workers now.
    case dispatchUnit(index: Int)
    /// Make every pending, not-waiting unit of the job available to workers now.
    case dispatchPendingUnits
    /// Call back with `unitBackoffElapsed` at the given time.
    case armBackoff(index: Int, at: Millis)
    /// Call back with `runAtReached` at the given time.
    case armRunAt(at: Millis)
    /// Take the job's pending units off the dispatch queues and mark them cancelled.
    case cancelPendingUnits
    /// Tell the workers holding the job's running units to stop; each reports `unitStopped`.
    case stopRunningUnits
    /// Mark the failed and cancelled units pending again with fresh attempts.
    case resetUnsucceededUnits
    /// Cancel every non-terminal descendant of the job.
    case cancelDescendants(reason: String?)
    /// The job reached a terminal status: wake waiters, chain successors.
    case finalized(JobStatus)
    /// Append a line to the job's log.
    case appendLog(level: String, message: String)
}

/// Why the reducer refused an event: the caller maps it to an RPC error.
public enum JobRejection: Error, Hashable, Sendable {
    case invalidState(JobStatus)
}

/// The inputs of a transition that come from outside: the clock, the retry policy, a random draw.
public struct ReducerContext: Sendable {
    public var now: Millis
    public var backoffBaseMs: Int64
    public var backoffMaxMs: Int64
    /// A number in 0..<1 for the backoff jitter, drawn by the caller so the reducer stays pure.
    public var jitter: Double
    /// When set, a retry waits until then instead of its own backoff: the units of one sync_api
    /// batch retry together, as the same batch (docs/promises.md §5.3).
    public var backoffUntil: Millis?

    public init(now: Millis, backoffBaseMs: Int64 = 1000, backoffMaxMs: Int64 = 300_000, jitter: Double = 0.5,
                backoffUntil: Millis? = nil) {
        self.now = now
        self.backoffBaseMs = backoffBaseMs
        self.backoffMaxMs = backoffMaxMs
        self.jitter = jitter
        self.backoffUntil = backoffUntil
    }

    /// The wait before retry `n` (n ≥ 1): `base * 2^(n-1)`, capped at `max`, then scaled by a
    /// jitter factor in [0.5, 1.0) so that retries of many units spread out.
    public func backoff(afterAttempt n: Int) -> Int64 {
        let exponent = min(max(n - 1, 0), 40)
        let raw = Double(backoffBaseMs) * Double(1 << exponent)
        let capped = min(raw, Double(backoffMaxMs))
        return Int64(capped * (0.5 + jitter / 2))
    }
}

/// Every status transition of a job and its units, decided without I/O (docs/promises.md §5).
public enum JobReducer {
    /// The log line that marks where a run's lines begin in the job's log (protocol/protocol.md,
    /// logs): `── attempt 2 ──` for every attempt after the first, also for a rerun after an
    /// interruption; `── item 3, attempt 2 ──` in an itemized job. The first attempt has none.
    public static func attemptMarker(_ job: Job, _ unit: WorkUnit, rerun: Bool) -> String? {
        guard unit.attempt > 1 || rerun else { return nil }
        let what = (job.itemized ? "item \(unit.index), " : "") + "attempt \(unit.attempt)"
        return "── " + what + (rerun ? ", again after an interruption" : "") + " ──"
    }

    /// Applies `event` to `job` and, for unit events, to `unit`. Returns what the shell must do.
    /// An event that does not apply to the current state changes nothing and returns no effects,
    /// except where a caller asked for something the status forbids (`JobRejection`).
    public static func reduce(_ job: inout Job, _ unit: inout WorkUnit?, _ event: JobEvent,
                              _ context: ReducerContext) throws(JobRejection) -> [JobEffect] {
        var effects: [JobEffect] = []
        let now = context.now
        switch event {
        case .unitStarted:
            guard !job.status.isTerminal, !job.cancelRequested, var u = unit, u.status == .pending else { return [] }
            let rerun = u.interrupted
            if !u.interrupted { u.attempt += 1 }
            u.interrupted = false
            u.runAt = nil
            u.startedAt = now
            u.finishedAt = nil
            move(&job, &u, to: .running, &effects)
            unit = u
            job.attempt = u.attempt
            job.lastActivityAt = now
            // `started_at` is when the latest run began: the job (re)entering `running`.
            if job.status != .running { job.startedAt = now }
            setStatus(&job, .running, &effects)
            if let marker = attemptMarker(job, u, rerun: rerun) { effects.append(.appendLog(level: "info", message: marker)) }

        case .unitSucceeded(_, let result):
            guard var u = unit, u.status == .running else { return [] }
            u.result = result
            u.error = nil
            move(&job, &u, to: .success, &effects)
            unit = u
            if !job.itemized { job.result = result }
            job.lastActivityAt = now
            finalizeIfDone(&job, now, &effects)

        case .unitFailed(_, let error, let retryable):
            guard var u = unit, u.status == .running else { return [] }
            fail(&job, &u, error: error, retryable: retryable, context, &effects)
            unit = u

        case .unitLost(_, let reason):
            guard var u = unit, u.status == .running else { return [] }
            fail(&job, &u, error: JobError(message: reason), retryable: true, backoff: false, context, &effects)
            unit = u

        case .unitInterrupted:
            guard var u = unit, u.status == .running else { return [] }
            u.interrupted = true
            move(&job, &u, to: .pending, &effects)
            unit = u
            if job.units.running == 0 { setStatus(&job, .pending, &effects) }

        case .unitStopped:
            guard var u = unit, u.status == .running else { return [] }
            u.error = JobError(message: "cancelled")
            move(&job, &u, to: .cancelled, &effects)
            unit = u
            finalizeIfDone(&job, now, &effects)

        case .unitBackoffElapsed:
            guard !job.status.isTerminal, var u = unit, u.status == .pending, u.runAt != nil else { return [] }
            u.runAt = nil
            unit = u
            job.waiting -= 1
            effects.append(.dispatchUnit(index: u.index))
            if job.status == .scheduled, job.runAt.map({ $0 <= now }) ?? true {
                setStatus(&job, .pending, &effects)
            }

        case .runAtReached:
            guard job.status == .scheduled, let runAt = job.runAt, runAt <= now else { return [] }
            effects.append(.dispatchPendingUnits)
            setStatus(&job, .pending, &effects)

        case .cancelRequested(let reason):
            guard !job.status.isTerminal else { return [] }
            effects.append(.cancelDescendants(reason: reason))
            job.error = JobError(message: reason ?? "cancelled")
            cancelPendingUnits(&job, &effects)
            job.cancelRequested = true
            if job.units.running > 0 {
                effects.append(.stopRunningUnits)
                job.lastActivityAt = now
            } else {
                finalizeIfDone(&job, now, &effects)
            }

        case .retryRequested:
            switch job.status {
            case .failed, .cancelled, .partialSuccess: break
            default: throw .invalidState(job.status)
            }
            let again = job.units.failed + job.units.cancelled
            effects.append(.resetUnsucceededUnits)
            job.units.pending += again
            job.units.failed = 0
            job.units.cancelled = 0
            job.waiting = 0
            job.cancelRequested = false
            job.error = nil
            job.result = .null
            job.startedAt = nil
            job.finishedAt = nil
            job.runAt = nil
            effects.append(.appendLog(level: "info", message: "── retried ──"))
            effects.append(.dispatchPendingUnits)
            setStatus(&job, .pending, &effects)

        case .dependenciesMet:
            guard job.status == .scheduled, job.units.running == 0 else { return [] }
            if let runAt = job.runAt, runAt > now {
                effects.append(.armRunAt(at: runAt))
            } else {
                effects.append(.dispatchPendingUnits)
                setStatus(&job, .pending, &effects)
            }

        case .dependencyFailed(let id, let status):
            guard job.status == .scheduled || job.status == .pending, job.units.running == 0 else { return [] }
            let message = "dependency \(id) ended \(status)"
            effects.append(.appendLog(level: "warn", message: "skipped: \(message)"))
            cancelPendingUnits(&job, &effects)
            job.finishedAt = now
            job.error = JobError(message: message, data: ["job_id": .string(String(id))])
            setStatus(&job, .skipped, &effects)
            effects.append(.finalized(.skipped))

        case .requirementUnmet(let toggle):
            guard job.status == .pending || job.status == .scheduled, job.units.running == 0 else { return [] }
            effects.append(.appendLog(level: "warn", message: "skipped: workflow toggle \"\(toggle)\" is off"))
            cancelPendingUnits(&job, &effects)
            job.finishedAt = now
            job.error = JobError(message: "workflow toggle \(toggle) is off")
            setStatus(&job, .skipped, &effects)
            effects.append(.finalized(.skipped))
        }
        job.updatedAt = now
        if var u = unit, u.status.isTerminal, u.finishedAt == nil, u.startedAt != nil {
            u.finishedAt = now
            unit = u
        }
        return effects
    }

    /// A retryable failure with attempts left waits out a backoff, except a lost unit (its
    /// runner vanished, the work itself did not fail), which goes straight back to the queue.
    private static func fail(_ job: inout Job, _ u: inout WorkUnit, error: JobError, retryable: Bool,
                             backoff: Bool = true, _ context: ReducerContext, _ effects: inout [JobEffect]) {
        u.error = error
        job.lastActivityAt = context.now
        if job.cancelRequested {
            move(&job, &u, to: .cancelled, &effects)
        } else if retryable && u.attempt < job.maxAttempts && !backoff {
            move(&job, &u, to: .pending, &effects)
            effects.append(.dispatchUnit(index: u.index))
            if job.units.running == 0 { setStatus(&job, .pending, &effects) }
            return
        } else if retryable && u.attempt < job.maxAttempts {
            let at = context.backoffUntil ?? context.now + context.backoff(afterAttempt: u.attempt)
            u.runAt = at
            job.waiting += 1
            move(&job, &u, to: .pending, &effects)
            effects.append(.armBackoff(index: u.index, at: at))
            // Nothing of the job runs and nothing is ready: it waits, as `scheduled`.
            if job.units.running == 0 && job.units.pending == job.waiting {
                setStatus(&job, .scheduled, &effects)
            }
            return
        } else {
            move(&job, &u, to: .failed, &effects)
            if !job.itemized { job.error = error }
        }
        finalizeIfDone(&job, context.now, &effects)
    }

    /// Every pending unit (ready or waiting out a backoff) becomes cancelled.
    private static func cancelPendingUnits(_ job: inout Job, _ effects: inout [JobEffect]) {
        guard job.units.pending > 0 else { return }
        effects.append(.cancelPendingUnits)
        job.units.cancelled += job.units.pending
        job.units.pending = 0
        job.waiting = 0
    }

    private static func move(_ job: inout Job, _ u: inout WorkUnit, to status: UnitStatus,
                             _ effects: inout [JobEffect]) {
        let from = u.status
        guard from != status else { return }
        job.units.move(from: from, to: status)
        u.status = status
        if job.itemized {
            let error = (status == .failed || status == .cancelled || (status == .pending && from == .running)) ? u.error : nil
            effects.append(.publishItemStatus(index: u.index, from: from, to: status, error: error))
        }
    }

    private static func setStatus(_ job: inout Job, _ status: JobStatus, _ effects: inout [JobEffect]) {
        guard job.status != status else { return }
        effects.append(.publishStatus(from: job.status, to: status))
        job.status = status
    }

    /// When every unit is terminal the job ends: all succeeded → success, all failed → failed,
    /// some of each → partial_success; a job whose cancel was requested ends cancelled.
    private static func finalizeIfDone(_ job: inout Job, _ now: Millis, _ effects: inout [JobEffect]) {
        guard job.units.pending == 0, job.units.running == 0, !job.status.isTerminal else { return }
        let c = job.units
        let status: JobStatus
        if job.cancelRequested {
            status = .cancelled
        } else if c.failed == 0 && c.cancelled == 0 {
            status = .success
            job.error = nil
        } else if c.success == 0 {
            status = .failed
            if job.itemized { job.error = JobError(message: "all \(c.total) items failed") }
        } else {
            status = .partialSuccess
            job.error = JobError(message: "\(c.failed + c.cancelled) of \(c.total) items did not succeed")
        }
        job.finishedAt = now
        setStatus(&job, status, &effects)
        effects.append(.finalized(status))
    }
}

/// A job as the kernel keeps it (SPEC §5 "The job object").
///
/// `units` counts every unit, including the single implicit unit of a job without items; only an
/// itemized job shows them as `items`. `waiting` counts pending units held back by a retry backoff.
public struct Job: Hashable, Sendable {
    public var id: Int64
    public var type: String
    public var dispatchMode: String
    public var status: JobStatus
    public var priority: Int
    public var lane: Lane
    public var payload: JSON
    public var createdBy: String
    public var idempotencyKey: String?
    public var parentID: Int64?
    public var manual: Bool
    public var attempt: Int
    public var maxAttempts: Int
    public var timeoutMs: Int64?
    public var runAt: Millis?
    public var cancelRequested: Bool
    public var progress: Progress
    public var itemized: Bool
    public var units: UnitCounts
    public var waiting: Int
    public var result: JSON
    public var error: JobError?
    public var createdAt: Millis
    public var startedAt: Millis?
    public var finishedAt: Millis?
    public var lastActivityAt: Millis?
    public var updatedAt: Millis

    public init(id: Int64, type: String, dispatchMode: String, status: JobStatus, priority: Int, lane: Lane,
                payload: JSON, createdBy: String, idempotencyKey: String? = nil, parentID: Int64? = nil,
                manual: Bool = false, attempt: Int = 0, maxAttempts: Int, timeoutMs: Int64? = nil,
                runAt: Millis? = nil, cancelRequested: Bool = false, progress: Progress = Progress(),
                itemized: Bool, units: UnitCounts, waiting: Int = 0, result: JSON = .null,
                error: JobError? = nil, createdAt: Millis, startedAt: Millis? = nil,
                finishedAt: Millis? = nil, lastActivityAt: Millis? = nil, updatedAt: Millis) {
        self.id = id
        self.type = type
        self.dispatchMode = dispatchMode
        self.status = status
        self.priority = priority
        self.lane = lane
        self.payload = payload
        self.createdBy = createdBy
        self.idempotencyKey = idempotencyKey
        self.parentID = parentID
        self.manual = manual
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.timeoutMs = timeoutMs
        self.runAt = runAt
        self.cancelRequested = cancelRequested
        self.progress = progress
        self.itemized = itemized
        self.units = units
        self.waiting = waiting
        self.result = result
        self.error = error
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.lastActivityAt = lastActivityAt
        self.updatedAt = updatedAt
    }

    /// The job object of SPEC §5. `children` is filled in by whoever knows them (the store).
    public func json(children: JSON = ["total": 0]) -> JSON {
        let o = JSONObject(uniquePairs: [
            ("id", .string(String(id))),
            ("type", .string(type)),
            ("dispatch_mode", .string(dispatchMode)),
            ("status", .string(status.rawValue)),
            ("priority", .int(priority)),
            ("lane", .string(lane.rawValue)),
            ("payload", payload),
            ("created_by", .string(createdBy)),
            ("idempotency_key", idempotencyKey.map { .string($0) } ?? .null),
            ("parent_id", parentID.map { .string(String($0)) } ?? .null),
            ("manual", .bool(manual)),
            ("attempt", .int(attempt)),
            ("max_attempts", .int(maxAttempts)),
            ("run_at", runAt.map { .string(Timestamp.format($0)) } ?? .null),
            ("cancel_requested", .bool(cancelRequested)),
            ("progress", progress.json(items: itemized ? units : nil)),
            ("items", itemized ? units.itemsJSON : .null),
            ("children", children),
            ("result", result),
            ("error", error?.json ?? .null),
            ("created_at", .string(Timestamp.format(createdAt))),
            ("started_at", startedAt.map { .string(Timestamp.format($0)) } ?? .null),
            ("finished_at", finishedAt.map { .string(Timestamp.format($0)) } ?? .null),
            ("last_activity_at", lastActivityAt.map { .string(Timestamp.format($0)) } ?? .null),
            ("updated_at", .string(Timestamp.format(updatedAt))),
        ])
        return .object(o)
    }
}

/// The scheduling lane (SPEC §8.1): priority at or above the threshold runs in the priority lane.
public enum Lane: String, Sendable {
    case normal, priority

    public init(priority: Int, threshold: Int) {
        self = priority >= threshold ? .priority : .normal
    }
}

extension UnitCounts {
    /// `{total, pending, running, success, failed, cancelled}`
    public var itemsJSON: JSON {
        [
            "total": .int(total), "pending": .int(pending), "running": .int(running),
            "success": .int(success), "failed": .int(failed), "cancelled": .int(cancelled),
        ]
    }
}

/// One unit of work: an item of an itemized job, or the whole of a job without items (index 0).
public struct WorkUnit: Hashable, Sendable {
    public var jobID: Int64
    public var index: Int
    public var value: JSON
    public var status: UnitStatus
    public var attempt: Int
    /// When a unit waiting out a backoff becomes ready again.
    public var runAt: Millis?
    /// Set when a graceful shutdown stopped the unit: its rerun keeps the same attempt number.
    public var interrupted: Bool
    public var result: JSON
    public var error: JobError?
    /// When the unit's latest run began, and when it ended (SPEC §13 `items`).
    public var startedAt: Millis?
    public var finishedAt: Millis?

    public init(jobID: Int64, index: Int, value: JSON = .null, status: UnitStatus = .pending, attempt: Int = 0,
                runAt: Millis? = nil, interrupted: Bool = false, result: JSON = .null, error: JobError? = nil,
                startedAt: Millis? = nil, finishedAt: Millis? = nil) {
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.jobID = jobID
        self.index = index
        self.value = value
        self.status = status
        self.attempt = attempt
        self.runAt = runAt
        self.interrupted = interrupted
        self.result = result
        self.error = error
    }
}

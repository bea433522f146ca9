/// A job as the kernel keeps it (docs/promises.md §5 "The job object").
///
/// `units` counts every unit, including the single implicit unit of a job without items; only an
/// itemized job shows them as `items`. `waiting` counts pending units held back by a retry backoff.
///
/// What the enqueue fixed (type, payload, creator, limits) lives in one `Spec` that every copy of
/// the job shares, so copying a job, which the loop does several times per status change, copies
/// and retains the state that changes plus one reference. The spec's fields read and write like
/// the job's own; writing one gives this copy a spec of its own.
public struct Job: Hashable, Sendable {
    public var id: Int64
    private var spec: SpecBox
    public var status: JobStatus
    public var attempt: Int
    public var runAt: Millis?
    public var cancelRequested: Bool
    public var progress: Progress
    public var itemized: Bool
    public var units: UnitCounts
    public var waiting: Int
    public var result: JSON
    public var error: JobError?
    public var startedAt: Millis?
    public var finishedAt: Millis?
    public var lastActivityAt: Millis?
    public var updatedAt: Millis

    /// The fields an enqueue fixes.
    struct Spec: Hashable, Sendable {
        var type: String
        var dispatchMode: String
        var priority: Int
        var lane: Lane
        var payload: JSON
        /// What the job is, for people (docs/promises.md §13); cosmetic, not compared by idempotency keys.
        var label: String?
        var createdBy: String
        var idempotencyKey: String?
        var parentID: Int64?
        var manual: Bool
        var maxAttempts: Int
        var timeoutMs: Int64?
        var createdAt: Millis
    }

    final class SpecBox: Hashable, Sendable, CustomDebugStringConvertible {
        let value: Spec
        init(_ value: Spec) { self.value = value }
        static func == (a: SpecBox, b: SpecBox) -> Bool { a === b || a.value == b.value }
        func hash(into h: inout Hasher) { value.hash(into: &h) }
        /// A test failure that prints a job shows its spec's fields, not the box.
        var debugDescription: String { String(reflecting: value) }
    }

    private mutating func setSpec<T>(_ field: WritableKeyPath<Spec, T>, _ v: T) {
        var s = spec.value
        s[keyPath: field] = v
        spec = SpecBox(s)
    }

    public var type: String { get { spec.value.type } set { setSpec(\.type, newValue) } }
    public var dispatchMode: String { get { spec.value.dispatchMode } set { setSpec(\.dispatchMode, newValue) } }
    public var priority: Int { get { spec.value.priority } set { setSpec(\.priority, newValue) } }
    public var lane: Lane { get { spec.value.lane } set { setSpec(\.lane, newValue) } }
    public var payload: JSON { get { spec.value.payload } set { setSpec(\.payload, newValue) } }
    public var label: String? { get { spec.value.label } set { setSpec(\.label, newValue) } }
    public var createdBy: String { get { spec.value.createdBy } set { setSpec(\.createdBy, newValue) } }
    public var idempotencyKey: String? { get { spec.value.idempotencyKey } set { setSpec(\.idempotencyKey, newValue) } }
    public var parentID: Int64? { get { spec.value.parentID } set { setSpec(\.parentID, newValue) } }
    public var manual: Bool { get { spec.value.manual } set { setSpec(\.manual, newValue) } }
    public var maxAttempts: Int { get { spec.value.maxAttempts } set { setSpec(\.maxAttempts, newValue) } }
    public var timeoutMs: Int64? { get { spec.value.timeoutMs } set { setSpec(\.timeoutMs, newValue) } }
    public var createdAt: Millis { get { spec.value.createdAt } set { setSpec(\.createdAt, newValue) } }

    public init(id: Int64, type: String, dispatchMode: String, status: JobStatus, priority: Int, lane: Lane,
                payload: JSON, label: String? = nil, createdBy: String, idempotencyKey: String? = nil, parentID: Int64? = nil,
                manual: Bool = false, attempt: Int = 0, maxAttempts: Int, timeoutMs: Int64? = nil,
                runAt: Millis? = nil, cancelRequested: Bool = false, progress: Progress = Progress(),
                itemized: Bool, units: UnitCounts, waiting: Int = 0, result: JSON = .null,
                error: JobError? = nil, createdAt: Millis, startedAt: Millis? = nil,
                finishedAt: Millis? = nil, lastActivityAt: Millis? = nil, updatedAt: Millis) {
        self.id = id
        self.spec = SpecBox(Spec(
            type: type, dispatchMode: dispatchMode, priority: priority, lane: lane, payload: payload,
            label: label, createdBy: createdBy, idempotencyKey: idempotencyKey, parentID: parentID, manual: manual,
            maxAttempts: maxAttempts, timeoutMs: timeoutMs, createdAt: createdAt))
        self.status = status
        self.attempt = attempt
        self.runAt = runAt
        self.cancelRequested = cancelRequested
        self.progress = progress
        self.itemized = itemized
        self.units = units
        self.waiting = waiting
        self.result = result
        self.error = error
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.lastActivityAt = lastActivityAt
        self.updatedAt = updatedAt
    }

    /// A job as an enqueue made it (without items, pending, never changed) in three words: its
    /// id, its `run_at`, and the spec it shares with its copies. The rest follows from those.
    public struct AsEnqueued: Sendable {
        public let id: Int64
        fileprivate let spec: SpecBox
        fileprivate let runAt: Millis?
    }

    /// This job in three words; only for a job an enqueue has just made, without items.
    public var asEnqueued: AsEnqueued {
        let e = AsEnqueued(id: id, spec: spec, runAt: runAt)
        assert(Job(e) == self, "not a job as an enqueue makes it")
        return e
    }

    /// The job `e` stands for.
    public init(_ e: AsEnqueued) {
        id = e.id
        spec = e.spec
        status = .pending
        attempt = 0
        runAt = e.runAt
        cancelRequested = false
        progress = Progress()
        itemized = false
        units = UnitCounts(pending: 1)
        waiting = 0
        result = .null
        error = nil
        startedAt = nil
        finishedAt = nil
        lastActivityAt = nil
        updatedAt = e.spec.value.createdAt
    }

    /// The job object of docs/promises.md §5. `children` is filled in by whoever knows them (the store).
    public func json(children: JSON = ["total": 0]) -> JSON {
        let o = JSONObject(uniquePairs: [
            ("id", .string(String(id))),
            ("type", .string(type)),
            ("label", label.map { .string($0) } ?? .null),
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

/// The scheduling lane (docs/promises.md §8.1): priority at or above the threshold runs in the priority lane.
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
    /// When the unit's latest run began, and when it ended (docs/promises.md §13 `items`).
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

import JobKernelCore

/// Why a `pending` or `scheduled` job has not started (docs/promises.md §13, the job object's
/// `waiting`). Decided by `of(_:)` from facts the kernel gathers when asked (`get`, `list`):
/// nothing is kept for it, so nothing can go stale.
enum WaitReason: Equatable, Sendable {
    /// Its type, or everything, is paused: `setting` is `paused.<type>` or `paused.*`.
    case paused(setting: String)
    /// Ready, behind other units or with every slot it may use taken (for an `async_api` type:
    /// no worker has fetched it yet). `position` is its place in its type's queue, 1 = next.
    case poolFull(position: Int?)
    /// It waits for these jobs to end `success` (`enqueue {after}`).
    case after([Int64])
    /// Its `run_at`, or the end of a retry backoff, is still ahead.
    case delayed(until: Millis)
    /// Its type `requires` this toggle, which is off: it will end `skipped` when its turn comes
    /// unless the toggle is turned on first.
    case toggleOff(String)

    /// What the kernel knows of one job when it is asked.
    struct Facts: Sendable {
        var status: JobStatus
        var now: Millis
        /// The job's `run_at`.
        var runAt: Millis? = nil
        /// When its earliest unit in a retry backoff may run again (nil: none is).
        var backoffUntil: Millis? = nil
        /// The jobs it still waits for.
        var dependencies: [Int64] = []
        /// The setting that pauses its type, if one does.
        var pausedBy: String? = nil
        /// A `requires` toggle of its type that is off (nil for a manual job).
        var toggleOff: String? = nil
        /// Its place in its type's queue, when a unit of it is there.
        var position: Int? = nil
    }

    /// Why the job waits, or nil when it does not (any status but `pending` and `scheduled`).
    /// What keeps it longest comes first: a dependency, then a time, then a pause, then a toggle,
    /// then the queue.
    static func of(_ f: Facts) -> WaitReason? {
        guard f.status == .pending || f.status == .scheduled else { return nil }
        if !f.dependencies.isEmpty { return .after(f.dependencies.sorted()) }
        if let runAt = f.runAt, runAt > f.now { return .delayed(until: runAt) }
        // Nothing of it is queued and a unit waits out a backoff: the backoff is what it waits for.
        if f.position == nil, let until = f.backoffUntil { return .delayed(until: until) }
        if let setting = f.pausedBy { return .paused(setting: setting) }
        if let toggle = f.toggleOff { return .toggleOff(toggle) }
        return .poolFull(position: f.position)
    }

    /// `{reason, …}` as the job object's `waiting` shows it.
    var json: JSON {
        switch self {
        case .paused(let setting):
            return ["reason": "paused", "setting": .string(setting)]
        case .poolFull(let position):
            return ["reason": "pool_full", "position": position.map { .int($0) } ?? .null]
        case .after(let ids):
            return ["reason": "after", "job_ids": .array(ids.map { .string(String($0)) })]
        case .delayed(let until):
            return ["reason": "delayed", "until": .string(Timestamp.format(until))]
        case .toggleOff(let toggle):
            return ["reason": "toggle_off", "toggle": .string(toggle)]
        }
    }
}

/// What of a job changes after it is created, on its own: the event log keeps a `job.status`
/// event as this state (a few dozen bytes) instead of the whole job object (payload included),
/// and renders the object again from the job row and this state when the event is replayed.
extension Job {
    /// The changing fields as compact JSON bytes (times as milliseconds).
    public func changingState() -> [UInt8] {
        var o = JSONObject(uniquePairs: [
            ("status", .string(status.rawValue)),
            ("attempt", .int(attempt)),
            ("cancel_requested", .bool(cancelRequested)),
            ("units", [.int(units.pending), .int(units.running), .int(units.success), .int(units.failed),
                       .int(units.cancelled)]),
            ("waiting", .int(waiting)),
            ("updated_at", .int(Int(updatedAt))),
        ])
        if let runAt { o["run_at"] = .int(Int(runAt)) }
        if let startedAt { o["started_at"] = .int(Int(startedAt)) }
        if let finishedAt { o["finished_at"] = .int(Int(finishedAt)) }
        if let lastActivityAt { o["last_activity_at"] = .int(Int(lastActivityAt)) }
        if progress != Progress() {
            o["progress"] = [
                "current": progress.current.map { .double($0) } ?? .null,
                "total": progress.total.map { .double($0) } ?? .null,
                "phase": progress.phase.map { .string($0) } ?? .null,
                "message": progress.message.map { .string($0) } ?? .null,
            ]
        }
        if !result.isNull { o["result"] = result }
        if let error { o["error"] = error.json }
        return JSON.object(o).serialized()
    }

    /// This job (as created) with the changing fields of `state`, which `changingState` wrote;
    /// nil when `state` is not such a state.
    public func withChangingState(_ state: JSON) -> Job? {
        func time(_ key: String) -> Millis? { state[key]?.intValue.map(Millis.init) }
        guard let status = state["status"]?.stringValue.flatMap(JobStatus.init(rawValue:)),
              let attempt = state["attempt"]?.intValue, let cancelRequested = state["cancel_requested"]?.boolValue,
              case .array(let u)? = state["units"], u.count == 5, let counts = Optional(u.compactMap(\.intValue)),
              counts.count == 5, let waiting = state["waiting"]?.intValue, let updatedAt = time("updated_at") else {
            return nil
        }
        var job = self
        job.status = status
        job.attempt = attempt
        job.cancelRequested = cancelRequested
        job.units = UnitCounts(pending: counts[0], running: counts[1], success: counts[2], failed: counts[3],
                               cancelled: counts[4])
        job.waiting = waiting
        job.updatedAt = updatedAt
        job.runAt = time("run_at")
        job.startedAt = time("started_at")
        job.finishedAt = time("finished_at")
        job.lastActivityAt = time("last_activity_at")
        let p = state["progress"]
        job.progress = Progress(current: p?["current"]?.doubleValue, total: p?["total"]?.doubleValue,
                                phase: p?["phase"]?.stringValue, message: p?["message"]?.stringValue)
        job.result = state["result"] ?? .null
        job.error = state["error"].flatMap(JobError.init(json:))
        return job
    }
}

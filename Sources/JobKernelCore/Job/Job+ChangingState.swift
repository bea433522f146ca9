/// What of a job changes after it is created, on its own: the event log keeps a `job.status`
/// event as this state (a few dozen bytes) instead of the whole job object (payload included),
/// and renders the object again from the job row and this state when the event is replayed.
extension Job {
    /// The changing fields as compact JSON bytes (times as milliseconds).
    public func changingState() -> [UInt8] {
        var b = ByteWriter(capacity: 192)
        writeChangingState(into: &b)
        return b.finish()
    }

    /// Appends `changingState()` to `b`, written straight to bytes (one per status change).
    public func writeChangingState(into b: inout ByteWriter) {
        b.append(#"{"status":""#)
        b.append(utf8: status.rawValue)
        b.append(#"","attempt":"#)
        JSONWriter.writeInt(attempt, into: &b)
        b.append(cancelRequested ? #","cancel_requested":true,"units":["# : #","cancel_requested":false,"units":["#)
        JSONWriter.writeInt(units.pending, into: &b)
        b.append(UInt8(ascii: ","))
        JSONWriter.writeInt(units.running, into: &b)
        b.append(UInt8(ascii: ","))
        JSONWriter.writeInt(units.success, into: &b)
        b.append(UInt8(ascii: ","))
        JSONWriter.writeInt(units.failed, into: &b)
        b.append(UInt8(ascii: ","))
        JSONWriter.writeInt(units.cancelled, into: &b)
        b.append(#"],"waiting":"#)
        JSONWriter.writeInt(waiting, into: &b)
        b.append(#","updated_at":"#)
        JSONWriter.writeInt(Int(updatedAt), into: &b)
        func time(_ key: StaticString, _ time: Millis?) {
            guard let time else { return }
            b.append(key)
            JSONWriter.writeInt(Int(time), into: &b)
        }
        time(#","run_at":"#, runAt)
        time(#","started_at":"#, startedAt)
        time(#","finished_at":"#, finishedAt)
        time(#","last_activity_at":"#, lastActivityAt)
        if progress != Progress() {
            b.append(#","progress":"#)
            JSONWriter.write([
                "current": progress.current.map { .double($0) } ?? .null,
                "total": progress.total.map { .double($0) } ?? .null,
                "phase": progress.phase.map { .string($0) } ?? .null,
                "message": progress.message.map { .string($0) } ?? .null,
            ], into: &b)
        }
        if !result.isNull {
            b.append(#","result":"#)
            JSONWriter.write(result, into: &b)
        }
        if let error {
            b.append(#","error":"#)
            JSONWriter.write(error.json, into: &b)
        }
        b.append(UInt8(ascii: "}"))
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

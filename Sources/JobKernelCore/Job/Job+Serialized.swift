/// The job object written straight to bytes: the same bytes as `json(children:).serialized()`,
/// without building the tree of values first (the hot path writes one per change).
extension Job {
    /// The compact bytes of the job object of SPEC §5.
    /// `children` nil is `{"total":0}`, a job without children.
    public func serializedJSON(children: JSON? = nil) -> [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(480 + Int(payloadSizeHint))
        Self.key(#"{"id":""#, &b)
        JSONWriter.writeInt(Int(id), into: &b)
        Self.key(#"","type":"#, &b)
        JSONWriter.writeString(type, into: &b)
        Self.key(#","dispatch_mode":"#, &b)
        JSONWriter.writeString(dispatchMode, into: &b)
        Self.key(#","status":""#, &b)
        b.append(contentsOf: status.rawValue.utf8)
        Self.key(#"","priority":"#, &b)
        JSONWriter.writeInt(priority, into: &b)
        Self.key(#","lane":""#, &b)
        b.append(contentsOf: lane.rawValue.utf8)
        Self.key(#"","payload":"#, &b)
        JSONWriter.write(payload, into: &b)
        Self.key(#","created_by":"#, &b)
        JSONWriter.writeString(createdBy, into: &b)
        Self.key(#","idempotency_key":"#, &b)
        if let idempotencyKey { JSONWriter.writeString(idempotencyKey, into: &b) } else { Self.key("null", &b) }
        Self.key(#","parent_id":"#, &b)
        Self.id(parentID, &b)
        Self.key(#","manual":"#, &b)
        Self.key(manual ? "true" : "false", &b)
        Self.key(#","attempt":"#, &b)
        JSONWriter.writeInt(attempt, into: &b)
        Self.key(#","max_attempts":"#, &b)
        JSONWriter.writeInt(maxAttempts, into: &b)
        Self.key(#","run_at":"#, &b)
        Self.time(runAt, &b)
        Self.key(#","cancel_requested":"#, &b)
        Self.key(cancelRequested ? "true" : "false", &b)
        Self.key(#","progress":"#, &b)
        if itemized || progress != Progress() {
            JSONWriter.write(progress.json(items: itemized ? units : nil), into: &b)
        } else {
            Self.key(#"{"current":null,"total":null,"percent":null,"phase":null,"message":null}"#, &b)
        }
        Self.key(#","items":"#, &b)
        if itemized { JSONWriter.write(units.itemsJSON, into: &b) } else { Self.key("null", &b) }
        Self.key(#","children":"#, &b)
        if let children { JSONWriter.write(children, into: &b) } else { Self.key(#"{"total":0}"#, &b) }
        Self.key(#","result":"#, &b)
        JSONWriter.write(result, into: &b)
        Self.key(#","error":"#, &b)
        if let error { JSONWriter.write(error.json, into: &b) } else { Self.key("null", &b) }
        Self.key(#","created_at":"#, &b)
        Self.time(createdAt, &b)
        Self.key(#","started_at":"#, &b)
        Self.time(startedAt, &b)
        Self.key(#","finished_at":"#, &b)
        Self.time(finishedAt, &b)
        Self.key(#","last_activity_at":"#, &b)
        Self.time(lastActivityAt, &b)
        Self.key(#","updated_at":"#, &b)
        Self.time(updatedAt, &b)
        b.append(UInt8(ascii: "}"))
        return b
    }

    /// A guess at the payload's size, to size the buffer once: exact for small payloads.
    private var payloadSizeHint: Int {
        if case .object(let o) = payload { return o.count * 16 }
        return 16
    }

    /// Appends a literal's bytes (keys and punctuation written as constants).
    @inline(__always)
    static func key(_ text: StaticString, _ b: inout [UInt8]) {
        b.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private static func id(_ id: Int64?, _ b: inout [UInt8]) {
        guard let id else { return key("null", &b) }
        b.append(UInt8(ascii: "\""))
        JSONWriter.writeInt(Int(id), into: &b)
        b.append(UInt8(ascii: "\""))
    }

    private static func time(_ ms: Millis?, _ b: inout [UInt8]) {
        guard let ms else { return key("null", &b) }
        b.append(UInt8(ascii: "\""))
        Timestamp.write(ms, into: &b)
        b.append(UInt8(ascii: "\""))
    }
}

extension Job {
    /// The job as it was when it was created, from what never changes after that (the event log
    /// keeps `job.created` compact and renders its job object from this when it is replayed).
    /// `runAt` is the `run_at` it was created with.
    public func asCreated(runAt initialRunAt: Millis?) -> Job {
        Job(id: id, type: type, dispatchMode: dispatchMode,
            status: (initialRunAt ?? 0) > createdAt ? .scheduled : .pending, priority: priority, lane: lane,
            payload: payload, createdBy: createdBy, idempotencyKey: idempotencyKey, parentID: parentID,
            manual: manual, maxAttempts: maxAttempts, timeoutMs: timeoutMs, runAt: initialRunAt,
            itemized: itemized, units: UnitCounts(pending: units.total), createdAt: createdAt, updatedAt: createdAt)
    }
}

/// The job object written straight to bytes: the same bytes as `json(children:).serialized()`,
/// without building the tree of values first (the hot path writes one per change).
extension Job {
    /// The compact bytes of the job object of docs/promises.md §5.
    /// `children` nil is `{"total":0}`, a job without children. `payload`, when given, is the
    /// payload's compact bytes, written as they are.
    public func serializedJSON(children: JSON? = nil, payload payloadBytes: [UInt8]? = nil) -> [UInt8] {
        // A job object without its payload is 550 to 700 bytes.
        var b = ByteWriter(capacity: 704 + (payloadBytes?.count ?? payloadSizeHint))
        b.append(#"{"id":""#)
        JSONWriter.writeInt(Int(id), into: &b)
        b.append(#"","type":"#)
        JSONWriter.writeString(type, into: &b)
        b.append(#","label":"#)
        if let label { JSONWriter.writeString(label, into: &b) } else { b.append("null") }
        b.append(#","dispatch_mode":"#)
        JSONWriter.writeString(dispatchMode, into: &b)
        b.append(#","status":""#)
        b.append(utf8: status.rawValue)
        b.append(#"","priority":"#)
        JSONWriter.writeInt(priority, into: &b)
        b.append(#","lane":""#)
        b.append(utf8: lane.rawValue)
        b.append(#"","payload":"#)
        if let payloadBytes { b.append(payloadBytes) } else { JSONWriter.write(payload, into: &b) }
        b.append(#","created_by":"#)
        JSONWriter.writeString(createdBy, into: &b)
        b.append(#","idempotency_key":"#)
        if let idempotencyKey { JSONWriter.writeString(idempotencyKey, into: &b) } else { b.append("null") }
        b.append(#","parent_id":"#)
        Self.id(parentID, &b)
        b.append(#","manual":"#)
        b.append(manual ? "true" : "false")
        b.append(#","attempt":"#)
        JSONWriter.writeInt(attempt, into: &b)
        b.append(#","max_attempts":"#)
        JSONWriter.writeInt(maxAttempts, into: &b)
        b.append(#","run_at":"#)
        Self.time(runAt, &b)
        b.append(#","cancel_requested":"#)
        b.append(cancelRequested ? "true" : "false")
        b.append(#","progress":"#)
        if itemized || progress != Progress() {
            JSONWriter.write(progress.json(items: itemized ? units : nil), into: &b)
        } else {
            b.append(#"{"current":null,"total":null,"percent":null,"phase":null,"message":null}"#)
        }
        b.append(#","items":"#)
        if itemized { JSONWriter.write(units.itemsJSON, into: &b) } else { b.append("null") }
        b.append(#","children":"#)
        if let children { JSONWriter.write(children, into: &b) } else { b.append(#"{"total":0}"#) }
        b.append(#","result":"#)
        JSONWriter.write(result, into: &b)
        b.append(#","error":"#)
        if let error { JSONWriter.write(error.json, into: &b) } else { b.append("null") }
        b.append(#","created_at":"#)
        Self.time(createdAt, &b)
        b.append(#","started_at":"#)
        Self.time(startedAt, &b)
        b.append(#","finished_at":"#)
        Self.time(finishedAt, &b)
        b.append(#","last_activity_at":"#)
        Self.time(lastActivityAt, &b)
        b.append(#","updated_at":"#)
        Self.time(updatedAt, &b)
        b.append(UInt8(ascii: "}"))
        return b.finish()
    }

    /// A guess at the payload's size, to size the buffer once: exact for small payloads.
    private var payloadSizeHint: Int {
        if case .object(let o) = payload { return o.count * 16 }
        return 16
    }

    private static func id(_ id: Int64?, _ b: inout ByteWriter) {
        guard let id else { return b.append("null") }
        b.append(UInt8(ascii: "\""))
        JSONWriter.writeInt(Int(id), into: &b)
        b.append(UInt8(ascii: "\""))
    }

    private static func time(_ ms: Millis?, _ b: inout ByteWriter) {
        guard let ms else { return b.append("null") }
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
            payload: payload, label: label, createdBy: createdBy, idempotencyKey: idempotencyKey, parentID: parentID,
            manual: manual, maxAttempts: maxAttempts, timeoutMs: timeoutMs, runAt: initialRunAt,
            itemized: itemized, units: UnitCounts(pending: units.total), createdAt: createdAt, updatedAt: createdAt)
    }
}

import JobKernelCore
import JobKernelStore

/// A live subscription: its filters and the last seq it was sent.
struct Subscription {
    var id: UInt64
    var connectionID: UInt64
    var ids: Set<Int64>?
    var types: Set<String>?
    var kinds: Set<String>?
    var lastSeq: Int64
    /// Replaying the log from `since`: fed from the store, paced by the reader, until it
    /// reaches the live seq. Live events are not sent meanwhile (the replay reads them).
    var catchingUp = false

    func matches(_ e: StoredEvent) -> Bool {
        if let kinds, !kinds.contains(e.kind) { return false }
        if let ids {
            guard let jobID = e.jobID, ids.contains(jobID) else { return false }
        }
        if let types {
            guard let type = e.type, types.contains(type) else { return false }
        }
        return true
    }
}

extension Kernel {
    /// Appends an event to the durable log (in the turn's transaction) and queues it for every
    /// matching subscriber; queued bytes are written only after the commit.
    /// `stored`, when given, is what the log keeps instead of `data` (a compact form that
    /// `expanded` turns back into `data` when the event is replayed); `data` is then made only
    /// when someone is subscribed.
    func emit(_ kind: String, job: Job?, data: @autoclosure () throws -> JSON, stored: [UInt8]? = nil) throws {
        lastSeq += 1
        let ts = now
        let full = stored == nil || !subscriptions.isEmpty ? try data().serialized() : []
        let (seq, jobID, type, row) = (lastSeq, job?.id, job?.type, stored ?? full)
        try write { try $0.appendEvent(seq: seq, ts: ts, kind: kind, jobID: jobID, type: type, data: row) }
        guard !subscriptions.isEmpty else { return }
        let event = StoredEvent(seq: lastSeq, ts: ts, kind: kind, jobID: job?.id, type: job?.type, data: full)
        let tail = Kernel.eventTail(event)
        for sid in subscriptions.keys {
            deliver(event, tail: tail, to: sid)
        }
    }

    /// Sends one event to one subscription, or drops the subscription when its reader has
    /// fallen too far behind (SPEC §7): memory stays bounded and the reader resumes with `since`.
    func deliver(_ e: StoredEvent, tail: [UInt8], to sid: UInt64) {
        guard var sub = subscriptions[sid], !sub.catchingUp, sub.matches(e), e.seq > sub.lastSeq else { return }
        guard let conn = connections[sub.connectionID] else {
            subscriptions[sid] = nil
            return
        }
        if conn.pendingOutboundBytes > config.limits.maxOutboundBytes {
            subscriptions[sid] = nil
            conn.subscriptions.remove(sid)
            conn.send(RPCEncoder.notification(method: "subscription.dropped", params: [
                "subscription": .string(String(sid)), "last_seq": .int(Int(sub.lastSeq)),
            ]))
            markDirty(conn)
            return
        }
        conn.sendBody(Kernel.eventHead, Array(String(sid).utf8), tail)
        sub.lastSeq = e.seq
        subscriptions[sid] = sub
        markDirty(conn)
    }

    /// An `event` notification is `eventHead` + the subscription id + the event's tail: the tail,
    /// which holds the stored data as is (never parsed again), is built once per event and shared
    /// by every subscriber.
    static let eventHead = Array(#"{"jsonrpc":"2.0","method":"event","params":{"subscription":""#.utf8)

    /// `","seq":…,"ts":…,"kind":…,"job_id":…,"data":<stored bytes>}}`
    static func eventTail(_ e: StoredEvent) -> [UInt8] {
        var bytes = Array(#"","seq":"#.utf8)
        JSON.int(Int(e.seq)).write(into: &bytes)
        bytes += Array(#","ts":"#.utf8)
        JSON.string(Timestamp.format(e.ts)).write(into: &bytes)
        bytes += Array(#","kind":"#.utf8)
        JSON.string(e.kind).write(into: &bytes)
        bytes += Array(#","job_id":"#.utf8)
        (e.jobID.map { JSON.string(String($0)) } ?? .null).write(into: &bytes)
        bytes += Array(#","data":"#.utf8)
        bytes += e.data
        bytes += Array("}}".utf8)
        return bytes
    }

    /// The kinds of event (SPEC §7).
    static let eventKinds: Set<String> = ["job.created", "job.status", "job.progress", "job.log", "item.status", "settings.changed"]

    /// `subscribe`: register, answer `{subscription, seq, jobs?}`, then replay from `since`.
    func subscribe(_ p: inout Params, _ conn: Connection, reply: (JSON) -> Void) throws {
        let idList = try p.jobIDs("ids")
        let ids = idList.map(Set.init)
        let types = try p.stringOrStringArray("types").map(Set.init)
        let kinds = try p.oneOrMany("kinds", "an event kind", { $0.stringValue.flatMap { Kernel.eventKinds.contains($0) ? $0 : nil } }).map(Set.init)
        let since = try p.optionalInt("since", in: 0...Int.max)
        try p.rejectUnknown()
        if let since {
            if since > lastSeq {
                throw RPCError.invalidParams("`since` \(since) is above the latest seq \(lastSeq)", field: "since")
            }
            if since < lastSeq, let oldest = try store.oldestEventSeq(), since < oldest - 1 {
                throw RPCError.cursorExpired(oldestSeq: Int(oldest))
            }
        }
        // Snapshots as of `seq`: taken in the same turn as the registration, so no change falls between.
        var snapshots: JSON?
        if let idList {
            snapshots = .array(try idList.map { id in
                guard let j = try job(id) else { throw RPCError.notFound(jobID: String(id)) }
                return try jobJSON(j)
            })
        }
        let sid = nextSubscriptionID
        nextSubscriptionID += 1
        let start = since.map(Int64.init) ?? lastSeq
        subscriptions[sid] = Subscription(id: sid, connectionID: conn.id, ids: ids, types: types, kinds: kinds, lastSeq: start)
        conn.subscriptions.insert(sid)
        conn.issuedSubscriptions.insert(sid)
        turn.subscriptions.append(sid)
        var result: JSONObject = ["subscription": .string(String(sid)), "seq": .int(Int(lastSeq))]
        if let snapshots { result["jobs"] = snapshots }
        reply(.object(result))
        if start < lastSeq {
            subscriptions[sid]?.catchingUp = true
            replaying.insert(sid)
            try continueReplay(sid)
        }
    }

    /// Sends a catching-up subscription the next events from the log while its reader keeps up
    /// (its outbound bytes under half of `max_outbound_bytes`), so a long replay never buffers
    /// without bound and never drops: it resumes each turn as the reader drains its socket.
    func continueReplay(_ sid: UInt64) throws {
        guard var sub = subscriptions[sid], sub.catchingUp, let conn = connections[sub.connectionID] else { return }
        let budget = max(config.limits.maxOutboundBytes / 2, 1)
        while conn.pendingOutboundBytes < budget && sub.lastSeq < lastSeq {
            var read = 0
            try store.events(after: sub.lastSeq, through: lastSeq, limit: 256) { e in
                read += 1
                sub.lastSeq = e.seq
                if sub.matches(e) { conn.sendBody(Kernel.eventHead, Array(String(sid).utf8), Kernel.eventTail(try expanded(e))) }
            }
            if read == 0 { break }
        }
        if sub.lastSeq >= lastSeq {
            sub.catchingUp = false
            replaying.remove(sid)
        }
        subscriptions[sid] = sub
        markDirty(conn)
    }

    // MARK: Compact job.created events

    /// `job.created` as the log keeps it: the job object is not repeated (the job row holds all
    /// of it that a new job has), only the `run_at` it was created with.
    static func compactCreated(runAt: Millis?) -> [UInt8] {
        var bytes = Array(compactCreatedMark.utf8)
        if let runAt {
            bytes += Array(#","run_at":"#.utf8)
            JSONWriter.writeInt(Int(runAt), into: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private static let compactCreatedMark = #"{"compact":1"#

    // MARK: Compact job.status events

    /// `job.status` as the log keeps it: the `from` status and what of the job changes
    /// (`Job.changingState`), not the whole job object. Nil for a job with children, whose
    /// object also shows their counts at that moment: the log keeps such events whole.
    func compactStatus(from: JobStatus, _ job: Job) -> [UInt8]? {
        guard !parents.contains(job.id) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        bytes.append(contentsOf: Kernel.compactStatusMark.utf8)
        bytes.append(contentsOf: #","from":""#.utf8)
        bytes.append(contentsOf: from.rawValue.utf8)
        bytes.append(contentsOf: #"","state":"#.utf8)
        job.writeChangingState(into: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private static let compactStatusMark = #"{"compact":2"#

    /// A stored event as subscribers get it, byte for byte what was sent live: a compact
    /// `job.created` gets its job object back as the job was at creation, and a compact
    /// `job.status` as it was then, both rendered from the job row.
    func expanded(_ e: StoredEvent) throws -> StoredEvent {
        guard let id = e.jobID, e.data.starts(with: #"{"compact":"#.utf8) else { return e }
        var out = e
        if e.kind == "job.created", e.data.starts(with: Kernel.compactCreatedMark.utf8) {
            let runAt = (try? JSONParser.parse(e.data))?["run_at"]?.intValue.map(Int64.init)
            if let job = try store.job(id: id) {
                out.data = Array(#"{"job":"#.utf8) + job.asCreated(runAt: runAt).serializedJSON() + [UInt8(ascii: "}")]
            } else {
                out.data = Array(#"{"job":null}"#.utf8)  // the job was removed since
            }
        } else if e.kind == "job.status", e.data.starts(with: Kernel.compactStatusMark.utf8) {
            let stored = try? JSONParser.parse(e.data)
            guard let from = stored?["from"]?.stringValue, let state = stored?["state"],
                  let to = state["status"]?.stringValue else { return e }
            var data: [UInt8] = []
            JSONWriter.write(["from": .string(from), "to": .string(to)], into: &data)
            data.removeLast()
            data += Array(#","job":"#.utf8)
            if let then = try store.job(id: id)?.withChangingState(state) {
                data += then.serializedJSON()
            } else {
                data += Array("null".utf8)  // the job was removed since
            }
            data.append(UInt8(ascii: "}"))
            out.data = data
        }
        return out
    }

    /// Moves every catching-up subscription along (called each turn, after the commit).
    func continueReplays() {
        for sid in replaying {
            if subscriptions[sid] == nil {
                replaying.remove(sid)
            } else {
                try? continueReplay(sid)
            }
        }
    }

    func unsubscribe(_ p: inout Params, _ conn: Connection) throws -> JSON {
        let s = try p.string("subscription")
        try p.rejectUnknown()
        // Any subscription this connection was given may be ended, also one already dropped.
        guard let sid = UInt64(s), conn.issuedSubscriptions.contains(sid) else {
            throw RPCError.invalidParams("no subscription \"\(s)\" on this connection", field: "subscription")
        }
        subscriptions[sid] = nil
        replaying.remove(sid)
        conn.subscriptions.remove(sid)
        return true
    }
}

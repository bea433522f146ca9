import JobKernelCore
import JobKernelStore

extension Kernel {
    /// Appends an event to the durable log (in the turn's transaction) and queues it for every
    /// matching subscriber; queued bytes are written only after the commit.
    /// `stored`, when given, is what the log keeps instead of `data` (a compact form that
    /// `expanded` turns back into `data` when the event is replayed); `data` is then made only
    /// when someone is subscribed.
    func emit(_ kind: String, job: Job?, data: @autoclosure () throws -> JSON, stored: [UInt8]? = nil) throws {
        let seq = events.nextSeq()
        let ts = now
        let full = stored == nil || events.hasSubscribers ? try data().serialized() : []
        let (jobID, type, row) = (job?.id, job?.type, stored ?? full)
        try write { try $0.appendEvent(seq: seq, ts: ts, kind: kind, jobID: jobID, type: type, data: row) }
        guard events.hasSubscribers else { return }
        let event = StoredEvent(seq: seq, ts: ts, kind: kind, jobID: job?.id, type: job?.type, data: full)
        let tail = Kernel.eventTail(event)
        events.deliver(event, limit: config.limits.maxOutboundBytes, outbound: { sub in
            sub.peer.isClosed ? nil : sub.peer.pendingOutboundBytes
        }) { sub, delivery in
            let conn = sub.peer
            switch delivery {
            case .send:
                conn.sendEvent(head: sub.head, tail: tail)
            case .drop(let lastSeq):
                conn.send(RPCEncoder.notification(method: "subscription.dropped", params: [
                    "subscription": .string(String(sub.id)), "last_seq": .int(Int(lastSeq)),
                ]))
            }
            markDirty(conn)
        }
    }

    /// An `event` notification is a head, written once per subscription (`eventHead`), and the
    /// event's tail: the tail, which holds the stored data as is (never parsed again), is built
    /// once per event and shared by every subscriber.
    static func eventHead(subscription id: UInt64) -> [UInt8] {
        Array(#"{"jsonrpc":"2.0","method":"event","params":{"subscription":""#.utf8) + Array(String(id).utf8)
    }

    /// `","seq":…,"ts":…,"kind":…,"job_id":…,"data":<stored bytes>}}`
    static func eventTail(_ e: StoredEvent) -> [UInt8] {
        var b = ByteWriter(capacity: 96 + e.data.count)
        b.append(#"","seq":"#)
        JSONWriter.writeInt(Int(e.seq), into: &b)
        b.append(#","ts":""#)
        Timestamp.write(e.ts, into: &b)
        b.append(#"","kind":"#)
        JSONWriter.writeString(e.kind, into: &b)
        b.append(#","job_id":"#)
        if let id = e.jobID {
            b.append(UInt8(ascii: "\""))
            JSONWriter.writeInt(Int(id), into: &b)
            b.append(UInt8(ascii: "\""))
        } else {
            b.append("null")
        }
        b.append(#","data":"#)
        b.append(e.data)
        b.append("}}")
        return b.finish()
    }

    /// The kinds of event (docs/promises.md §7).
    static let eventKinds: Set<String> = ["job.created", "job.status", "job.progress", "job.log", "item.status", "settings.changed"]

    /// `subscribe`: register, answer `{subscription, seq, jobs?}`, then replay from `since`.
    func subscribe(_ p: inout Params, _ conn: Connection, reply: (JSON) -> Void) throws {
        let idList = try p.jobIDs("ids")
        let ids = idList.map(Set.init)
        let types = try p.stringOrStringArray("types").map(Set.init)
        let kinds = try p.oneOrMany("kinds", "an event kind", { $0.stringValue.flatMap { Kernel.eventKinds.contains($0) ? $0 : nil } }).map(Set.init)
        let since = try p.optionalInt("since", in: 0...Int.max)
        try p.rejectUnknown()
        try events.check(since: since) { try store.oldestEventSeq() }
        // Snapshots as of `seq`: taken in the same turn as the registration, so no change falls between.
        var snapshots: JSON?
        if let idList {
            snapshots = .array(try idList.map { id in
                guard let j = try job(id) else { throw RPCError.notFound(jobID: String(id)) }
                return try jobJSON(j)
            })
        }
        let sid = events.subscribed(connectionID: conn.id, peer: conn, ids: ids, types: types, kinds: kinds, since: since.map(Int64.init))
        turn.subscriptions.append(sid)
        var result: JSONObject = ["subscription": .string(String(sid)), "seq": .int(Int(events.lastSeq))]
        if let snapshots { result["jobs"] = snapshots }
        reply(.object(result))
        if events.replaying.contains(sid) { try continueReplay(sid) }
    }

    /// Sends a catching-up subscription the next events from the log while its reader keeps up
    /// (its outbound bytes under half of `max_outbound_bytes`), so a long replay never buffers
    /// without bound and never drops: it resumes each turn as the reader drains its socket.
    func continueReplay(_ sid: UInt64) throws {
        guard let sub = events.subscriptions[sid], sub.catchingUp, !sub.peer.isClosed else { return }
        let conn = sub.peer
        let budget = max(config.limits.maxOutboundBytes / 2, 1)
        var through = sub.lastSeq
        defer {
            events.replayed(sid, through: through)
            markDirty(conn)
        }
        while conn.pendingOutboundBytes < budget && through < events.lastSeq {
            var read = 0
            try store.events(after: through, through: events.lastSeq, limit: 256) { e in
                read += 1
                through = e.seq
                if sub.matches(e) { conn.sendEvent(head: sub.head, tail: Kernel.eventTail(try expanded(e))) }
            }
            if read == 0 { break }
        }
    }

    // MARK: Compact job.created events

    /// `job.created` as the log keeps it: the job object is not repeated (the job row holds all
    /// of it that a new job has), only the `run_at` it was created with.
    static func compactCreated(runAt: Millis?) -> [UInt8] {
        guard let runAt else { return compactCreatedPlain }
        var b = ByteWriter(capacity: 40)
        b.append(utf8: compactCreatedMark)
        b.append(#","run_at":"#)
        JSONWriter.writeInt(Int(runAt), into: &b)
        b.append(UInt8(ascii: "}"))
        return b.finish()
    }

    private static let compactCreatedPlain = Array("\(compactCreatedMark)}".utf8)
    private static let compactCreatedMark = #"{"compact":1"#

    // MARK: Compact job.status events

    /// `job.status` as the log keeps it: the `from` status and what of the job changes
    /// (`Job.changingState`), not the whole job object. Nil for a job with children, whose
    /// object also shows their counts at that moment: the log keeps such events whole.
    func compactStatus(from: JobStatus, _ job: Job) -> [UInt8]? {
        guard !parents.contains(job.id) else { return nil }
        var b = ByteWriter(capacity: 384)  // a finished job's state with a small result fits
        b.append(utf8: Kernel.compactStatusMark)
        b.append(#","from":""#)
        b.append(utf8: from.rawValue)
        b.append(#"","state":"#)
        job.writeChangingState(into: &b)
        b.append(UInt8(ascii: "}"))
        return b.finish()
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
        for sid in events.replaying {
            if events.subscriptions[sid] == nil {
                events.replayed(sid, through: 0)  // ended meanwhile: forget it
            } else {
                try? continueReplay(sid)
            }
        }
    }

    func unsubscribe(_ p: inout Params, _ conn: Connection) throws -> JSON {
        let s = try p.string("subscription")
        try p.rejectUnknown()
        guard let sid = UInt64(s) else {
            throw RPCError.invalidParams("no subscription \"\(s)\" on this connection", field: "subscription")
        }
        try events.unsubscribed(sid, connectionID: conn.id)
        return true
    }
}

import Glibc
import JobKernelCore
import JobKernelIO
import JobKernelStore

extension Kernel {
    /// A method handler: reads its params (rejecting unknown ones before any change), does the
    /// call and answers through `reply`, at once or later (a long-polling `fetch`).
    typealias Handler = @Sendable (Kernel, inout Params, Connection, @escaping (JSON) -> Void) throws -> Void

    static let methods: [String: Handler] = coreMethods.merging(operationMethods) { first, _ in first }
        .merging(bulkMethods) { first, _ in first }

    private static let coreMethods: [String: Handler] = [
        "initialize": { k, p, c, r in r(try k.initialize(&p, c)) },
        "enqueue": { k, p, c, r in r(try k.enqueueMethod(&p, c)) },
        "get": { k, p, _, r in r(try k.get(&p)) },
        "list": { k, p, _, r in r(try k.list(&p)) },
        "cancel": { k, p, _, r in r(try k.cancelMethod(&p)) },
        "retry": { k, p, _, r in r(try k.retryMethod(&p)) },
        "progress": { k, p, _, r in r(try k.progress(&p)) },
        "log": { k, p, _, r in r(try k.log(&p)) },
        "logs": { k, p, _, r in r(try k.logs(&p)) },
        "subscribe": { k, p, c, r in try k.subscribe(&p, c, reply: r) },
        "unsubscribe": { k, p, c, r in r(try k.unsubscribe(&p, c)) },
        "fetch": { k, p, c, r in try k.fetch(&p, c, reply: r) },
        "ack": { k, p, _, r in r(try k.ack(&p)) },
        "nack": { k, p, _, r in r(try k.nack(&p)) },
        "extend": { k, p, _, r in r(try k.extend(&p)) },
        "settings.get": { k, p, _, r in r(try k.settingsGet(&p)) },
        "settings.set": { k, p, _, r in r(try k.settingsSet(&p)) },
        "schedules": { k, p, _, r in try p.rejectUnknown(); r(k.schedulesList()) },
        "stats": { k, p, _, r in try p.rejectUnknown(); r(try k.stats()) },
        "stats.history": { k, p, _, r in r(try k.statsHistoryMethod(&p)) },
        "workers": { k, p, _, r in try p.rejectUnknown(); r(k.workersMethod()) },
        "shutdown": { k, p, _, r in
            try p.rejectUnknown()
            r(true)
            k.refusingRequests = true
            k.shutdownAfterTurn()
        },
        "heartbeat": { k, p, c, r in
            _ = try p.optionalJobID("job_id")
            try p.rejectUnknown()
            r(true)
        },
        "rpc.discover": { _, p, _, r in try p.rejectUnknown(); r(OpenRPCDocument.json) },
    ]

    /// Each method's handler and whether it changes state: one lookup per request.
    static let dispatch: [String: (handler: Handler, changes: Bool)] = methods.reduce(into: [:]) { table, entry in
        table[entry.key] = (entry.value, !readOnlyMethods.contains(entry.key))
    }

    // MARK: Frames and messages

    func handle(_ frame: Frame, on conn: Connection) {
        defer { markDirty(conn) }
        if conn.kind == .worker { heard(from: conn) }
        switch frame {
        case .tooLarge:
            conn.answer(.single(.init(id: .null, result: .failure(.tooLarge(limit: config.limits.maxMessageBytes)), changes: false)))
        case .badHeader(let why):
            conn.answer(.single(.init(id: .null, result: .failure(.invalidRequest(why)), changes: false)))
        case .message(let bytes):
            switch RPCDecoder.decode(bytes, maxDepth: config.limits.maxDepth) {
            case .single(let entry):
                handle(entry, on: conn) { [unowned conn] reply in
                    if let reply { conn.answer(.single(reply)) }
                }
            case .batch(let entries):
                let batch = BatchReplies(count: entries.count)
                conn.outstanding += 1
                for (i, entry) in entries.enumerated() {
                    handle(entry, on: conn) { [unowned self, unowned conn] reply in
                        guard batch.set(i, reply) else { return }
                        conn.outstanding -= 1
                        if !batch.replies.isEmpty { conn.answer(.batch(batch.replies)) }
                        self.markDirty(conn)
                    }
                }
            }
        }
    }

    /// Methods that change nothing: their answers go out even from a turn whose commit failed.
    static let readOnlyMethods: Set<String> = [
        "initialize", "get", "list", "logs", "items", "settings.get", "schedules", "stats", "rpc.discover",
        "unsubscribe", "heartbeat", "stats.history", "workers",
    ]

    /// Handles one request or notification; `done` gets its reply (nil for a notification),
    /// which says whether it reports a change, which only a commit makes true.
    private func handle(_ entry: RPCEntry, on conn: Connection, done: @escaping (Connection.Reply?) -> Void) {
        switch entry {
        case .invalid(let id, let error):
            done(.init(id: id, result: .failure(error), changes: false))
        case .message(.notification(let method, let params)):
            // No method's name starts with `$/` (the optional notifications of the language
            // server protocol): such a notification is ignored, such a request not found.
            if !shuttingDown, let handler = Kernel.dispatch[method]?.handler, var p = try? Params(params) {
                try? handler(self, &p, conn) { _ in }
            }
            done(nil)
        case .message(.request(let id, let method, let params)):
            guard let (handler, changes) = Kernel.dispatch[method] else {
                done(.init(id: id, result: .failure(.methodNotFound(method)), changes: false))
                return
            }
            if shuttingDown || refusingRequests {
                done(.init(id: id, result: .failure(.unavailable("the kernel is shutting down; retry against a new kernel")), changes: false))
                return
            }
            do {
                var p = try Params(params)
                try handler(self, &p, conn) { result in done(.init(id: id, result: .success(result), changes: changes)) }
            } catch {
                done(.init(id: id, result: .failure(Kernel.rpcError(error)), changes: false))
            }
        case .message(.response(let id, let result)):
            if conn.kind == .worker { workerResponded(conn, id: id, result: result) }
            done(nil)
        }
    }

    static func rpcError(_ error: Error) -> RPCError {
        switch error {
        case let e as RPCError: return e
        case JobRejection.invalidState(let status): return .invalidState(status: status.rawValue)
        case let e as DatabaseError where e.isStoreFault: return Kernel.storeFaultError(e)
        default: return .internalError("\(error)")
        }
    }

    // MARK: Methods

    private func initialize(_ p: inout Params, _ conn: Connection) throws -> JSON {
        let client = try p.optionalObject("client")
        try p.rejectUnknown()
        if let client {
            var c = try Params(.object(client), prefix: "client.")
            let name = try c.string("name", bytes: Kernel.nameBytes)
            _ = try c.optionalString("version", bytes: 0...Kernel.nameBytes.upperBound)
            try c.rejectUnknown()
            conn.clientName = name
        }
        return ["server": ["name": "jobkernel", "version": .string(jobkernelVersion)], "protocol": "1"]
    }

    private func enqueueMethod(_ p: inout Params, _ conn: Connection) throws -> JSON {
        let typeName = try p.string("type", bytes: Kernel.nameBytes)
        let payload = p.optionalJSON("payload") ?? [:]
        let items = try p.optionalArray("items")
        let priority = try p.optionalInt("priority", in: Int(Int32.min)...Int(Int32.max))
        let key = try p.optionalString("idempotency_key", bytes: 1...1024)
        let createdBy = try p.optionalString("created_by", bytes: Kernel.nameBytes) ?? conn.clientName ?? "anonymous"
        var runAt = try p.optionalTime("run_at")
        let delayed = try p.optionalDelay("delay_s", from: now)
        let maxAttempts = try p.optionalInt("max_attempts", in: 1...1_000_000)
        let timeoutMs = try p.optionalDuration("timeout_s", aboveMinimum: true)
        let parentID = try p.optionalJobID("parent_id")
        let manual = try p.optionalBool("manual") ?? false
        let after = try p.jobIDs("after") ?? []
        let label = try p.optionalString("label", bytes: 0...Kernel.labelBytes)
        try p.rejectUnknown()

        let payloadBytes = payload.serialized()
        if payloadBytes.count > config.limits.maxPayloadBytes {
            throw RPCError.paramTooLarge(field: "payload", limit: config.limits.maxPayloadBytes)
        }
        if let items {
            if items.isEmpty { throw RPCError.invalidParams("`items` must be a non-empty array (omit it for a job without items)", field: "items") }
            if items.count > config.limits.maxItems { throw RPCError.paramTooLarge(field: "items", limit: config.limits.maxItems) }
        }
        if let delayed {
            if runAt != nil { throw RPCError.invalidParams("give `run_at` or `delay_s`, not both", field: "delay_s") }
            runAt = delayed
        }
        guard let type = config.types[typeName] else { throw RPCError.unknownType(typeName) }
        if case .builtinCommand = type.handler { try Kernel.checkCommandPayload(payload) }
        if let parentID, try job(parentID) == nil { throw RPCError.notFound(jobID: String(parentID)) }
        try checkDependencies(after)

        var canonical: JSONObject = [:]
        if key != nil {
            canonical = ["type": .string(typeName), "payload": payload]
            if let items { canonical["items"] = .array(items) }
            if let priority { canonical["priority"] = .int(priority) }
            if let maxAttempts { canonical["max_attempts"] = .int(maxAttempts) }
            if let timeoutMs { canonical["timeout_s"] = .double(Double(timeoutMs) / 1000) }
            if let parentID { canonical["parent_id"] = .string(String(parentID)) }
            if manual { canonical["manual"] = true }
            if !after.isEmpty { canonical["after"] = .array(after.map { .string(String($0)) }) }
        }

        let (_, json, duplicate) = try enqueue(EnqueueRequest(
            type: type, payload: payload, items: items, priority: priority, idempotencyKey: key,
            createdBy: createdBy, runAt: runAt, maxAttempts: maxAttempts, timeoutMs: timeoutMs,
            parentID: parentID ?? conn.currentJobID, manual: manual,
            canonical: key == nil ? "" : Kernel.canonicalString(.object(canonical)), payloadBytes: payloadBytes,
            after: after, label: label))
        // `{"job":…,"duplicate":…}` written around the job's bytes, not built as a tree.
        guard case .serialized(let job) = json else { return ["job": json, "duplicate": .bool(duplicate)] }
        var b = ByteWriter(capacity: job.bytes.count + 26)
        b.append(#"{"job":"#)
        b.append(job.bytes)
        b.append(duplicate ? #","duplicate":true}"# : #","duplicate":false}"#)
        return .serialized(SerializedJSON(bytes: b.finish()))
    }

    /// Names (`type`, `created_by`, `client.name`): 1 to 1024 bytes.
    static let nameBytes = 1...1024

    /// A job's `label`: at most 200 bytes (docs/promises.md §13). It is cosmetic, so it is not
    /// part of the request an idempotency key compares.
    static let labelBytes = 200

    /// The built-in `command` type's payload (docs/promises.md §5.1): `{argv: [string, …], cwd?: string,
    /// env?: {string: string}}`, checked at enqueue so that nothing is silently dropped at run time.
    /// Other members are the caller's data and are kept.
    static func checkCommandPayload(_ payload: JSON) throws {
        guard case .object(let object) = payload else {
            throw RPCError.invalidParams("`payload` of type command must be an object {argv, cwd?, env?}", field: "payload")
        }
        var p = try Params(.object(object), prefix: "payload.")
        guard let argv = try p.optionalArray("argv"), !argv.isEmpty else {
            throw RPCError.invalidParams("`payload.argv` must be a non-empty array of strings", field: "payload.argv")
        }
        if let i = argv.firstIndex(where: { $0.stringValue == nil }) {
            throw RPCError.invalidParams("`payload.argv` must be a non-empty array of strings; element \(i) is \(argv[i].typeName)", field: "payload.argv")
        }
        _ = try p.optionalString("cwd")
        if let env = try p.optionalObject("env"), let bad = env.keys.first(where: { env[$0]?.stringValue == nil }) {
            throw RPCError.invalidParams("`payload.env` must map names to strings; \(bad) is not a string", field: "payload.env")
        }
    }

    /// JSON with every object's keys sorted, so equal requests compare equal as text.
    static func canonicalString(_ v: JSON) -> String {
        func canon(_ v: JSON) -> JSON {
            switch v {
            case .array(let a): return .array(a.map(canon))
            case .object(let o): return .object(JSONObject(o.keys.sorted().map { ($0, canon(o[$0]!)) }))
            case .double(let d) where d.rounded() == d && abs(d) < 9e15: return .int(Int(d))
            default: return v
            }
        }
        return String(decoding: canon(v).serialized(), as: UTF8.self)
    }

    private func requireJob(_ id: Int64) throws -> Job {
        guard let job = try job(id) else { throw RPCError.notFound(jobID: String(id)) }
        return job
    }

    private func get(_ p: inout Params) throws -> JSON {
        let id = try p.jobID("id")
        try p.rejectUnknown()
        let job = try requireJob(id)
        return Kernel.withRestartedFrom(Kernel.withWaiting(try jobJSON(job), try waitReasons([job])[job.id]),
                                        try restartedFrom(job.id))
    }

    private func list(_ p: inout Params) throws -> JSON {
        var filters: [(column: String, values: [SQLValue])] = []
        if let statuses = try p.oneOrMany("status", "a job status", { $0.stringValue.flatMap(JobStatus.init(rawValue:)) }) {
            filters.append(("status", statuses.map { .text($0.rawValue) }))
        }
        if let types = try p.stringOrStringArray("type") { filters.append(("type", types.map { .text($0) })) }
        if let modes = try p.oneOrMany("dispatch_mode", "a dispatch mode", { $0.stringValue.flatMap(DispatchMode.init(rawValue:)) }) {
            filters.append(("dispatch_mode", modes.map { .text($0.rawValue) }))
        }
        if let creators = try p.stringOrStringArray("created_by") { filters.append(("created_by", creators.map { .text($0) })) }
        if p.object["parent_id"] == .null {
            filters.append(("parent_id", [.null]))  // top-level jobs only
        }
        if let parents = try p.jobIDs("parent_id") {
            filters.append(("parent_id", parents.map { .int($0) }))
        }
        let limit = try p.optionalInt("limit", in: 1...1000) ?? 100
        let cursorText = try p.optionalString("cursor")
        guard cursorText.map({ Params.jobID(.string($0)) != nil }) ?? true else {
            throw RPCError.invalidParams("`cursor` must be a next_cursor from an earlier page", field: "cursor")
        }
        let cursor = cursorText.flatMap { Params.jobID(.string($0)) }
        try p.rejectUnknown()
        var jobs = try store.list(filters: filters, before: cursor, limit: limit + 1)
        var next: JSON = .null
        if jobs.count > limit {
            jobs.removeLast()
            next = .string(String(jobs.last!.id))
        }
        let current = jobs.map { active[$0.id] ?? $0 }
        let reasons = try waitReasons(current)
        return ["jobs": .array(try current.map { Kernel.withWaiting(try jobJSON($0), reasons[$0.id]) }), "next_cursor": next]
    }

    /// `cancel {id, reason?}`; the bulk forms are `cancelMethod`'s.
    func cancel(_ p: inout Params) throws -> JSON {
        let id = try p.jobID("id")
        let reason = try p.optionalString("reason")
        try p.rejectUnknown()
        let job = try requireJob(id)
        try apply(job.id, unit: nil, .cancelRequested(reason: reason))
        return try jobJSON(try self.job(job.id)!)
    }

    /// `retry {id}`; the bulk forms are `retryMethod`'s.
    func retry(_ p: inout Params) throws -> JSON {
        let id = try p.jobID("id")
        try p.rejectUnknown()
        let job = try requireJob(id)
        do {
            try apply(job.id, unit: nil, .retryRequested)
        } catch JobRejection.invalidState(let status) {
            throw RPCError.invalidState(status: status.rawValue, jobID: String(job.id))
        }
        return try jobJSON(try self.job(job.id)!)
    }

    private func requireRunning(_ job: Job) throws {
        guard job.status == .running else { throw RPCError.invalidState(status: job.status.rawValue, jobID: String(job.id)) }
    }

    private func progress(_ p: inout Params) throws -> JSON {
        let id = try p.jobID("id")
        let current = try p.optionalDouble("current", in: 0...Kernel.maxCount)
        let total = try p.optionalDouble("total", in: 0...Kernel.maxCount)
        let phase = try p.optionalString("phase")
        let message = try p.optionalString("message")
        let item = try p.optionalInt("item", in: 0...Int(Int32.max))
        try p.rejectUnknown()
        let job = try requireJob(id)
        try requireRunning(job)
        if let item, !job.itemized || item < 0 || item >= job.units.total {
            throw RPCError.invalidParams("`item` \(item) is not an item index of job \(job.id)", field: "item")
        }
        return try reportProgress(job.id, current: current, total: total, phase: phase, message: message, item: item)
    }

    private func log(_ p: inout Params) throws -> JSON {
        let id = try p.jobID("id")
        let message = try p.string("message")
        let level = try p.optionalString("level", oneOf: Kernel.logLevels) ?? "info"
        try p.rejectUnknown()
        if message.utf8.count > config.limits.maxLogBytes {
            throw RPCError.paramTooLarge(field: "message", limit: config.limits.maxLogBytes)
        }
        let job = try requireJob(id)
        try requireRunning(job)
        return ["seq": .int(Int(try appendLog(job, level: level, message: message)))]
    }

    private func logs(_ p: inout Params) throws -> JSON {
        let id = try p.jobID("id")
        let since = try p.optionalInt("since", in: 0...Int.max) ?? 0
        let limit = try p.optionalInt("limit", in: 1...10000) ?? 200
        try p.rejectUnknown()
        let job = try requireJob(id)
        let lines = try store.logs(jobID: job.id, since: Int64(since), limit: limit)
        var next: JSON = .null
        if let last = lines.last, lines.count == limit, last.seq < (try store.lastLogSeq(jobID: job.id)) {
            next = .int(Int(last.seq))
        }
        return ["lines": .array(lines.map(\.json)), "next": next]
    }

    private func settingsGet(_ p: inout Params) throws -> JSON {
        let key = try p.optionalString("key")
        try p.rejectUnknown()
        guard let key else { return .object(settings) }
        try checkSettingKey(key)
        return [key: settings[key] ?? false]
    }

    private func settingsSet(_ p: inout Params) throws -> JSON {
        let key = try p.string("key")
        let value = p.optionalJSON("value") ?? .null
        try p.rejectUnknown()
        try checkSettingKey(key)
        guard case .bool = value else {
            throw RPCError.invalidParams("`value` of \(key) must be true or false", field: "value")
        }
        try store.setSetting(key, value)
        if (settings[key] ?? false) != value {
            settings[key] = value
            try emit("settings.changed", job: nil, data: ["key": .string(key), "value": value])
            if isPauseKey(key) {
                refreshPaused()
                if value == false { typesToPump.formUnion(config.types.keys) }
            }
        }
        return [key: value]
    }

    /// Settings are the workflow toggles `[workflow]` declares (`WorkflowToggles`), and the pause
    /// keys.
    private func checkSettingKey(_ key: String) throws {
        if isPauseKey(key) { return }
        if let refusal = WorkflowToggles(declared: config.workflow.names).refusal(of: key) { throw refusal }
    }

    /// The levels of a log line.
    static let logLevels = ["debug", "info", "warn", "error"]

    /// The largest progress count (`current`, `total`): 2^53, the largest integer a JSON number
    /// carries exactly everywhere.
    static let maxCount: Double = 9_007_199_254_740_992

    private func stats() throws -> JSON {
        var byStatus = JSONObject()
        for s in JobStatus.allCases { byStatus[s.rawValue] = .int(statusCounts[s]) }
        // Busy slots are the units running in the local pools (leases are external workers').
        return [
            "jobs": .object(byStatus),
            "types": try typeStats(),
            "queued_units": .int(queues.totalCount),
            "leases": .int(broker.leases.count),
            "broker": brokerStats(),
            "lanes": [
                "normal": ["busy": .int(localPools.runs.normal), "total": .int(config.pipeline.maxParallelJobs - config.pipeline.priorityLaneSlots)],
                "priority": ["busy": .int(localPools.runs.running - localPools.runs.normal), "total": .int(config.pipeline.maxParallelJobs)],
            ],
            "pools": [
                "internal": ["busy": .int(localPools.runs.running(mode: .internal)), "total": .int(config.pools.internalWorkers)],
                "sync_api": ["busy": .int(localPools.runs.running(mode: .syncAPI)), "total": .int(config.pools.syncAPIWorkers)],
            ],
            "seq": .int(Int(events.lastSeq)),
            "connections": .int(connections.all.filter { $0.kind != .worker }.count),
            "subscriptions": .int(events.subscriptions.count),
            "uptime_s": .double(Double(now - startedAt) / 1000),
        ]
    }

    /// Shuts down once the `shutdown` response is committed and written.
    private func shutdownAfterTurn() {
        let t = LoopTimer(loop: loop)
        t.start(afterMs: 0) { [unowned self] in
            t.close()
            self.shutdown()
        }
    }
}

/// Collects a batch's responses in request order.
final class BatchReplies {
    private var slots: [Connection.Reply?]
    private var remaining: Int

    init(count: Int) {
        slots = Array(repeating: nil, count: count)
        remaining = count
    }

    /// Records one; true when it was the last.
    func set(_ i: Int, _ reply: Connection.Reply?) -> Bool {
        slots[i] = reply
        remaining -= 1
        return remaining == 0
    }

    var replies: [Connection.Reply] { slots.compactMap { $0 } }
}

/// The version this binary reports in `initialize`.
public let jobkernelVersion = "0.1.0"

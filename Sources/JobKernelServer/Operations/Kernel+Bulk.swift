import JobKernelCore
import JobKernelStore

/// Steering many jobs at once (docs/promises.md §13): `cancel`, `retry` and `remove` by `ids` or
/// by a filter (`JobFilter`), and `parallel`, a type's concurrency at run time.
extension Kernel {
    static let bulkMethods: [String: Handler] = [
        "parallel": { k, p, _, r in r(try k.parallelMethod(&p)) },
        "restart": { k, p, c, r in r(try k.restartMethod(&p, c)) },
    ]

    // MARK: cancel, retry, remove

    /// `cancel {id, reason?}` answers the job, as it always has; `cancel {ids | filter, reason?}`
    /// answers `{cancelled: n}`: the named or matching jobs that had not ended (their open
    /// descendants are cancelled with them and not counted). A job that already ended is left
    /// as it is; an unknown id is -32001 and nothing is cancelled.
    func cancelMethod(_ p: inout Params) throws -> JSON {
        guard let selection = try JobSelection.read(&p) else { try Kernel.requireSingleID(p); return try cancel(&p) }
        let reason = try p.optionalString("reason")
        try p.rejectUnknown()
        let jobs = try selected(selection, among: Kernel.openStatuses)
        var cancelled = 0
        for job in jobs {
            // An earlier cancel of its parent may have ended it meanwhile.
            guard let current = try self.job(job.id), !current.status.isTerminal else { continue }
            if !current.cancelRequested { cancelled += 1 }
            try apply(current.id, unit: nil, .cancelRequested(reason: reason))
        }
        return ["cancelled": .int(cancelled)]
    }

    /// `retry {id}` answers the job; `retry {ids | filter}` answers `{retried: n}`. With `ids`,
    /// a job that is not failed, cancelled or partially successful is -32004 and nothing is
    /// retried; a filter matches only jobs that can be retried.
    func retryMethod(_ p: inout Params) throws -> JSON {
        guard let selection = try JobSelection.read(&p) else { try Kernel.requireSingleID(p); return try retry(&p) }
        try p.rejectUnknown()
        let jobs = try selected(selection, among: Kernel.retryableStatuses)
        for job in jobs where !Kernel.retryableStatuses.contains(job.status) {
            throw RPCError.invalidState(status: job.status.rawValue, jobID: String(job.id))
        }
        for job in jobs { try apply(job.id, unit: nil, .retryRequested) }
        return ["retried": .int(jobs.count)]
    }

    /// `remove {ids}` (every job finished, else -32004 and nothing removed) or `remove {filter}`
    /// (the matching finished jobs): `{removed: n}`, finished descendants included.
    func removeBulkMethod(_ p: inout Params) throws -> JSON {
        guard let selection = try JobSelection.read(&p) else {
            throw RPCError.invalidParams("give `ids`, or a filter (status, type, label, older_than_s), of the jobs to remove",
                                         field: Kernel.missingFormField("ids", p))
        }
        try p.rejectUnknown()
        return try remove(selected(selection, among: Kernel.terminalStatuses))
    }

    /// Neither `id`, `ids` nor a filter: -32602.
    static func requireSingleID(_ p: Params) throws {
        guard p.object["id"]?.isNull ?? true else { return }
        throw RPCError.invalidParams("give `id`, `ids`, or a filter (status, type, label, older_than_s)",
                                     field: missingFormField("id", p))
    }

    /// The `field` of the -32602 for a call that gives none of its forms: the usual one (`id`,
    /// `ids`) when the params are empty, as it was before the bulk forms; none when that one was
    /// given as null, which is valid on its own (an explicit null counts as absent).
    static func missingFormField(_ usual: String, _ p: Params) -> String? {
        p.object[usual] == nil ? usual : nil
    }

    static let openStatuses: Set<JobStatus> = Set(JobStatus.allCases.filter { !$0.isTerminal })
    static let terminalStatuses: Set<JobStatus> = Set(JobStatus.allCases.filter(\.isTerminal))
    static let retryableStatuses: Set<JobStatus> = [.failed, .cancelled, .partialSuccess]

    /// The jobs `selection` names, as they are now. With `ids`: each one (-32001 for an unknown
    /// id), in the order given, once each. With a filter: the matching jobs whose status is
    /// among `allowed`, newest first.
    func selected(_ selection: JobSelection, among allowed: Set<JobStatus>) throws -> [Job] {
        switch selection {
        case .ids(let ids):
            var seen = Set<Int64>()
            return try ids.filter { seen.insert($0).inserted }.map { id in
                guard let job = try job(id) else { throw RPCError.notFound(jobID: String(id)) }
                return job
            }
        case .filter(let filter):
            let statuses = filter.statuses(among: allowed)
            guard !statuses.isEmpty else { return [] }
            var filters: [(column: String, values: [SQLValue])] = [("status", statuses.map { .text($0.rawValue) })]
            if let types = filter.types { filters.append(("type", types.sorted().map { .text($0) })) }
            let t = now
            var found: [Job] = []
            var cursor: Int64?
            while true {
                let page = try store.list(filters: filters, before: cursor, limit: 1000)
                for stored in page {
                    let job = try self.job(stored.id) ?? stored
                    if filter.matches(job, now: t) { found.append(job) }
                }
                guard page.count == 1000 else { return found }
                cursor = page.last!.id
            }
        }
    }

    // MARK: restart

    /// `restart {ids}`: each finished job's spec (type, payload, items, priority, max_attempts,
    /// timeout, manual, label; not its idempotency key, parent or `after`) enqueued again as a new
    /// job, linked to it (`restarted_from`, kept in the `restarts` table). An unknown id is
    /// -32001, a job that has not ended -32004, a type no longer configured -32002: then nothing
    /// is restarted. Answers `{jobs: [new job, …]}` in the order of `ids`.
    func restartMethod(_ p: inout Params, _ conn: Connection) throws -> JSON {
        guard let ids = try p.jobIDs("ids") else {
            throw RPCError.invalidParams("`ids` must list the finished jobs to restart", field: "ids")
        }
        try p.rejectUnknown()
        let jobs = try selected(.ids(ids), among: Kernel.terminalStatuses)
        for job in jobs {
            guard job.status.isTerminal else { throw RPCError.invalidState(status: job.status.rawValue, jobID: String(job.id)) }
            guard config.types[job.type] != nil else { throw RPCError.unknownType(job.type) }
        }
        var out: [JSON] = []
        for old in jobs {
            var items: [JSON]?
            if old.itemized {
                items = try store.items(jobID: old.id, status: nil, since: -1, limit: Int(Int32.max)).map(\.value)
            }
            let (job, json, _) = try enqueue(EnqueueRequest(
                type: config.types[old.type]!, payload: old.payload, items: items, priority: old.priority,
                idempotencyKey: nil, createdBy: conn.clientName ?? old.createdBy, runAt: nil, maxAttempts: old.maxAttempts,
                timeoutMs: old.timeoutMs, parentID: nil, manual: old.manual, canonical: "", label: old.label))
            try store.addRestart(jobID: job.id, from: old.id)
            ops.restartsExist = true
            out.append(Kernel.withRestartedFrom(json, old.id))
        }
        return ["jobs": .array(out)]
    }

    /// `json` (a job object) with `restarted_from` added when `from` is not nil.
    static func withRestartedFrom(_ json: JSON, _ from: Int64?) -> JSON {
        guard let from else { return json }
        return json.addingMember("restarted_from", .string(String(from)))
    }

    /// The job `id` was restarted from, if any (no store read while no job was ever restarted).
    func restartedFrom(_ id: Int64) throws -> Int64? {
        guard ops.restartsExist else { return nil }
        return try store.restartedFrom(jobID: id)
    }

    // MARK: parallel

    /// The setting that holds `type`'s concurrency override.
    static func concurrencyKey(_ type: String) -> String { "concurrency.\(type)" }

    /// `parallel {type, max}`: `type`'s concurrency from now on (`max: null` returns to the
    /// config's), kept as the setting `concurrency.<type>` across restarts; answers
    /// `{type, concurrency}` with the value in force (null: no cap of its own).
    func parallelMethod(_ p: inout Params) throws -> JSON {
        let type = try p.string("type", bytes: Kernel.nameBytes)
        let max: Int?
        if p.object["max"] == .null {
            _ = p.optionalJSON("max")
            max = nil
        } else {
            max = try p.int("max", in: 1...10_000)
        }
        try p.rejectUnknown()
        guard let config = config.types[type] else { throw RPCError.unknownType(type) }
        if ops.concurrency[type] != max {
            let key = Kernel.concurrencyKey(type)
            let value: JSON = max.map { .int($0) } ?? .null
            // null is stored as null (the config's value): a setting is only ever set.
            try store.setSetting(key, value)
            ops.concurrency[type] = max
            try emit("settings.changed", job: nil, data: ["key": .string(key), "value": value])
            refreshConcurrency()
            typesToPump.insert(type)
        }
        return ["type": .string(type), "concurrency": concurrency(of: config).map { .int($0) } ?? .null]
    }

    /// `type`'s concurrency in force: its `parallel` override, else the config's.
    func concurrency(of type: TypeConfig) -> Int? {
        ops.concurrency[type.name] ?? type.concurrency
    }

    /// Takes the stored overrides (`concurrency.<type>` settings) out of the settings read at
    /// start-up, and hands the overrides to the local pools; at start-up and after every `parallel`.
    func refreshConcurrency() {
        for key in settings.keys where key.hasPrefix("concurrency.") {
            let type = String(key.dropFirst("concurrency.".count))
            if config.types[type] != nil { ops.concurrency[type] = settings[key]?.intValue }
            settings[key] = nil
        }
        for local in localPools.types {
            localPools.setCap(type: local.name, override: ops.concurrency[local.name])
        }
    }
}

import JobKernelCore
import JobKernelIO
import JobKernelStore

/// docs/promises.md §13 operations (`items`, `remove`, `clean`, retention, `pause`/`resume`, per-type stats)
/// and §8.6 dependencies.
extension Kernel {
    static let operationMethods: [String: Handler] = [
        "items": { k, p, _, r in r(try k.itemsMethod(&p)) },
        "remove": { k, p, _, r in r(try k.removeBulkMethod(&p)) },
        "clean": { k, p, c, r in try k.cleanMethod(&p, c, reply: r) },
        "pause": { k, p, _, r in r(try k.pauseMethod(&p, paused: true)) },
        "resume": { k, p, _, r in r(try k.pauseMethod(&p, paused: false)) },
    ]

    // MARK: items

    /// `items {id, status?, since?=-1, limit?=200}`
    func itemsMethod(_ p: inout Params) throws -> JSON {
        let id = try p.jobID("id")
        let status = try p.optionalString("status", oneOf: UnitStatus.allCases.map(\.rawValue)).flatMap(UnitStatus.init(rawValue:))
        let since = try p.optionalInt("since", in: -1...Int(Int32.max)) ?? -1
        let limit = try p.optionalInt("limit", in: 1...10_000) ?? 200
        try p.rejectUnknown()
        guard let job = try job(id) else { throw RPCError.notFound(jobID: String(id)) }
        let units = try store.items(jobID: job.id, status: status, since: since, limit: limit + 1)
        let page = units.prefix(limit)
        let next: JSON = units.count > limit ? .int(page.last!.index) : .null
        return ["items": .array(page.map { u in
            [
                "index": .int(u.index), "value": job.itemized ? u.value : .null, "status": .string(u.status.rawValue),
                "attempt": .int(u.attempt), "result": u.result, "error": u.error?.json ?? .null,
                "started_at": u.startedAt.map { .string(Timestamp.format($0)) } ?? .null,
                "finished_at": u.finishedAt.map { .string(Timestamp.format($0)) } ?? .null,
            ]
        }), "next": next]
    }

    // MARK: remove and clean

    /// Removes `jobs` (`remove {ids}` or `remove {filter}`, `Kernel+Bulk.swift`) with their
    /// terminal descendants; nothing when any is open.
    func remove(_ jobs: [Job]) throws -> JSON {
        for job in jobs where !job.status.isTerminal {
            throw RPCError.invalidState(status: job.status.rawValue, jobID: String(job.id))
        }
        var seen = Set<Int64>()
        var doomed: [(id: Int64, type: String, status: JobStatus)] = []
        for job in jobs where seen.insert(job.id).inserted {
            doomed.append((job.id, job.type, job.status))
            for d in try store.descendantStatuses(of: job.id) where d.status.isTerminal && seen.insert(d.id).inserted {
                doomed.append(d)
            }
        }
        try removeJobs(doomed)
        return ["removed": .int(doomed.count)]
    }

    /// Deletes the (terminal) jobs and keeps the in-memory counts right. A job that others
    /// still wait for resolves them first (`remove` of a dependency, docs/promises.md §8.6).
    func removeJobs(_ jobs: [(id: Int64, type: String, status: JobStatus)]) throws {
        for job in jobs {
            try resolveDependents(ofJobID: job.id, status: job.status)
        }
        try store.remove(jobIDs: jobs.map(\.id))
        for job in jobs {
            statusCounts[job.status] -= 1
            parents.remove(job.id)
            store.forgetLogTail(jobID: job.id)
        }
    }

    /// `clean {status?, type?, older_than_s?}`: answered `{removed}` once every matching job is
    /// gone; the removal runs a batch per turn, so other clients are served meanwhile.
    func cleanMethod(_ p: inout Params, _ conn: Connection, reply: @escaping (JSON) -> Void) throws {
        let statuses = try p.oneOrMany("status", "a terminal job status (success, partial_success, failed, cancelled, skipped)") {
            $0.stringValue.flatMap(JobStatus.init(rawValue:)).flatMap { $0.isTerminal ? $0 : nil }
        }
        let types = try p.stringOrStringArray("type")
        let olderMs = try p.optionalDuration("older_than_s")
        try p.rejectUnknown()
        conn.outstanding += 1
        ops.removals.append(Operations.Removal(
            statuses: statuses, types: types, finishedBefore: now - (olderMs ?? 0) + (olderMs == nil ? 1 : 0),
            reply: reply, connectionID: conn.id))
        armBatch()
    }

    /// Starts the background batches (retention, vacuum) after start-up.
    func startOperations() {
        let timer = LoopTimer(loop: loop)
        timer.unref()
        ops.batchTimer = timer
        ops.lastRetention = 0
        ops.dependenciesExist = ((try? store.hasDependencies()) ?? true)
        ops.restartsExist = ((try? store.hasRestarts()) ?? true)
        if config.storage.keepFinishedMs != nil || (try? store.freePages()) ?? 0 > 0 { armBatch(afterMs: 1000) }
    }

    /// Arms the next batch. "Soon" is 1 ms, not 0: a libuv timer re-armed for 0 ms from its own
    /// callback runs again in the same timers phase, so the batches would run back to back
    /// without the loop serving anyone (or committing) in between.
    func armBatch(afterMs: UInt64 = 1) {
        // A batch wanted soon replaces a later one (the retention wait); a later one never
        // replaces one already armed.
        guard let timer = ops.batchTimer, !shuttingDown, !(ops.batchArmed && afterMs > 1) else { return }
        ops.batchArmed = true
        timer.start(afterMs: afterMs) { [unowned self] in
            self.ops.batchArmed = false
            self.runBatch()
        }
    }

    /// One batch: removes up to `batchJobs` finished jobs of the oldest removal (retention joins
    /// the queue once a minute), returns up to `vacuumPages` free pages, and arms the next batch
    /// while work remains. Runs inside a loop turn: the turn's commit makes it real.
    func runBatch() {
        guard !shuttingDown, !storeFaulted else {
            if storeFaulted { armBatch(afterMs: 1000) }
            return
        }
        let t = now
        if let keep = config.storage.keepFinishedMs, t - ops.lastRetention >= 60_000,
           !ops.removals.contains(where: { $0.reply == nil }) {
            ops.lastRetention = t
            ops.removals.append(Operations.Removal(statuses: nil, types: nil, finishedBefore: t - keep))
        }
        var more = false
        if var r = ops.removals.first {
            do {
                let found = try store.finishedJobs(statuses: r.statuses, types: r.types, finishedBefore: r.finishedBefore,
                                                   limit: Operations.batchJobs)
                try removeJobs(found.map { ($0.id, $0.type, $0.status) })
                r.removed += found.count
                if found.count < Operations.batchJobs {
                    ops.removals.removeFirst()
                    // The requester may have gone meanwhile: its removal still happened, and the
                    // answer (whose closure refers to the closed connection) is dropped.
                    if let reply = r.reply, let id = r.connectionID, let conn = connections[id], !conn.isClosed {
                        reply(["removed": .int(r.removed)])
                        conn.outstanding -= 1
                        markDirty(conn)
                    }
                } else {
                    ops.removals[0] = r
                }
                more = true
            } catch {
                KernelMain.log("removing finished jobs: \(error)")
                armBatch(afterMs: 1000)
                return
            }
        }
        if (try? store.freePages()) ?? 0 > 0 {
            try? store.incrementalVacuum(pages: Operations.vacuumPages)
            more = true
        }
        if more || !ops.removals.isEmpty {
            armBatch()
        } else if config.storage.keepFinishedMs != nil {
            armBatch(afterMs: UInt64(max(1000, 60_000 - (now - ops.lastRetention))))
        }
    }

    // MARK: pause and resume

    /// `pause {type?}` / `resume {type?}`: the settings after the change (docs/promises.md §8.7).
    func pauseMethod(_ p: inout Params, paused: Bool) throws -> JSON {
        let type = try p.optionalString("type", bytes: Kernel.nameBytes)
        try p.rejectUnknown()
        if let type, config.types[type] == nil { throw RPCError.unknownType(type) }
        // `resume {}` undoes every pause: everything, and each type paused by name.
        var keys = ["paused.\(type ?? "*")"]
        if !paused && type == nil {
            keys += settings.keys.filter { $0.hasPrefix("paused.") && $0 != "paused.*" && settings[$0] == .bool(true) }.sorted()
        }
        for key in keys where (settings[key] ?? false) != .bool(paused) || settings[key] == nil {
            try store.setSetting(key, .bool(paused))
            if (settings[key] ?? false) != .bool(paused) {
                try emit("settings.changed", job: nil, data: ["key": .string(key), "value": .bool(paused)])
            }
            settings[key] = .bool(paused)
        }
        refreshPaused()
        if !paused {
            // Whatever waited may go now: local pools, fetches, NATS.
            typesToPump.formUnion(type.map { [$0] } ?? Array(config.types.keys))
        }
        return .object(settings)
    }

    /// Whether units of `type` are held back (the type or everything is paused).
    func isPaused(_ type: String) -> Bool {
        ops.pausedAll || (!ops.pausedTypes.isEmpty && ops.pausedTypes.contains(type))
    }

    /// Whether anything is paused at all (dispatch filters nothing otherwise).
    var anythingPaused: Bool { ops.pausedAll || !ops.pausedTypes.isEmpty }

    /// Reads the pause state from the settings; after every change of them.
    func refreshPaused() {
        ops.pausedAll = settings["paused.*"] == .bool(true)
        ops.pausedTypes = Set(settings.keys.filter { $0.hasPrefix("paused.") && $0 != "paused.*" && settings[$0] == .bool(true) }
            .map { String($0.dropFirst("paused.".count)) })
    }

    /// Whether `key` names a pause setting: `paused.*` or `paused.<name>` (a type never
    /// configured reads false, as a workflow toggle never declared does).
    func isPauseKey(_ key: String) -> Bool {
        guard key.hasPrefix("paused.") else { return false }
        let name = key.utf8.dropFirst("paused.".utf8.count)
        if name.elementsEqual("*".utf8) { return true }
        return (1...64).contains(name.count)
            && name.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 || $0 == 45 }
    }

    // MARK: Dependencies (docs/promises.md §8.6)

    /// Checks `after` before anything is stored: every id names a job.
    func checkDependencies(_ ids: [Int64]) throws {
        for id in ids where try job(id) == nil {
            throw RPCError(code: -32001, message: "Job \(id) named in `after` not found; `jobkernel status` lists the jobs there are.",
                           data: ["reason": "not_found", "job_id": .string(String(id)), "field": "after"])
        }
    }

    /// Makes the new (scheduled) job wait for `ids`: a dependency that already succeeded is
    /// met, one that ended otherwise skips the job at once.
    func awaitDependencies(_ job: Job, _ ids: [Int64]) throws {
        var waiting = 0
        for id in Set(ids).sorted() {
            guard let dep = try self.job(id) else { continue }
            if dep.status == .success { continue }
            if dep.status.isTerminal {
                try store.dropDependencies(of: job.id)
                try apply(job.id, unit: nil, .dependencyFailed(jobID: dep.id, status: dep.status.rawValue))
                return
            }
            ops.dependenciesExist = true
            try store.addDependency(jobID: job.id, afterID: id)
            waiting += 1
        }
        if waiting == 0 { try apply(job.id, unit: nil, .dependenciesMet) }
    }

    /// A job ended (or is being removed): the jobs waiting for it go on or are skipped.
    func resolveDependents(ofJobID id: Int64, status: JobStatus) throws {
        guard ops.dependenciesExist else { return }
        let waiting = try store.dependents(of: id)
        guard !waiting.isEmpty else { return }
        try store.resolveDependency(afterID: id)
        for dependent in waiting {
            if status == .success {
                if try store.unresolvedDependencies(of: dependent) == 0 {
                    try apply(dependent, unit: nil, .dependenciesMet)
                }
            } else {
                try store.dropDependencies(of: dependent)
                try apply(dependent, unit: nil, .dependencyFailed(jobID: id, status: status.rawValue))
            }
        }
    }

    /// Whether the job still waits for a dependency (its `run_at` alone does not start it).
    func waitsForDependencies(_ jobID: Int64) -> Bool {
        guard ops.dependenciesExist else { return false }  // no store read (and no sync) otherwise
        return ((try? store.unresolvedDependencies(of: jobID)) ?? 0) > 0
    }

    // MARK: stats.types

    /// `stats.types`: per type, open jobs by status, paused units, finishes in the last minute,
    /// the oldest pending job's age and the concurrency in force.
    func typeStats() throws -> JSON {
        let t = now
        var rows: [String: JSONObject] = [:]
        for name in config.types.keys {
            rows[name] = ["pending": 0, "scheduled": 0, "running": 0, "paused": 0, "success_1m": 0, "failed_1m": 0,
                          "oldest_pending_s": .null]
        }
        var pendingTypes: [String] = []
        for (type, counts) in ops.openByType where !counts.isEmpty {
            var row = rows[type] ?? ["pending": 0, "scheduled": 0, "running": 0, "paused": 0, "success_1m": 0,
                                     "failed_1m": 0, "oldest_pending_s": .null]
            for status in [JobStatus.scheduled, .pending, .running] { row[status.rawValue] = .int(counts[status]) }
            if counts[.pending] > 0 { pendingTypes.append(type) }
            rows[type] = row
        }
        let known = ops.oldestPending.flatMap { t - $0.readAt < Operations.oldestPendingMaxAgeMs ? $0.created : nil }
        let oldest: [String: Millis]
        if let known, pendingTypes.allSatisfy({ known[$0] != nil }) {
            oldest = known
        } else {
            oldest = try store.oldestPending(types: pendingTypes)
            ops.oldestPending = (t, oldest)
        }
        for type in pendingTypes {
            guard let created = oldest[type] else { continue }
            rows[type]?["oldest_pending_s"] = .double(Double(max(0, t - created)) / 1000)
        }
        for (type, var row) in rows {
            row["paused"] = .int(isPaused(type) ? queues.count(type: type) : 0)
            let f = ops.finishes(type: type, at: t)
            row["success_1m"] = .int(f.success)
            row["failed_1m"] = .int(f.failed)
            // The value in force (`parallel`, else the config's); null: no cap of its own.
            row["concurrency"] = config.types[type].flatMap { concurrency(of: $0) }.map { .int($0) } ?? .null
            rows[type] = row
        }
        return .object(JSONObject(rows.keys.sorted().map { ($0, .object(rows[$0]!)) }))
    }
}

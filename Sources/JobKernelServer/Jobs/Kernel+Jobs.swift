import JobKernelCore
import JobKernelStore

extension Kernel {
    /// The job, from memory if running or just enqueued, else from the store.
    func job(_ id: Int64) throws -> Job? {
        if let job = active[id] { return job }
        if let (job, _) = fresh[id] { return job }
        return try store.job(id: id)
    }

    /// The unit, from memory if its job (without items) was just enqueued or is running, else
    /// from the store.
    func unit(_ jobID: Int64, _ index: Int) throws -> WorkUnit? {
        if index == 0 {
            if let (_, unit) = fresh[jobID] { return unit }
            if let unit = active.unit(of: jobID) { return unit }
        }
        return try store.unit(jobID: jobID, index: index)
    }

    /// The job and its unit `index`, as `job` and `unit` would find them; a job just enqueued
    /// is looked up once for both.
    func jobAndUnit(_ jobID: Int64, _ index: Int) throws -> (job: Job, unit: WorkUnit?)? {
        if index == 0, let fresh = fresh[jobID] { return fresh }
        guard let job = try job(jobID) else { return nil }
        return (job, try unit(jobID, index))
    }

    /// The job object with its children counts (queried only for jobs that have children).
    /// `payload`, when given, is the job's payload as bytes (an enqueue has them already).
    func jobJSON(_ job: Job, payload: [UInt8]? = nil) throws -> JSON {
        guard parents.contains(job.id) else {
            return active.serialized(job) ?? .serialized(SerializedJSON(bytes: job.serializedJSON(payload: payload)))
        }
        return .serialized(SerializedJSON(bytes: job.serializedJSON(children: try store.childCounts(of: job.id))))
    }

    /// Feeds `event` to the reducer for the job (and unit), persists the outcome and carries out
    /// the effects, including the events they cause on other units and jobs (a cancel that stops
    /// leased units, a cascade to descendants), before returning. `backoffUntil` replaces the
    /// event's own retry backoff (see `ReducerContext`). `known` is the job and unit as the
    /// caller has just read them, with nothing written since: they are not read again.
    func apply(_ jobID: Int64, unit index: Int?, _ event: JobEvent, backoffUntil: Millis? = nil,
               known: (job: Job, unit: WorkUnit)? = nil) throws {
        // The events the effects cause, in order; most changes cause none (no array is made).
        var work: [(Int64, Int?, JobEvent)] = []
        try apply(jobID, index, event, backoffUntil: backoffUntil, known: known, first: true, work: &work)
        var next = 0
        while next < work.count {
            let (id, idx, ev) = work[next]
            next += 1
            try apply(id, idx, ev, backoffUntil: nil, known: nil, first: false, work: &work)
        }
    }

    /// One event of `apply`: a rejection of the `first` throws, of a later one skips it.
    private func apply(_ id: Int64, _ idx: Int?, _ ev: JobEvent, backoffUntil: Millis?,
                       known: (job: Job, unit: WorkUnit)?, first: Bool, work: inout [(Int64, Int?, JobEvent)]) throws {
        var job: Job
        var unit: WorkUnit?
        if let known, known.job.id == id, known.unit.index == idx {
            job = known.job
            unit = known.unit
        } else if let idx {
            guard let stored = try jobAndUnit(id, idx) else { return }
            (job, unit) = stored
        } else {
            guard let stored = try self.job(id) else { return }
            job = stored
        }
        let statusBefore = job.status
        let unitBefore = unit
        let effects: [JobEffect]
        do {
            effects = try JobReducer.reduce(&job, &unit, ev, reducerContext(backoffUntil: backoffUntil))
        } catch {
            if first { throw error }
            return
        }
        let unitChanged = unit != unitBefore
        guard !effects.isEmpty || unitChanged else { return }
        try writeRow(job, unit: unitChanged ? unit : nil)
        fresh.forget(id)
        if job.status != statusBefore {
            statusCounts.move(from: statusBefore, to: job.status)
            ops.countStatus(type: job.type, from: statusBefore, to: job.status)
        }
        // Only running jobs stay in memory; the others are read from the store when needed.
        active[id] = job.status == .running ? job : nil
        if job.status == .running, !job.itemized, let unit { active.setUnit(unit) }
        if job.status.isTerminal {
            queues.forgetBatches(jobID: id)
            storage.forgetLogTail(jobID: id)  // memory only: no need to wait for the writer
        }
        for effect in effects {
            try perform(effect, job: job, unit: unit, work: &work)
        }
    }

    private func perform(_ effect: JobEffect, job: Job, unit: WorkUnit?, work: inout [(Int64, Int?, JobEvent)]) throws {
        switch effect {
        case .publishStatus(let from, let to):
            // The last progress report before a status change is published, before it (docs/promises.md §7).
            if case .pending(let item)? = progressWindows[job.id] {
                progressWindows[job.id] = .open
                try emitProgress(job, item: item)
            }
            try emit("job.status", job: job, data: [
                "from": .string(from.rawValue), "to": .string(to.rawValue), "job": try jobJSON(job),
            ], stored: compactStatus(from: from, job))
        case .publishItemStatus(let index, let from, let to, let error):
            var data: JSONObject = ["index": .int(index), "from": .string(from.rawValue), "to": .string(to.rawValue)]
            if let error { data["error"] = error.json }
            try emit("item.status", job: job, data: .object(data))
        case .dispatchUnit(let index):
            enqueueReady(job, index: index)
        case .dispatchPendingUnits:
            for u in try store.units(jobID: job.id, status: .pending) where u.runAt == nil {
                enqueueReady(job, index: u.index)
            }
        case .armBackoff(let index, let at):
            addDeadline(at: at, .backoff(jobID: job.id, index: index))
        case .armRunAt(let at):
            addDeadline(at: at, .runAt(jobID: job.id))
        case .cancelPendingUnits:
            let indices = try store.cancelPendingUnits(jobID: job.id)
            if job.itemized {
                for i in indices {
                    try emit("item.status", job: job, data: ["index": .int(i), "from": "pending", "to": "cancelled"])
                }
            }
        case .stopRunningUnits:
            stopLocalRuns(ofJob: job.id)
            for leaseID in broker.leaseIDs(ofJob: job.id) {
                guard let lease = removeLease(leaseID) else { continue }
                work.append((job.id, lease.index, .unitStopped(index: lease.index)))
            }
        case .resetUnsucceededUnits:
            let units = try store.resetUnsucceededUnits(jobID: job.id)
            if job.itemized {
                for u in units {
                    try emit("item.status", job: job, data: ["index": .int(u.index), "from": .string(u.from.rawValue), "to": "pending"])
                }
            }
        case .cancelDescendants(let reason):
            // A descendant that already ended is left as it is by the reducer.
            for id in try store.descendants(of: job.id) {
                work.append((id, nil, .cancelRequested(reason: reason)))
            }
        case .finalized(let status):
            if status == .success { try chain(job) }
            ops.recordFinish(type: job.type, status: status, at: job.finishedAt ?? now)
            history.ended(type: job.type, status: status)
            try resolveDependents(ofJobID: job.id, status: status)
        case .appendLog(let level, let message):
            _ = try appendLog(job, level: level, message: message)
        }
    }

    /// Puts a ready unit in its type's queue.
    func enqueueReady(_ job: Job, index: Int) {
        queues.push(type: job.type, QueuedUnit(priority: job.priority, jobID: job.id, index: index,
                                               readyIn: writes.epoch, itemized: job.itemized))
        typesToPump.insert(job.type)
    }

    // MARK: Enqueue

    /// A validated enqueue request.
    struct EnqueueRequest {
        var type: TypeConfig
        var payload: JSON
        var items: [JSON]?
        var priority: Int?
        var idempotencyKey: String?
        var createdBy: String
        var runAt: Millis?
        var maxAttempts: Int?
        var timeoutMs: Int64?
        var parentID: Int64?
        var manual: Bool
        /// The canonical form of the request, compared when an idempotency key is reused.
        var canonical: String
        /// The payload serialized, when the caller already has it (written once, docs/promises.md §12).
        var payloadBytes: [UInt8]? = nil
        /// Jobs that must end `success` before this one starts (docs/promises.md §8.6).
        var after: [Int64] = []
        /// What the job is, for people (docs/promises.md §13).
        var label: String? = nil
    }

    /// Stores a new job (or finds the one its idempotency key names) and dispatches it.
    /// Returns the job, its job object (built once for the event and the answer), and whether
    /// the idempotency key named an existing job.
    func enqueue(_ r: EnqueueRequest) throws -> (job: Job, json: JSON, duplicate: Bool) {
        if let key = r.idempotencyKey, let (existing, canonical) = try store.job(createdBy: r.createdBy, idempotencyKey: key) {
            guard canonical == r.canonical else {
                throw RPCError.idempotencyConflict(jobID: String(existing.id))
            }
            let job = active[existing.id] ?? existing
            return (job, try jobJSON(job), true)
        }
        let t = now
        let priority = r.priority ?? r.type.priority
        let scheduled = (r.runAt ?? 0) > t || !r.after.isEmpty
        var job = Job(
            id: 0, type: r.type.name, dispatchMode: r.type.mode.rawValue, status: scheduled ? .scheduled : .pending,
            priority: priority, lane: Lane(priority: priority, threshold: config.pipeline.priorityThreshold),
            payload: r.payload, label: r.label, createdBy: r.createdBy, idempotencyKey: r.idempotencyKey, parentID: r.parentID,
            manual: r.manual, maxAttempts: r.maxAttempts ?? config.maxAttempts(for: r.type),
            timeoutMs: r.timeoutMs ?? r.type.timeoutMs, runAt: r.runAt, itemized: r.items != nil,
            units: UnitCounts(pending: r.items?.count ?? 1), createdAt: t, updatedAt: t)
        job.id = takeJobID()
        try writeInsert(job, items: r.items, request: r.idempotencyKey == nil ? nil : r.canonical, payloadBytes: r.payloadBytes)
        if let parent = r.parentID { parents.insert(parent) }
        statusCounts[job.status] += 1
        ops.countStatus(type: job.type, from: nil, to: job.status)
        if r.items == nil && !scheduled { fresh.insert(job) }
        var json = try jobJSON(job, payload: r.payloadBytes)
        // A job that waits for others was created `scheduled` without a `run_at`, which the
        // compact form cannot tell: it is stored whole.
        try emit("job.created", job: job, data: ["job": json],
                 stored: r.after.isEmpty ? Kernel.compactCreated(runAt: r.runAt) : nil)
        if !r.after.isEmpty {
            try awaitDependencies(job, r.after)
            if let now = try self.job(job.id), now != job {
                job = now
                json = try jobJSON(job)
            }
        } else if scheduled {
            addDeadline(at: r.runAt!, .runAt(jobID: job.id))
        } else if !queues.isBeyondTail(type: job.type, priority: job.priority, jobID: job.id) {
            let count = r.items?.count ?? 1
            for i in 0..<count { enqueueReady(job, index: i) }
        }  // else the store holds it, and the queue reads it when its turn nears (`UnitQueues`)
        return (job, json, false)
    }

    /// Chaining (docs/promises.md §8.3): a successful job enqueues the `next` jobs of its type whose toggles
    /// are all on (or every one, for a manual job), in the same transaction as its success.
    private func chain(_ job: Job) throws {
        guard let type = config.types[job.type] else { return }
        for rule in type.next {
            guard job.manual || rule.when.allSatisfy({ settings["workflow.\($0)"]?.boolValue == true }),
                  let next = config.types[rule.type] else { continue }
            let payload: JSON = ["from": .string(String(job.id)), "payload": job.payload, "result": job.result]
            _ = try enqueue(EnqueueRequest(
                type: next, payload: payload, items: nil, priority: nil, idempotencyKey: nil,
                createdBy: job.createdBy, runAt: nil, maxAttempts: nil, timeoutMs: nil, parentID: job.id,
                manual: job.manual, canonical: ""))
        }
    }

    // MARK: Logs and progress

    func appendLog(_ job: Job, level: String, message: String) throws -> Int64 {
        let t = now
        let seq = try store.appendLog(jobID: job.id, ts: t, level: level, message: message,
                                      maxBytes: config.limits.maxLogBytes)
        try emit("job.log", job: job, data: ["seq": .int(Int(seq)), "level": .string(level), "message": .string(message)])
        return seq
    }
}

extension Kernel {
    /// How long progress reports of one job are coalesced (docs/promises.md §7: the last value wins, and a
    /// coalesced report takes no seq).
    static let progressWindowMs: Int64 = 50

    /// Folds a progress report into the running job (so `get` shows it at once) and publishes
    /// `job.progress`: at once when the job's window is closed, else when it closes.
    @discardableResult
    func reportProgress(_ jobID: Int64, current: Double?, total: Double?, phase: String?, message: String?, item: Int?) throws -> JSON {
        guard var job = active[jobID], job.status == .running else { return .null }
        let t = now
        job.progress.apply(current: current, total: total, phase: phase, message: message)
        job.lastActivityAt = t
        job.updatedAt = t
        active[job.id] = job
        if progressWindows[jobID] != nil {
            progressWindows[jobID] = .pending(item: item)
        } else {
            try publishProgress(job, item: item)
        }
        return job.progress.json(items: job.itemized ? job.units : nil)
    }

    private func publishProgress(_ job: Job, item: Int?) throws {
        try writeRow(job, unit: nil)
        try emitProgress(job, item: item)
        progressWindows[job.id] = .open
        addDeadline(at: now + Kernel.progressWindowMs, .progressWindowEnd(job.id))
    }

    private func emitProgress(_ job: Job, item: Int?) throws {
        var data: JSONObject = ["progress": job.progress.json(items: job.itemized ? job.units : nil)]
        if let item { data["item"] = .int(item) }
        try emit("job.progress", job: job, data: .object(data))
    }

    /// A job's progress window closed: publish what was folded into it, if anything.
    func progressWindowEnded(_ jobID: Int64) {
        guard case .pending(let item)? = progressWindows.removeValue(forKey: jobID),
              let job = active[jobID], job.status == .running else { return }
        try? publishProgress(job, item: item)
    }
}

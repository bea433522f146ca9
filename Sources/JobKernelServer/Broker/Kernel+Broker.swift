import JobKernelCore

extension Kernel {
    /// `fetch {types, max?, wait_s?, lease_s?}`
    func fetch(_ p: inout Params, _ conn: Connection, reply: @escaping (JSON) -> Void) throws {
        guard let types = try p.stringOrStringArray("types") else {
            throw RPCError.invalidParams("`types` must name at least one async_api job type", field: "types")
        }
        let max = try p.optionalInt("max", in: 1...1000) ?? 1
        let waitMs = try p.optionalDuration("wait_s", in: 0...600) ?? 0
        let leaseMs = try p.optionalDuration("lease_s", in: Kernel.leaseSeconds) ?? 30_000
        try p.rejectUnknown()
        for t in types {
            guard let type = config.types[t] else { throw RPCError.unknownType(t) }
            guard type.mode == .asyncAPI else {
                throw RPCError.invalidParams("type \"\(t)\" is dispatched as \(type.mode.rawValue), not async_api: the kernel runs it itself", field: "types")
            }
        }
        let granted = try take(types: types, max: max, leaseMs: leaseMs, conn: conn)
        if !granted.isEmpty || waitMs == 0 {
            reply(["leases": .array(granted)])
            return
        }
        let waiterID = broker.fetchWaits(connectionID: conn.id, types: types, max: max, leaseMs: leaseMs, reply: reply)
        conn.outstanding += 1
        addDeadline(at: now + waitMs, .fetchTimeout(waiterID))
    }

    /// Leases up to `max` ready units of `types`, best first, none of a paused type and none of
    /// a type beyond its concurrency in force (`leaseRoom`).
    private func take(types: [String], max: Int, leaseMs: Int64, conn: Connection) throws -> [JSON] {
        var out: [JSON] = []
        var types = anythingPaused ? types.filter { !isPaused($0) } : types
        types.removeAll { leaseRoom($0) == 0 }
        while out.count < max, let (type, head) = queues.peek(types: types) {
            _ = queues.popMax(type: type)
            guard let (job, unit) = try validReady(head) else { continue }
            out.append(try grantLease(job, unit, leaseMs: leaseMs, connectionID: conn.id).1)
            if leaseRoom(type) == 0 { types.removeAll { $0 == type } }
        }
        return out
    }

    /// How many more units of the async_api `type` may be leased (to `fetch` or NATS): its
    /// concurrency in force (`parallel`, else the config's `concurrency`) less the leases out on
    /// it; unbounded when it has none (docs/promises.md §13).
    func leaseRoom(_ type: String) -> Int {
        broker.room(type: type, cap: config.types[type].flatMap(concurrency(of:)))
    }

    /// Checks a unit taken off a queue: its job is still open and not being cancelled, the unit
    /// still pending and ready. A non-manual job whose `requires` toggle is off ends `skipped`
    /// here, as it is about to start (docs/promises.md §8.3). Stale entries (a cancelled job's) yield nil.
    func validReady(_ head: QueuedUnit) throws -> (Job, WorkUnit)? {
        guard let (job, unit) = try jobAndUnit(head.jobID, head.index), !job.cancelRequested,
              job.status == .pending || job.status == .running,
              let unit, unit.status == .pending, unit.runAt == nil else { return nil }
        if !job.manual, typesRequireToggles, let off = config.types[job.type]?.requires.first(where: { settings["workflow.\($0)"]?.boolValue != true }) {
            try apply(job.id, unit: nil, .requirementUnmet(toggle: off))
            return nil
        }
        return (job, unit)
    }

    /// Starts the unit under a new lease; returns the lease and its object as `fetch` shows it.
    func grantLease(_ job: Job, _ unit: WorkUnit, leaseMs: Int64, connectionID: UInt64) throws -> (Lease, JSON) {
        try apply(job.id, unit: unit.index, .unitStarted(index: unit.index), known: (job, unit))
        let started = active[job.id] ?? job
        let lease = Lease(id: broker.newLeaseID(), jobID: job.id, type: job.type, index: unit.index,
                          connectionID: connectionID, expiresAt: now + leaseMs, durationMs: leaseMs)
        broker.granted(lease)
        turn.leases.append(lease.id)
        addDeadline(at: lease.expiresAt, .lease(lease.id))
        // `{lease, job, item, attempt, expires_at}` written straight to bytes around the job's.
        let jobBytes = try jobJSON(started)
        var b = ByteWriter(capacity: 640)
        b.append(#"{"lease":"#)
        broker.writeName(lease.id, into: &b)
        b.append(#","job":"#)
        JSONWriter.write(jobBytes, into: &b)
        b.append(#","item":"#)
        JSONWriter.write(job.itemized ? ["index": .int(unit.index), "value": unit.value] : .null, into: &b)
        b.append(#","attempt":"#)
        JSONWriter.writeInt(started.attempt, into: &b)
        b.append(#","expires_at":""#)
        Timestamp.write(lease.expiresAt, into: &b)
        b.append(#""}"#)
        return (lease, .serialized(SerializedJSON(bytes: b.finish())))
    }

    /// Serves waiting fetches from the queues that gained units, oldest waiter first.
    func pumpWaiters() {
        let types = typesToPump
        typesToPump.removeAll()
        guard !broker.waiters.isEmpty, !shuttingDown else { return }
        for w in broker.waiters {
            guard w.types.contains(where: types.contains), let conn = connections[w.connectionID] else { continue }
            let granted = (try? take(types: w.types, max: w.max, leaseMs: w.leaseMs, conn: conn)) ?? []
            if granted.isEmpty { continue }
            broker.fetchServed(w.id)
            answerWaiter(w, leases: granted)
        }
    }

    func answerWaiter(_ w: FetchWaiter, leases granted: [JSON]) {
        guard let conn = connections[w.connectionID] else { return }
        conn.outstanding -= 1
        w.reply(["leases": .array(granted)])
        markDirty(conn)
    }

    func fetchTimedOut(_ waiterID: UInt64) {
        guard let waiter = broker.fetchTimedOut(waiterID) else { return }
        answerWaiter(waiter, leases: [])
    }

    /// Ends the lease `id` (acked, nacked, cancelled, NATS answered); returns it if it was out.
    @discardableResult
    func removeLease(_ id: LeaseID) -> Lease? {
        guard let lease = broker.released(id) else { return nil }
        leaseEnded(lease)
        return lease
    }

    /// A lease ended: under a cap, its slot may serve a waiting fetch (or a NATS publish) now.
    private func leaseEnded(_ lease: Lease) {
        if config.types[lease.type].flatMap(concurrency(of:)) != nil { typesToPump.insert(lease.type) }
    }

    func expireLease(_ id: LeaseID, now t: Millis) {
        guard let lease = broker.leaseExpired(id, now: t) else { return }
        leaseEnded(lease)
        try? apply(lease.jobID, unit: lease.index, .unitLost(index: lease.index, reason: "lease expired"))
    }

    /// A lease's duration in seconds, as `fetch` and `extend` take it.
    static let leaseSeconds: ClosedRange<Double> = 1...86400

    /// `ack {lease, result?}`: the unit succeeded.
    func ack(_ p: inout Params) throws -> JSON {
        let id = try p.string("lease", bytes: 1...1024)
        let result = p.optionalJSON("result") ?? .null
        try p.rejectUnknown()
        let lease = try broker.live(id, now: now)
        removeLease(lease.id)
        try apply(lease.jobID, unit: lease.index, .unitSucceeded(index: lease.index, result: result))
        return true
    }

    /// `nack {lease, error, retryable?=true}`: the unit failed.
    func nack(_ p: inout Params) throws -> JSON {
        let id = try p.string("lease", bytes: 1...1024)
        let errorValue = p.optionalJSON("error") ?? .null
        guard let error = JobError(json: errorValue) else {
            throw RPCError.invalidParams("`error` must be a string or an object {message, …}", field: "error")
        }
        let retryable = try p.optionalBool("retryable") ?? true
        try p.rejectUnknown()
        let lease = try broker.live(id, now: now)
        removeLease(lease.id)
        try apply(lease.jobID, unit: lease.index, .unitFailed(index: lease.index, error: error, retryable: retryable))
        return true
    }

    /// `extend {lease, lease_s?}`: pushes the lease's expiry out.
    func extend(_ p: inout Params) throws -> JSON {
        let id = try p.string("lease", bytes: 1...1024)
        let leaseMs = try p.optionalDuration("lease_s", in: Kernel.leaseSeconds)
        try p.rejectUnknown()
        let lease = try broker.extended(id, by: leaseMs, now: now)
        addDeadline(at: lease.expiresAt, .lease(lease.id))
        if var job = active[lease.jobID] {
            job.lastActivityAt = now
            active[lease.jobID] = job
        }
        return ["lease": .string(broker.name(lease.id)), "expires_at": .string(Timestamp.format(lease.expiresAt))]
    }
}

import JobKernelCore
import JobKernelStore

/// Start-up, and the rebuild after a failed commit: the in-memory state from what the store holds
/// (docs/promises.md §9).
extension Kernel {
    /// Rebuilds the in-memory state from the store: open jobs, ready queues, timers. Units that
    /// were running when the previous kernel died are requeued with their attempt counted.
    func recover() throws {
        try loadStoredState()
        try countJobs(try store.takeCleanStop())
        for unit in try store.units(jobID: nil, status: .running) {
            do {
                try apply(unit.jobID, unit: unit.index, .unitLost(index: unit.index, reason: "the kernel stopped while the unit ran"))
            } catch let e as DatabaseError where e.isStoreFault {
                break  // the commit below fails and undoes this; the orphan check retries it
            }
        }
        try queueStoredUnits()
        addDeadline(at: now + max(config.pipeline.heartbeatMs, 100), .staleCheck)
        // On a full disk the kernel still starts: it serves reads and answers writes -32007.
        commitTurn()
    }

    /// Reads what the store holds of the kernel's state: the event seq, running jobs, parents and
    /// settings.
    func loadStoredState() throws {
        events.restored(lastSeq: try store.latestEventSeq())
        nextJobID = try store.maxJobID() + 1
        parents = try store.parentIDs()
        settings = [:]
        for (name, value) in config.workflow.names.map({ ($0, config.workflow[$0] ?? false) }) {
            settings["workflow.\(name)"] = .bool(value)
        }
        // A stored toggle the config no longer declares is kept in the store but not served.
        let toggles = WorkflowToggles(declared: config.workflow.names)
        for (key, value) in try store.settings() where !key.hasPrefix("workflow.") || toggles.declares(key) {
            settings[key] = value
        }
        refreshPaused()
        refreshConcurrency()
        active = OpenJobs()
        fresh.removeAll()
        for job in try store.runningJobs() { active[job.id] = job }
    }

    /// Counts the jobs by status, in all and open ones by type: from what the previous kernel left
    /// when it stopped cleanly, if that still describes the store (the same last event and job),
    /// else by reading every open row and counting the finished ones by status. Runs after
    /// `loadStoredState`, which read the last event and job.
    func countJobs(_ stop: JobStore.CleanStop?) throws {
        ops.openByType = [:]
        if let stop, stop.eventSeq == events.lastSeq, stop.maxJobID == nextJobID - 1,
           let (total, open) = Self.counts(from: stop.counts) {
            statusCounts = total
            for (type, counts) in open { ops.addOpen(type: type, counts) }
            return
        }
        var total = StatusCounts()
        for (status, n) in try store.terminalStatusCounts() {
            if let status = JobStatus(rawValue: status) { total[status] = n }
        }
        var open: [String: StatusCounts] = [:]
        for (type, status, n) in try store.openJobCounts() {
            total[status] += n
            open[type, default: StatusCounts()][status] += n
        }
        statusCounts = total
        for (type, counts) in open { ops.addOpen(type: type, counts) }
    }

    /// `{"total":{status:n},"open":{type:{status:n}}}`, as a clean stop records the counts.
    static func countsJSON(total: StatusCounts, open: [String: StatusCounts]) -> JSON {
        func object(_ c: StatusCounts) -> JSON {
            var o: JSONObject = [:]
            for s in JobStatus.allCases where c[s] != 0 { o[s.rawValue] = .int(c[s]) }
            return .object(o)
        }
        var byType: JSONObject = [:]
        for (type, counts) in open where !counts.isEmpty { byType[type] = object(counts) }
        return ["total": object(total), "open": .object(byType)]
    }

    /// The counts of `countsJSON`, or nil if the value is not of that shape.
    static func counts(from json: JSON) -> (total: StatusCounts, open: [String: StatusCounts])? {
        func counts(_ v: JSON?) -> StatusCounts? {
            guard case .object(let o)? = v else { return nil }
            var c = StatusCounts()
            for (key, n) in o {
                guard let s = JobStatus(rawValue: key), let n = n.intValue else { return nil }
                c[s] = n
            }
            return c
        }
        guard case .object(let root) = json, let total = counts(root["total"]),
              case .object(let byType)? = root["open"] else { return nil }
        var open: [String: StatusCounts] = [:]
        for (type, v) in byType {
            guard let c = counts(v) else { return nil }
            open[type] = c
        }
        return (total, open)
    }

    /// Records, after the last commit of a clean stop, the counts for the next start. A failure
    /// only costs that start a count of the store.
    func recordCleanStop() {
        sync()
        guard writes.failure == nil else { return }
        do {
            try storage.beginIfNeeded()
            try storage.recordCleanStop(JobStore.CleanStop(
                eventSeq: try storage.latestEventSeq(), maxJobID: try storage.maxJobID(),
                counts: Self.countsJSON(total: statusCounts, open: ops.openByType)))
            _ = try storage.commit()
        } catch {
            storage.db.rollback()
            KernelMain.log("could not record the clean stop (\(error)); the next start counts the jobs in the store")
        }
    }

    /// Queues the ready units the store holds and arms its times: backoffs, `run_at`, schedules.
    ///
    /// Pending jobs stay in the store. A type's queue holds its first `queues.window` pending
    /// jobs (docs/architecture.md, "The ready queues"); the rest are read a window at a time as
    /// the queue runs low, so a start costs the same with ten thousand pending jobs or ten
    /// million. A pending job without items and with no backoff under way has its one unit ready:
    /// no unit row is read for it. Scheduled and running jobs are few and read whole.
    func queueStoredUnits() throws {
        var others: [JobStore.OpenJobSummary] = []
        try store.forEachScheduledOrRunningJob { job in
            if job.status == .scheduled, let at = job.runAt { addDeadline(at: at, .runAt(jobID: job.id)) }
            others.append(job)
        }
        for job in others { try queueUnits(of: job, readyIn: 0) }
        for type in try store.typesWithPendingJobs() { try readQueue(type: type, readyIn: 0) }
        // Schedules run at the next turn's start, like any deadline, so a slot is enqueued in a
        // turn that commits or fails as a whole.
        for i in schedules.entries.indices { addDeadline(at: now, .schedule(i)) }
    }

    /// Reads the next window of `type`'s pending jobs into its queue. `readyIn`: the write epoch
    /// the units count as ready in (0 at start-up, when everything read is committed).
    func readQueue(type: String, readyIn: UInt64) throws {
        let jobs = try store.pendingJobs(type: type, after: queues.tails[type].map { ($0.priority, $0.jobID) }, limit: queues.window)
        var ready: [QueuedUnit] = []
        ready.reserveCapacity(jobs.count)
        for job in jobs {
            if !job.itemized && job.waiting == 0 {
                ready.append(QueuedUnit(priority: job.priority, jobID: job.id, index: 0, readyIn: readyIn, itemized: false))
            } else {
                try queueUnits(of: job, readyIn: readyIn)
            }
        }
        if !ready.isEmpty { queues.push(type: type, contentsOf: ready) }
        queues.setTail(type: type, jobs.count < queues.window ? nil : jobs.last.map { ($0.priority, $0.id) })
        typesToPump.insert(type)
    }

    /// Queues an open job's pending units that are ready and arms the backoffs of the others.
    private func queueUnits(of job: JobStore.OpenJobSummary, readyIn: UInt64) throws {
        let t = now
        for unit in try store.units(jobID: job.id, status: .pending) {
            if let at = unit.runAt {
                addDeadline(at: at, .backoff(jobID: job.id, index: unit.index))
            } else if job.status != .scheduled || (job.runAt ?? 0) <= t {
                queues.push(type: job.type, QueuedUnit(priority: job.priority, jobID: job.id, index: unit.index,
                                                       readyIn: readyIn, itemized: job.itemized))
                typesToPump.insert(job.type)
            }
        }
    }

    /// Reads further the queues that ran low and have jobs left in the store.
    func refillQueues() {
        for type in queues.takeLowTypes() {
            do {
                try readQueue(type: type, readyIn: writes.epoch)
            } catch {
                // The store cannot be read now: try again at a later turn.
                KernelMain.log("could not read the queue of \(type) from the database (\(error)); trying again")
                queues.readAgainLater(type: type)
            }
        }
    }
}

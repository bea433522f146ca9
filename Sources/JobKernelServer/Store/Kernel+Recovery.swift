import JobKernelCore
import JobKernelStore

/// Start-up, and the rebuild after a failed commit: the in-memory state from what the store holds
/// (docs/promises.md §9).
extension Kernel {
    /// Rebuilds the in-memory state from the store: open jobs, ready queues, timers. Units that
    /// were running when the previous kernel died are requeued with their attempt counted.
    func recover() throws {
        try loadStoredState()
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

    /// Queues the stored pending units, counts jobs by status and arms the stored times:
    /// backoffs, `run_at`, schedules.
    ///
    /// Pending jobs stay in the store: the queues hold a few words per ready unit, and a job is
    /// read whole only when one of its units is dispatched (a million pending jobs start fast and
    /// cost little memory). A pending job without items and with no backoff under way has its one
    /// unit ready: no unit row is read for it.
    func queueStoredUnits() throws {
        let t = now
        var others: [JobStore.OpenJobSummary] = []
        var ready: [String: [QueuedUnit]] = [:]
        var counts = StatusCounts()
        for (status, n) in try store.terminalStatusCounts() {
            if let status = JobStatus(rawValue: status) { counts[status] = n }
        }
        ops.openByType = [:]
        // Counted and queued a type at a time (rows of one type mostly come together): a lookup
        // by type per change of type, not per job.
        var type: String?
        var typeCounts = StatusCounts()
        var typeReady: [QueuedUnit] = []
        func endType() {
            guard let type else { return }
            ops.addOpen(type: type, typeCounts)
            typeCounts = StatusCounts()
            guard !typeReady.isEmpty else { return }
            // Handed over, not copied: a million queued units are 24 MB.
            if ready[type] == nil { ready[type] = typeReady } else { ready[type]! += typeReady }
            typeReady = []
        }
        try store.forEachOpenJob { job in
            if job.type != type {
                endType()
                type = job.type
            }
            counts[job.status] += 1
            typeCounts[job.status] += 1
            if job.status == .scheduled, let at = job.runAt { addDeadline(at: at, .runAt(jobID: job.id)) }
            if !job.itemized && job.status == .pending && job.waiting == 0 {
                typeReady.append(QueuedUnit(priority: job.priority, jobID: job.id, index: 0))
            } else {
                others.append(job)
            }
        }
        endType()
        for (type, units) in ready {
            queues.push(type: type, contentsOf: units)
            typesToPump.insert(type)
        }
        statusCounts = counts
        for job in others {
            for unit in try store.units(jobID: job.id, status: .pending) {
                if let at = unit.runAt {
                    addDeadline(at: at, .backoff(jobID: job.id, index: unit.index))
                } else if job.status != .scheduled || (job.runAt ?? 0) <= t {
                    enqueueReady(type: job.type, priority: job.priority, jobID: job.id, index: unit.index)
                }
            }
        }
        // Schedules run at the next turn's start, like any deadline, so a slot is enqueued in a
        // turn that commits or fails as a whole.
        for i in schedules.entries.indices { addDeadline(at: t, .schedule(i)) }
    }
}

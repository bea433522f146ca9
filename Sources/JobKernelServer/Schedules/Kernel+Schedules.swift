import JobKernelCore

/// Routes schedule deadlines to `Schedules` and enqueues the slots it answers.
extension Kernel {
    /// Enqueues schedule `index`'s due slot, if any, then arms its next look. A slot is enqueued
    /// in a deadline's turn, so it commits or fails with the turn as a whole.
    func runSchedule(_ index: Int) {
        let s = schedules.entries[index]
        if let problem = schedules.problem(index) {
            KernelMain.log("schedule \(s.name): \(problem); the schedule does not run")
            return
        }
        let t = now
        do {
            let state = try store.scheduleState(name: s.name)
            if let slot = schedules.due(index, now: t, lastSlot: state?.lastSlot), let type = config.types[s.type] {
                let (job, _, _) = try enqueue(EnqueueRequest(
                    type: type, payload: s.payload, items: nil, priority: s.priority, idempotencyKey: slot.idempotencyKey,
                    createdBy: "schedule", runAt: nil, maxAttempts: nil, timeoutMs: nil, parentID: nil, manual: false,
                    canonical: slot.canonical))
                try store.setScheduleState(name: s.name, lastSlot: slot.number, lastJobID: job.id)
            }
        } catch {
            KernelMain.log("schedule \(s.name): \(error)")
        }
        if let next = schedules.nextWake(index, now: t) { addDeadline(at: next, .schedule(index)) }
    }

    /// The `schedules` method's answer.
    func schedulesList() -> JSON {
        let t = now
        return .array(schedules.entries.indices.map { i in
            let state = try? store.scheduleState(name: schedules.entries[i].name)
            return schedules.listing(i, now: t, lastSlot: state?.lastSlot, lastJobID: state?.lastJobID)
        })
    }

    /// The config's schedules, each cron schedule's time zone read once, or the first problem
    /// (a zone that cannot be read) as the config error to print before the kernel starts.
    static func schedules(of config: KernelConfig) -> Result<Schedules, ScheduleZoneError> {
        let schedules = Schedules(config.schedules)
        for i in config.schedules.indices {
            if let problem = schedules.problem(i) {
                return .failure(ScheduleZoneError(message: "schedules[\(i)].timezone: \(problem) — fix: name an IANA zone such as \"Europe/Berlin\", or install tzdata"))
            }
        }
        return .success(schedules)
    }

    struct ScheduleZoneError: Error {
        var message: String
    }
}

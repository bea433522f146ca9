import JobKernelCore

extension Kernel {
    /// Enqueues the schedule's job for the current slot unless it was (SPEC §8.5), then arms the
    /// next slot. Slots are aligned to the Unix epoch; missed slots run once, not once each, and
    /// the idempotency key `schedule:<name>:<slot>` keeps a restart from doubling one.
    func runSchedule(_ index: Int) {
        let s = config.schedules[index]
        if let cron = s.cron {
            runCronSchedule(index, cron)
            return
        }
        let t = now
        let slot = t / s.everyMs
        do {
            let state = try store.scheduleState(name: s.name)
            if (state?.lastSlot ?? -1) < slot, let type = config.types[s.type] {
                let (job, _, _) = try enqueue(EnqueueRequest(
                    type: type, payload: s.payload, items: nil, priority: s.priority, idempotencyKey: "schedule:\(s.name):\(slot)",
                    createdBy: "schedule", runAt: nil, maxAttempts: nil, timeoutMs: nil, parentID: nil, manual: false,
                    canonical: Kernel.canonicalString(["schedule": .string(s.name), "slot": .int(Int(slot))])))
                try store.setScheduleState(name: s.name, lastSlot: slot, lastJobID: job.id)
            }
        } catch {
            KernelMain.log("schedule \(s.name): \(error)")
        }
        addDeadline(at: (slot + 1) * s.everyMs, .schedule(index))
    }

    func schedulesList() -> JSON {
        .array(config.schedules.map { s in
            if let cron = s.cron { return cronScheduleJSON(s, cron) }
            let state = try? store.scheduleState(name: s.name)
            let slot = now / s.everyMs
            let nextSlot = (state?.lastSlot ?? -1) >= slot ? slot + 1 : slot
            return [
                "name": .string(s.name), "type": .string(s.type), "every": s.every,
                "next_run_at": .string(Timestamp.format(max(nextSlot * s.everyMs, now))),
                "last_job_id": state?.lastJobID.map { .string(String($0)) } ?? .null,
            ]
        })
    }
}

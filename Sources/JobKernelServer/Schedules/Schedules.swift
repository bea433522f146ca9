import JobKernelCore

/// The `[[schedules]]` entries and their slots (docs/promises.md §8.5).
///
/// An `every` entry's slots are aligned to the Unix epoch (slot = floor(unix ms / every)); a
/// `cron` entry's slots are its fire times in its time zone, numbered by their unix seconds. Both
/// kinds keep the same promises, here and nowhere else: the slot that is due is the latest one
/// not yet enqueued (a restart inside a slot enqueues it at once; slots missed while the kernel
/// was down run once, not once each), and its idempotency key `schedule:<name>:<slot>` keeps a
/// restart from doubling it. Pure: the kernel passes the time and the last slot the store holds,
/// and enqueues what this type answers.
struct Schedules {
    /// A slot to enqueue now.
    struct Slot: Equatable {
        /// The slot's number: epoch-aligned for `every`, unix seconds of the fire time for `cron`.
        var number: Int64
        var idempotencyKey: String
        /// What the enqueue's idempotency check compares: one slot of one schedule.
        var canonical: String
    }

    private enum Rule {
        case every(Int64)
        case cron(CronExpression, TimeZoneRules)
        /// A cron entry whose zone cannot be read: it never runs (start-up refuses such a config;
        /// this covers a zone file removed afterwards).
        case unreadable(String)
    }

    let entries: [ScheduleConfig]
    private let rules: [Rule]

    /// The entries of `config`, their cron zones read through `zone`.
    init(_ entries: [ScheduleConfig], zone: (String) throws -> TimeZoneRules = TimeZoneDatabase.rules) {
        self.entries = entries
        rules = entries.map { s in
            guard let cron = s.cron else { return .every(s.everyMs) }
            do {
                return .cron(cron, try zone(s.timezone))
            } catch {
                return .unreadable("\(error)")
            }
        }
    }

    /// Why entry `index` cannot run, if it cannot.
    func problem(_ index: Int) -> String? {
        if case .unreadable(let why) = rules[index] { return why }
        return nil
    }

    /// The slot of entry `index` to enqueue at `now`, given the last slot enqueued; nil when that
    /// one is already enqueued (or the entry cannot run).
    func due(_ index: Int, now: Millis, lastSlot: Int64?) -> Slot? {
        let latest: Int64
        switch rules[index] {
        case .every(let ms):
            latest = now / ms
        case .cron(let cron, let zone):
            guard let fire = cron.latestFire(atOrBefore: now / 1000, in: zone) else { return nil }
            latest = fire
        case .unreadable:
            return nil
        }
        guard (lastSlot ?? -1) < latest else { return nil }
        let name = entries[index].name
        return Slot(number: latest, idempotencyKey: "schedule:\(name):\(latest)",
                    canonical: Kernel.canonicalString(["schedule": .string(name), "slot": .int(Int(latest))]))
    }

    /// When entry `index` must be looked at next: the start of the slot after `now`'s.
    func nextWake(_ index: Int, now: Millis) -> Millis? {
        switch rules[index] {
        case .every(let ms):
            return (now / ms + 1) * ms
        case .cron(let cron, let zone):
            return cron.nextFire(after: now / 1000, in: zone).map { $0 * 1000 }
        case .unreadable:
            return nil
        }
    }

    /// When entry `index` next enqueues a job: now if a slot is due, else the next slot's start.
    func nextRun(_ index: Int, now: Millis, lastSlot: Int64?) -> Millis? {
        due(index, now: now, lastSlot: lastSlot) != nil ? now : nextWake(index, now: now)
    }

    /// Entry `index` as the `schedules` method lists it.
    func listing(_ index: Int, now: Millis, lastSlot: Int64?, lastJobID: Int64?) -> JSON {
        let s = entries[index]
        var entry: JSONObject = [
            "name": .string(s.name), "type": .string(s.type),
            "next_run_at": nextRun(index, now: now, lastSlot: lastSlot).map { .string(Timestamp.format($0)) } ?? .null,
            "last_job_id": lastJobID.map { .string(String($0)) } ?? .null,
        ]
        if s.cron != nil {
            entry["every"] = .null
            entry["cron"] = .string(s.cronText ?? "")
            entry["timezone"] = .string(s.timezone)
        } else {
            entry["every"] = s.every
        }
        return .object(entry)
    }
}

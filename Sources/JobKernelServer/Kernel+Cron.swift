import Glibc
import JobKernelCore

/// Cron schedules (SPEC §8.5): `cron` fields read in an IANA time zone from the system's tz
/// database. Slots are the fire times, keyed `schedule:<name>:<unix seconds of the fire time>`.
extension Kernel {
    /// Enqueues the latest fire time not yet enqueued (so a restart inside a slot enqueues it at
    /// once, and missed fire times run once, not once each), then arms the next fire time.
    func runCronSchedule(_ index: Int, _ cron: CronExpression) {
        let s = config.schedules[index]
        let seconds = now / 1000
        guard let zone = try? Kernel.timeZone(s.timezone) else {
            KernelMain.log("schedule \(s.name): time zone \(s.timezone) cannot be read; the schedule does not run")
            return
        }
        do {
            let state = try store.scheduleState(name: s.name)
            if let fire = cron.latestFire(atOrBefore: seconds, in: zone), (state?.lastSlot ?? -1) < fire,
               let type = config.types[s.type] {
                let (job, _, _) = try enqueue(EnqueueRequest(
                    type: type, payload: s.payload, items: nil, priority: s.priority, idempotencyKey: "schedule:\(s.name):\(fire)",
                    createdBy: "schedule", runAt: nil, maxAttempts: nil, timeoutMs: nil, parentID: nil, manual: false,
                    canonical: Kernel.canonicalString(["schedule": .string(s.name), "slot": .int(Int(fire))])))
                try store.setScheduleState(name: s.name, lastSlot: fire, lastJobID: job.id)
            }
        } catch {
            KernelMain.log("schedule \(s.name): \(error)")
        }
        if let next = cron.nextFire(after: seconds, in: zone) {
            addDeadline(at: next * 1000, .schedule(index))
        }
    }

    /// `schedules` entry of a cron schedule.
    func cronScheduleJSON(_ s: ScheduleConfig, _ cron: CronExpression) -> JSON {
        let state = try? store.scheduleState(name: s.name)
        let seconds = now / 1000
        var next: JSON = .null
        if let zone = try? Kernel.timeZone(s.timezone) {
            let latest = cron.latestFire(atOrBefore: seconds, in: zone)
            if let latest, (state?.lastSlot ?? -1) < latest {
                next = .string(Timestamp.format(now))
            } else if let n = cron.nextFire(after: seconds, in: zone) {
                next = .string(Timestamp.format(n * 1000))
            }
        }
        return [
            "name": .string(s.name), "type": .string(s.type), "every": .null, "cron": .string(s.cronText ?? ""),
            "timezone": .string(s.timezone), "next_run_at": next,
            "last_job_id": state?.lastJobID.map { .string(String($0)) } ?? .null,
        ]
    }

    /// The tz database: `$TZDIR`, else `/usr/share/zoneinfo`.
    static var zoneDirectory: String {
        if let dir = getenv("TZDIR").map({ String(cString: $0) }), !dir.isEmpty { return dir }
        return "/usr/share/zoneinfo"
    }

    nonisolated(unsafe) private static var zones: [String: TimeZoneRules] = [:]

    /// The rules of the IANA zone `name`, read once from the system's tz database. `UTC` works
    /// without one.
    static func timeZone(_ name: String) throws -> TimeZoneRules {
        if let z = zones[name] { return z }
        let path = zoneDirectory + "/" + name
        guard CronExpression.isZoneName(name), let bytes = readWholeFile(path) else {
            if name == "UTC" || name == "Etc/UTC" { return .utc }
            throw TimeZoneRules.ParseError(message: "no time zone \"\(name)\" in \(zoneDirectory) (install tzdata)")
        }
        let rules = try TimeZoneRules(tzif: bytes)
        zones[name] = rules
        return rules
    }

    private static func readWholeFile(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n > 0 { out += buf[0..<n] }
            if n < buf.count { break }
        }
        return out
    }

    /// Checks, before the kernel starts, that every cron schedule's time zone can be read.
    public static func checkScheduleZones(_ config: KernelConfig) -> String? {
        for (i, s) in config.schedules.enumerated() where s.cron != nil {
            do {
                _ = try timeZone(s.timezone)
            } catch {
                return "schedules[\(i)].timezone: \(error) — fix: name an IANA zone such as \"Europe/Berlin\", or install tzdata"
            }
        }
        return nil
    }
}

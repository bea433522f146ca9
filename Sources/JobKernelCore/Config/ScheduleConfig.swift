/// One `[[schedules]]` entry: enqueue a job of `type` once per epoch-aligned slot of `everyMs`
/// (docs/promises.md §8.5).
public struct ScheduleConfig: Equatable, Sendable {
    /// Unique among the schedules; part of the idempotency key `schedule:<name>:<slot>`.
    public var name: String
    /// The job type to enqueue; a configured type.
    public var type: String
    /// The slot length; more than 0.
    public var everyMs: Int64
    /// `every` exactly as configured (a string such as `"1h"`, or a number of seconds), which
    /// the `schedules` method returns.
    public var every: JSON
    /// The jobs' priority; nil: the type's.
    public var priority: Int?
    /// The jobs' payload; default `{}`.
    public var payload: JSON = .object([:])
    /// Set for a `cron` entry (then `everyMs` is 0): its slots are the fire times (docs/promises.md §8.5).
    public var cron: CronExpression?
    /// `cron` as configured, which the `schedules` method returns.
    public var cronText: String?
    /// The IANA time zone the cron fields are read in; `"UTC"` unless configured.
    public var timezone: String = "UTC"

    /// A schedule; `every` defaults to the text of a whole number of seconds.
    public init(name: String, type: String, everyMs: Int64, every: JSON? = nil) {
        self.name = name
        self.type = type
        self.everyMs = everyMs
        self.every = every ?? (everyMs % 1_000 == 0 ? .string("\(everyMs / 1_000)s") : .string("\(everyMs)ms"))
    }

    /// `every` as text: the configured string, or the configured number of seconds written out.
    public var everyText: String {
        switch every {
        case .string(let text): return text
        case .int(let seconds): return String(seconds)
        case .double(let seconds): return String(seconds)
        default: return "\(everyMs)ms"
        }
    }
}

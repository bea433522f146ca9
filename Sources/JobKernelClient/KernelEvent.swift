import JobKernelCore

/// One `event` notification (docs/promises.md §7): `{subscription, seq, ts, kind, job_id, data}`.
public struct KernelEvent: Sendable {
    /// The subscription it was delivered to.
    public var subscription: String
    /// The kernel's global, gap-free event number; 0 for a log line `waitForJob` read with `logs`.
    public var seq: Int
    /// When the change happened (RFC 3339).
    public var ts: String
    /// `job.created`, `job.status`, `job.progress`, `job.log`, `item.status` or `settings.changed`.
    public var kind: String
    /// The job it is about; nil for `settings.changed`.
    public var jobID: String?
    /// The kind's data object.
    public var data: JSON

    /// An event built by hand (e.g. a log line read back with `logs`).
    public init(subscription: String, seq: Int, ts: String, kind: String, jobID: String?, data: JSON) {
        self.subscription = subscription
        self.seq = seq
        self.ts = ts
        self.kind = kind
        self.jobID = jobID
        self.data = data
    }

    /// Reads the params of an `event` notification; nil when they are not shaped like one.
    public init?(params: JSON) {
        guard let subscription = params["subscription"]?.stringValue,
            let seq = params["seq"]?.intValue,
            let kind = params["kind"]?.stringValue
        else { return nil }
        self.subscription = subscription
        self.seq = seq
        self.ts = params["ts"]?.stringValue ?? ""
        self.kind = kind
        self.jobID = params["job_id"]?.stringValue
        self.data = params["data"] ?? .null
    }

    /// The job carried by `job.created` and `job.status` events.
    public var job: JSON? { data["job"] }
}

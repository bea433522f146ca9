import JobKernelCore

/// Which jobs a bulk `cancel`, `retry` or `remove` names (docs/promises.md §13): a list of ids,
/// or a filter `{status?, type?, label?, older_than_s?}` whose parts AND (a part given as an array
/// ORs its values). An empty filter is refused: "cancel everything" must be said explicitly,
/// e.g. `{status: ["pending", "running"]}`.
enum JobSelection: Equatable {
    case ids([Int64])
    case filter(JobFilter)

    /// Reads `ids` or the filter from `p`; nil when neither is given (the method's single-`{id}`
    /// form then applies). Each parameter's type and range are checked first; then giving
    /// `ids` and a filter, or either beside `id`, is -32602 naming the one that was there first
    /// (`id`, else `ids`). A null counts as absent.
    static func read(_ p: inout Params) throws(RPCError) -> JobSelection? {
        let hasID = !(p.object["id"]?.isNull ?? true)
        let ids = try p.jobIDs("ids")
        let statuses = try p.oneOrMany("status", "a job status") { $0.stringValue.flatMap(JobStatus.init(rawValue:)) }
        let types = try p.stringOrStringArray("type")
        let label = try p.optionalString("label", bytes: 1...JobFilter.labelBytes)
        let olderMs = try p.optionalDuration("older_than_s")
        let filtered = statuses != nil || types != nil || label != nil || olderMs != nil
        if hasID, ids != nil || filtered {
            throw .invalidParams("give `id`, `ids` or a filter (status, type, label, older_than_s), only one of them", field: "id")
        }
        if let ids {
            if filtered { throw .invalidParams("give `ids` or a filter (status, type, label, older_than_s), not both", field: "ids") }
            return .ids(ids)
        }
        guard filtered else { return nil }
        return .filter(JobFilter(statuses: statuses.map(Set.init), types: types.map(Set.init), label: label, olderThanMs: olderMs))
    }
}

/// A filter over jobs; pure, so that what it matches is tested on its own.
struct JobFilter: Equatable {
    /// The statuses to match (nil: any).
    var statuses: Set<JobStatus>? = nil
    /// The types to match (nil: any).
    var types: Set<String>? = nil
    /// The label to match exactly (nil: any). See `label(of:)`.
    var label: String? = nil
    /// Only jobs at least this old: since they finished for a finished job, since they were
    /// created for an open one.
    var olderThanMs: Int64? = nil

    /// The longest label a filter takes, in bytes.
    static let labelBytes = 200

    /// The statuses this filter matches among `allowed` (those the method can change): the
    /// status list pushed down to the store's query.
    func statuses(among allowed: Set<JobStatus>) -> [JobStatus] {
        JobStatus.allCases.filter { allowed.contains($0) && (statuses?.contains($0) ?? true) }
    }

    /// Whether a job with these fields matches at time `now`.
    func matches(status: JobStatus, type: String, label jobLabel: String?, createdAt: Millis, finishedAt: Millis?,
                 now: Millis) -> Bool {
        if let statuses, !statuses.contains(status) { return false }
        if let types, !types.contains(type) { return false }
        if let label, label != jobLabel { return false }
        if let olderThanMs {
            let since = status.isTerminal ? (finishedAt ?? createdAt) : createdAt
            if now - since < olderThanMs { return false }
        }
        return true
    }

    /// Whether `job` matches at time `now`.
    func matches(_ job: Job, now: Millis) -> Bool {
        matches(status: job.status, type: job.type, label: JobFilter.label(of: job), createdAt: job.createdAt,
                finishedAt: job.finishedAt, now: now)
    }

    /// A job's label as a filter sees it: its `label` field (`enqueue {label}`, `run --label`).
    static func label(of job: Job) -> String? { job.label }
}

/// A job's status (docs/promises.md §5). The last five are terminal.
public enum JobStatus: String, CaseIterable, Sendable {
    case scheduled, pending, running
    case success
    case partialSuccess = "partial_success"
    case failed, cancelled, skipped

    public var isTerminal: Bool {
        switch self {
        case .scheduled, .pending, .running: return false
        case .success, .partialSuccess, .failed, .cancelled, .skipped: return true
        }
    }
}

extension JobStatus: Hashable {
    /// The case's position in `allCases`.
    public var ordinal: Int {
        switch self {
        case .scheduled: return 0
        case .pending: return 1
        case .running: return 2
        case .success: return 3
        case .partialSuccess: return 4
        case .failed: return 5
        case .cancelled: return 6
        case .skipped: return 7
        }
    }

    /// Hashed by case, not by name (an enum with raw values hashes its raw value, a string, by
    /// default).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(UInt8(truncatingIfNeeded: ordinal))
    }
}

/// Jobs counted by status, one slot per status: the kernel counts on every status change, and
/// a slot costs no hashing.
public struct StatusCounts: Sendable {
    private var slots = InlineArray<8, Int>(repeating: 0)

    public init() {}

    public subscript(status: JobStatus) -> Int {
        get { slots[status.ordinal] }
        set { slots[status.ordinal] = newValue }
    }

    /// True when every status counts zero.
    public var isEmpty: Bool { JobStatus.allCases.allSatisfy { self[$0] == 0 } }

    /// Counts a job that left `from` for `to`; nil for a status not counted here.
    public mutating func move(from: JobStatus?, to: JobStatus?) {
        if let from { self[from] -= 1 }
        if let to { self[to] += 1 }
    }

    /// Adds `other`'s counts to these.
    public mutating func add(_ other: StatusCounts) {
        for s in JobStatus.allCases { self[s] += other[s] }
    }
}

/// The status of one unit: an item, or the single implicit unit of a job without items.
public enum UnitStatus: String, CaseIterable, Sendable {
    case pending, running, success, failed, cancelled

    public var isTerminal: Bool { self == .success || self == .failed || self == .cancelled }
}

/// How many units of a job are in each status. For an itemized job these are the `items` counts.
public struct UnitCounts: Hashable, Sendable {
    public var pending = 0
    public var running = 0
    public var success = 0
    public var failed = 0
    public var cancelled = 0

    public init(pending: Int = 0, running: Int = 0, success: Int = 0, failed: Int = 0, cancelled: Int = 0) {
        self.pending = pending
        self.running = running
        self.success = success
        self.failed = failed
        self.cancelled = cancelled
    }

    public var total: Int { pending + running + success + failed + cancelled }
    public var done: Int { success + failed + cancelled }

    /// Moves one unit from `from` to `to`.
    public mutating func move(from: UnitStatus, to: UnitStatus) {
        self[from] -= 1
        self[to] += 1
    }

    public subscript(status: UnitStatus) -> Int {
        get {
            switch status {
            case .pending: return pending
            case .running: return running
            case .success: return success
            case .failed: return failed
            case .cancelled: return cancelled
            }
        }
        set {
            switch status {
            case .pending: pending = newValue
            case .running: running = newValue
            case .success: success = newValue
            case .failed: failed = newValue
            case .cancelled: cancelled = newValue
            }
        }
    }
}

/// The `error` of a job or a unit: `{message, code?, data?}`.
public struct JobError: Hashable, Sendable {
    public var message: String
    public var code: String?
    public var data: JSON?

    public init(message: String, code: String? = nil, data: JSON? = nil) {
        self.message = message
        self.code = code
        self.data = data
    }

    public var json: JSON {
        var o: JSONObject = ["message": .string(message)]
        if let code { o["code"] = .string(code) }
        if let data { o["data"] = data }
        return .object(o)
    }

    /// Reads `{message, code?, data?}` or a bare string (taken as the message).
    public init?(json: JSON) {
        switch json {
        case .string(let s): self.init(message: s)
        case .object(let o):
            guard let message = o["message"]?.stringValue else { return nil }
            var code: String?
            switch o["code"] {
            case .string(let s)?: code = s
            case .int(let i)?: code = String(i)
            default: code = nil
            }
            self.init(message: message, code: code, data: o["data"])
        default: return nil
        }
    }
}

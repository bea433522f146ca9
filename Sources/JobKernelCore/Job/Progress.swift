/// A job's progress as reported by its worker, with defaults drawn from its items (docs/promises.md §5).
public struct Progress: Hashable, Sendable {
    public var current: Double?
    public var total: Double?
    public var phase: String?
    public var message: String?

    public init(current: Double? = nil, total: Double? = nil, phase: String? = nil, message: String? = nil) {
        self.current = current
        self.total = total
        self.phase = phase
        self.message = message
    }

    /// Folds a report into this progress: the fields it names replace ours.
    public mutating func apply(current: Double?, total: Double?, phase: String?, message: String?) {
        if let current { self.current = current }
        if let total { self.total = total }
        if let phase { self.phase = phase }
        if let message { self.message = message }
    }

    /// The JSON shape, with `total` defaulting to the item count and `current` to the items done.
    public func json(items: UnitCounts?) -> JSON {
        let total = self.total ?? items.map { Double($0.total) }
        let current = self.current ?? items.map { Double($0.done) }
        var percent: JSON = .null
        if let current, let total, total > 0 {
            // At most 100 (current above total, or a tiny total, would give more or infinity).
            percent = .double(min(1000.0, (current * 1000.0 / total).rounded()) / 10.0)
        }
        return [
            "current": current.map(Progress.number) ?? .null,
            "total": total.map(Progress.number) ?? .null,
            "percent": percent,
            "phase": phase.map { .string($0) } ?? .null,
            "message": message.map { .string($0) } ?? .null,
        ]
    }

    /// A count as JSON: an integer when it is whole (`3`, not `3.0`).
    public static func number(_ v: Double) -> JSON {
        v.rounded() == v && abs(v) < 9e15 ? .int(Int(v)) : .double(v)
    }
}

/// A job's progress as reported by its worker, with defaults drawn from its items (SPEC §5).
public struct Progress: Hashable, Sendable {
    public var current: Int?
    public var total: Int?
    public var phase: String?
    public var message: String?

    public init(current: Int? = nil, total: Int? = nil, phase: String? = nil, message: String? = nil) {
        self.current = current
        self.total = total
        self.phase = phase
        self.message = message
    }

    /// Folds a report into this progress: the fields it names replace ours.
    public mutating func apply(current: Int?, total: Int?, phase: String?, message: String?) {
        if let current { self.current = current }
        if let total { self.total = total }
        if let phase { self.phase = phase }
        if let message { self.message = message }
    }

    /// The JSON shape, with `total` defaulting to the item count and `current` to the items done.
    public func json(items: UnitCounts?) -> JSON {
        let total = self.total ?? items?.total
        let current = self.current ?? items?.done
        var percent: JSON = .null
        if let current, let total, total > 0 {
            percent = .double((Double(current) * 1000.0 / Double(total)).rounded() / 10.0)
        }
        return [
            "current": current.map { .int($0) } ?? .null,
            "total": total.map { .int($0) } ?? .null,
            "percent": percent,
            "phase": phase.map { .string($0) } ?? .null,
            "message": message.map { .string($0) } ?? .null,
        ]
    }
}

/// The ids of what one job has out at once (its leases, its local runs). Nearly always there is
/// one (a job without items has one unit), kept without a set, so that taking one and giving it
/// back builds and hashes no set.
struct FewIDs<ID: Hashable> {
    private var first: ID?
    private var more: Set<ID> = []

    init(_ id: ID) { first = id }

    mutating func insert(_ id: ID) {
        if first == nil { first = id } else { more.insert(id) }
    }

    /// Removes `id`; returns true when none is left.
    mutating func remove(_ id: ID) -> Bool {
        if first == id { first = nil } else { more.remove(id) }
        return first == nil && more.isEmpty
    }

    func contains(where matches: (ID) -> Bool) -> Bool {
        if let first, matches(first) { return true }
        return more.contains(where: matches)
    }

    var all: [ID] { (first.map { [$0] } ?? []) + more }
}

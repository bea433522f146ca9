import JobKernelCore

/// The embedded broker's state (SPEC §5.4): the leases out, by id and by job, and the `fetch`es
/// waiting for work. The kernel routes requests, deadlines and connections to it
/// (`Kernel+Broker.swift`); the ready units themselves are in `UnitQueues`.
struct Broker {
    var leases: [String: Lease] = [:]
    private var byJob: [Int64: FewIDs<String>] = [:]
    var waiters: [FetchWaiter] = []
    private var nextWaiterID: UInt64 = 1
    private var leaseCounter: UInt64 = 0
    /// Tells this kernel's lease ids from an earlier kernel's.
    private let leasePrefix = String(UInt32.random(in: 0...UInt32.max), radix: 36)

    /// An id for a new lease.
    mutating func newLeaseID() -> String {
        leaseCounter += 1
        return "\(leasePrefix)-\(leaseCounter)"
    }

    /// An id for a new waiting `fetch`.
    mutating func newWaiterID() -> UInt64 {
        defer { nextWaiterID += 1 }
        return nextWaiterID
    }

    /// Records a lease granted.
    mutating func add(_ lease: Lease) {
        leases[lease.id] = lease
        if byJob[lease.jobID]?.insert(lease.id) == nil { byJob[lease.jobID] = FewIDs(lease.id) }
    }

    /// Forgets a lease; returns it if it was there.
    @discardableResult
    mutating func remove(_ id: String) -> Lease? {
        guard let lease = leases.removeValue(forKey: id) else { return nil }
        if byJob[lease.jobID]?.remove(id) == true { byJob[lease.jobID] = nil }
        return lease
    }

    /// The ids of the leases out on units of job `jobID`.
    func leaseIDs(ofJob jobID: Int64) -> [String] { byJob[jobID]?.all ?? [] }
}

/// A unit handed to an external worker by `fetch` (SPEC §5.4).
struct Lease {
    var id: String
    var jobID: Int64
    var index: Int
    var connectionID: UInt64
    var expiresAt: Millis
    /// The lease duration asked for by `fetch`: the default for `extend`.
    var durationMs: Int64
}

/// A `fetch` waiting for work.
struct FetchWaiter {
    var id: UInt64
    var connectionID: UInt64
    var types: [String]
    var max: Int
    var leaseMs: Int64
    var reply: (JSON) -> Void
}


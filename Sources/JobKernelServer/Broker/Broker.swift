import JobKernelCore

/// The embedded broker (docs/promises.md §5.4): the leases out and the `fetch`es waiting for
/// work. It is the one index of leases, by id, by job and by connection; the kernel routes
/// requests, deadlines and closed connections to it (`Kernel+Broker.swift`), and the ready units
/// themselves wait in `UnitQueues`.
///
/// A lease lives until it is acked or nacked, expires, its job is cancelled, or its connection
/// closes; each of those is a method here named for what happened, which answers with the lease
/// that ended so that the kernel can tell the reducer.
struct Broker {
    private(set) var leases: [LeaseID: Lease] = [:]
    private var byJob: [Int64: FewIDs<LeaseID>] = [:]
    private var byConnection: [UInt64: Set<LeaseID>] = [:]
    /// How many leases are out per job type, for `parallel`'s cap on `fetch` (docs/promises.md §13).
    private var outByType: [String: Int] = [:]
    /// Waiting `fetch`es, oldest first.
    private(set) var waiters: [FetchWaiter] = []
    private var nextWaiterID: UInt64 = 1
    private var leaseCounter: UInt64 = 0
    /// Tells this kernel's lease ids from an earlier kernel's.
    private let leasePrefix: String

    init(leasePrefix: String = String(UInt32.random(in: 0...UInt32.max), radix: 36)) {
        self.leasePrefix = leasePrefix
    }

    // MARK: Leases

    /// An id for a new lease.
    mutating func newLeaseID() -> LeaseID {
        leaseCounter += 1
        return LeaseID(leaseCounter)
    }

    /// The lease id as workers see it, `<prefix>-<number>`: the prefix tells this kernel's leases
    /// from an earlier kernel's.
    func name(_ id: LeaseID) -> String { "\(leasePrefix)-\(id.number)" }

    /// Writes `name(id)` as a JSON string, without making the string.
    func writeName(_ id: LeaseID, into b: inout ByteWriter) {
        b.append(UInt8(ascii: "\""))
        b.append(utf8: leasePrefix)
        b.append(UInt8(ascii: "-"))
        if let n = Int(exactly: id.number) { JSONWriter.writeInt(n, into: &b) } else { b.append(utf8: String(id.number)) }
        b.append(UInt8(ascii: "\""))
    }

    /// The lease a worker names, if the name is one of this kernel's (`name`); nil for any other
    /// text, an earlier kernel's lease included.
    func id(named name: String) -> LeaseID? {
        var name = name
        return name.withUTF8 { bytes -> LeaseID? in
            let prefix = leasePrefix.utf8
            guard bytes.count > prefix.count + 1, bytes.count <= prefix.count + 21,
                  bytes.starts(with: prefix), bytes[prefix.count] == UInt8(ascii: "-") else { return nil }
            var n: UInt64 = 0
            for byte in bytes[(prefix.count + 1)...] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                let (times10, o1) = n.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
                guard !o1, !o2 else { return nil }
                n = sum
            }
            return LeaseID(n)
        }
    }

    /// The lease out under the name a worker gave, if any.
    func lease(named name: String) -> Lease? { id(named: name).flatMap { leases[$0] } }

    /// A unit was handed out under `lease`.
    mutating func granted(_ lease: Lease) {
        leases[lease.id] = lease
        if byJob[lease.jobID]?.insert(lease.id) == nil { byJob[lease.jobID] = FewIDs(lease.id) }
        byConnection[lease.connectionID, default: []].insert(lease.id)
        outByType[lease.type, default: 0] += 1
    }

    /// The lease `id` ended (acked, nacked, its job cancelled, or undone); returns it if it was out.
    @discardableResult
    mutating func released(_ id: LeaseID) -> Lease? {
        guard let lease = leases.removeValue(forKey: id) else { return nil }
        if byJob[lease.jobID]?.remove(id) == true { byJob[lease.jobID] = nil }
        if byConnection[lease.connectionID]?.remove(id) != nil, byConnection[lease.connectionID]!.isEmpty {
            byConnection[lease.connectionID] = nil
        }
        if outByType[lease.type] == 1 { outByType[lease.type] = nil } else { outByType[lease.type]? -= 1 }
        return lease
    }

    /// How many more units of `type` may be leased when at most `cap` may be out at once (its
    /// concurrency in force; nil: no cap): `cap` less the leases out on it now, never below 0.
    func room(type: String, cap: Int?) -> Int {
        guard let cap else { return Int.max }
        return Swift.max(0, cap - (outByType[type] ?? 0))
    }

    /// The ids of the leases out on units of job `jobID`.
    func leaseIDs(ofJob jobID: Int64) -> [LeaseID] { byJob[jobID]?.all ?? [] }

    /// Whether a lease holds unit `index` of job `jobID`.
    func holds(jobID: Int64, index: Int) -> Bool {
        byJob[jobID]?.contains { leases[$0]?.index == index } ?? false
    }

    /// The live lease `name` names at `now`: `ack`, `nack` and `extend` act only on one. An
    /// unknown or expired lease is -32005, which tells the worker to stop.
    func live(_ name: String, now: Millis) throws(RPCError) -> Lease {
        guard let lease = lease(named: name), lease.expiresAt > now else { throw RPCError.leaseExpired }
        return lease
    }

    /// `extend`: the live lease `name` now expires `durationMs` (else its own duration) after `now`.
    mutating func extended(_ name: String, by durationMs: Int64?, now: Millis) throws(RPCError) -> Lease {
        var lease = try live(name, now: now)
        lease.expiresAt = now + (durationMs ?? lease.durationMs)
        leases[lease.id] = lease
        return lease
    }

    /// A lease's deadline came: the lease, ended, if it really expired (an `extend` may have
    /// pushed it out since the deadline was armed), else nil.
    mutating func leaseExpired(_ id: LeaseID, now: Millis) -> Lease? {
        guard let lease = leases[id], lease.expiresAt <= now else { return nil }
        return released(id)
    }

    /// Every lease out, soonest to expire first (`workers`, protocol/protocol.md).
    func snapshot() -> [Lease] {
        leases.values.sorted { ($0.expiresAt, $0.id) < ($1.expiresAt, $1.id) }
    }

    // MARK: Waiting fetches

    /// A `fetch` found nothing and waits; returns its id, for its time-out.
    mutating func fetchWaits(connectionID: UInt64, types: [String], max: Int, leaseMs: Int64,
                             reply: @escaping (JSON) -> Void) -> UInt64 {
        let id = nextWaiterID
        nextWaiterID += 1
        waiters.append(FetchWaiter(id: id, connectionID: connectionID, types: types, max: max, leaseMs: leaseMs, reply: reply))
        return id
    }

    /// A waiting fetch's `wait_s` ran out: the waiter, removed, to be answered with no lease; nil
    /// when it was served meanwhile.
    mutating func fetchTimedOut(_ id: UInt64) -> FetchWaiter? {
        guard let i = waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return waiters.remove(at: i)
    }

    /// A waiting fetch got its units: it waits no more.
    mutating func fetchServed(_ id: UInt64) {
        waiters.removeAll { $0.id == id }
    }

    // MARK: Connections, shutdown, store faults

    /// The connection `id` closed: its waiting fetches go, and its leases end; returns those
    /// leases, whose units go back to their queues.
    mutating func connectionClosed(_ id: UInt64) -> [Lease] {
        waiters.removeAll { $0.connectionID == id }
        guard let ids = byConnection[id] else { return [] }
        return ids.sorted().compactMap { released($0) }
    }

    /// The kernel is shutting down: every lease ends and every waiting fetch is answered with
    /// nothing; returns both.
    mutating func shutDown() -> (leases: [Lease], waiters: [FetchWaiter]) {
        let out = (leases.keys.sorted().compactMap { released($0) }, waiters)
        waiters.removeAll()
        return out
    }

    /// The turn (or batch) that granted `ids` failed to commit: those leases never were.
    mutating func undo(granted ids: [LeaseID]) {
        for id in ids { released(id) }
    }
}

/// A lease's id inside the kernel: a number, unique for the kernel's life. Workers see it as
/// `Broker.name(_:)`, with the kernel's prefix; the number alone keys the broker's tables, so
/// that granting and ending a lease hash no strings.
struct LeaseID: Hashable, Comparable, ExpressibleByIntegerLiteral {
    var number: UInt64
    init(_ number: UInt64) { self.number = number }
    init(integerLiteral number: UInt64) { self.number = number }
    static func < (a: LeaseID, b: LeaseID) -> Bool { a.number < b.number }
}

/// A unit handed to an external worker by `fetch`.
struct Lease: Equatable {
    var id: LeaseID
    var jobID: Int64
    /// The job's type: what `parallel`'s cap counts.
    var type: String
    var index: Int
    /// The connection that fetched it; 0 for a unit out on NATS.
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

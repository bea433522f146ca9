import JobKernelCore

/// Jobs without items just enqueued and not changed since, with their one unit: the lease that
/// usually follows within milliseconds takes them from here instead of reading the store.
///
/// Job ids are given in order, so the jobs are kept in a ring indexed by id: the slot of job `id`
/// is `id % capacity`, and a job overwrites the one `capacity` ids before it (a dropped job is
/// read from the store when its turn comes, which means waiting for the writer thread's batch in
/// flight). Each slot is a job in its enqueued form (`Job.AsEnqueued`, three words), so the ring
/// costs 2 MiB and no lookup hashes. The capacity covers a burst of tens of thousands of jobs
/// enqueued at once and drained by a pool; pending jobs found at start-up are never held here.
/// Every change of a job goes through `Kernel.apply`, which forgets the job here; a reload after a
/// store fault empties it.
struct FreshJobs {
    static let capacity = 65_536  // a power of two

    /// Made at the first insert.
    private var ring: [Job.AsEnqueued?] = []

    private static func slot(_ id: Int64) -> Int { Int(truncatingIfNeeded: id) & (capacity - 1) }

    /// The job `id` and its unit, if it is still as it was enqueued.
    subscript(id: Int64) -> (job: Job, unit: WorkUnit)? {
        guard !ring.isEmpty, let e = ring[Self.slot(id)], e.id == id else { return nil }
        return (Job(e), WorkUnit(jobID: id, index: 0, value: .null, status: .pending, attempt: 0))
    }

    /// Keeps `job`, just stored with its one pending unit.
    mutating func insert(_ job: Job) {
        if ring.isEmpty { ring = [Job.AsEnqueued?](repeating: nil, count: Self.capacity) }
        ring[Self.slot(job.id)] = job.asEnqueued
    }

    /// Forgets `id`: it changed, or is about to.
    mutating func forget(_ id: Int64) {
        guard !ring.isEmpty else { return }
        let i = Self.slot(id)
        if ring[i]?.id == id { ring[i] = nil }
    }

    mutating func removeAll() {
        ring = []
    }
}

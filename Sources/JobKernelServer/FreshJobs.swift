import JobKernelCore

/// Jobs without items just enqueued and not changed since, with their one unit: the lease that
/// usually follows within milliseconds takes them from here instead of reading the store.
///
/// It holds at most `capacity` jobs (about 40 MiB), dropping the oldest: a dropped job is read
/// from the store when its turn comes, which means waiting for the writer thread's batch in
/// flight. The capacity covers a burst of tens of thousands of jobs enqueued at once and drained
/// by a pool; pending jobs found at start-up are never held here.
/// Every change of a job goes through `Kernel.apply`, which forgets the job here; a reload after a
/// store fault empties it.
struct FreshJobs {
    static let capacity = 65_536

    private var entries: [Int64: (job: Job, unit: WorkUnit)] = [:]
    /// Ids in the order they came, as a ring: the slot at `next` is the oldest once it is full.
    private var ring = [Int64](repeating: 0, count: FreshJobs.capacity)
    private var next = 0

    /// The job `id` and its unit, if it is still as it was enqueued.
    subscript(id: Int64) -> (job: Job, unit: WorkUnit)? { entries[id] }

    /// Keeps `job`, just stored with its one pending unit.
    mutating func insert(_ job: Job) {
        let evicted = ring[next]
        if evicted != 0 { entries[evicted] = nil }
        ring[next] = job.id
        next = (next + 1) % Self.capacity
        entries[job.id] = (job, WorkUnit(jobID: job.id, index: 0, value: .null, status: .pending, attempt: 0))
    }

    /// Forgets `id`: it changed, or is about to.
    mutating func forget(_ id: Int64) {
        if !entries.isEmpty { entries[id] = nil }
    }

    mutating func removeAll() {
        entries.removeAll()
        ring = [Int64](repeating: 0, count: Self.capacity)
        next = 0
    }
}

import HeapModule
import JobKernelCore

/// A unit ready to run, as it waits in a queue.
struct QueuedUnit: Comparable {
    var priority: Int
    var jobID: Int64
    var index: Int
    /// The write epoch in which the unit became ready (0: read from the store at start-up). Once
    /// that epoch is committed, starting the unit is the only change of it not yet committed.
    var readyIn: UInt64 = 0
    /// The unit is one of a job's items. Only a job without items is sure to be in `jobs_ready`
    /// whenever its unit is ready, so only such a unit may be dropped from a queue that grew
    /// past its window (`UnitQueues.trim`).
    var itemized = false

    /// Higher priority first, then older jobs, then lower item indices (docs/promises.md §8.1).
    /// `Heap` pops its maximum, so "first" compares greatest.
    static func < (a: QueuedUnit, b: QueuedUnit) -> Bool {
        if a.priority != b.priority { return a.priority < b.priority }
        if a.jobID != b.jobID { return a.jobID > b.jobID }
        return a.index > b.index
    }
}

/// Ready units by job type. Entries are validated when popped (a cancelled job's units are
/// dropped lazily), so removal is never a scan.
///
/// A queue need not be whole in memory (docs/architecture.md, "The ready queues"). When a type
/// has more pending jobs in the store than fit a window, the queue holds the first ones and a
/// *tail*: the queue key (priority, job id) of the last job read. Every ready unit that comes
/// before the tail is here; pending jobs after it are in the store, to be read a window at a
/// time (`Kernel.refillQueues`) as the queue runs low. A new job that comes after the tail is
/// therefore not pushed: the store has it. A unit pushed for another reason (a retry, a lost
/// lease) is pushed even after the tail; if the store's read meets it again, the second entry
/// fails validation when popped, as a cancelled job's does.
struct UnitQueues {
    private var byType: [String: Heap<QueuedUnit>] = [:]
    /// Types with pending jobs in the store beyond their queue, and the last job read.
    private(set) var tails: [String: (priority: Int, jobID: Int64)] = [:]
    /// Types whose queue ran below `window / 2` while they have a tail: to be read further.
    private(set) var lowTypes: Set<String> = []
    /// How many jobs of a type a read from the store takes.
    let window: Int
    static let defaultWindow = 65_536

    init(window: Int = UnitQueues.defaultWindow) {
        self.window = window
    }

    /// Sets the tail of `type` after a read from the store: `last` is the last job read, nil
    /// when the read reached the end of the type's pending jobs.
    mutating func setTail(type: String, _ last: (priority: Int, jobID: Int64)?) {
        tails[type] = last
        lowTypes.remove(type)
        noteLevel(type: type)
    }

    /// True when a new unit of job (priority, id) of `type` comes after the type's tail, so
    /// that the store's next read will find it.
    func isBeyondTail(type: String, priority: Int, jobID: Int64) -> Bool {
        guard let tail = tails[type] else { return false }
        return priority != tail.priority ? priority < tail.priority : jobID > tail.jobID
    }

    private mutating func noteLevel(type: String) {
        if tails[type] != nil, (byType[type]?.count ?? 0) < max(1, window / 2) { lowTypes.insert(type) }
    }

    /// Marks `type` to be read further again at a later turn (its last read failed).
    mutating func readAgainLater(type: String) {
        if tails[type] != nil { lowTypes.insert(type) }
    }

    /// Takes the types to read further from the store.
    mutating func takeLowTypes() -> Set<String> {
        defer { lowTypes.removeAll() }
        return lowTypes
    }

    /// Forgets every unit and tail (a reload from the store).
    mutating func removeAll() {
        byType.removeAll()
        tails.removeAll()
        lowTypes.removeAll()
        batches.removeAll()
    }
    /// sync_api batches that failed as a whole, by job: each is taken again as it was, its items
    /// together and no others (docs/promises.md §5.3).
    private var batches: [Int64: [Set<Int>]] = [:]

    mutating func push(type: String, _ unit: QueuedUnit) {
        byType[type, default: Heap()].insert(unit)
        if byType[type]!.count > 2 * window { trim(type: type) }
    }

    /// A queue that grew past two windows (jobs enqueued faster than they start) drops its last
    /// units down to one window, and its tail moves up to the last unit kept: the store holds the
    /// dropped ones, pending, and the queue reads them again when its turn nears. Memory, and the
    /// cost of a job's place in the queue, stay bounded while millions are enqueued. A unit of an
    /// itemized job is never dropped (its job may be running, so not in `jobs_ready`): the
    /// trimming stops at the first such unit.
    mutating func trim(type: String) {
        guard var heap = byType.removeValue(forKey: type) else { return }
        defer { byType[type] = heap }
        var dropped = false
        while heap.count > window, let worst = heap.min, !worst.itemized {
            heap.removeMin()
            dropped = true
        }
        guard dropped, let last = heap.min else { return }
        // The tail is the earlier of the old one and the last unit kept: every ready unit before
        // it must stay here.
        if let tail = tails[type], isBefore(tail, (last.priority, last.jobID)) { return }
        tails[type] = (last.priority, last.jobID)
    }

    /// True when queue key `a` comes before `b` (higher priority, then the older job).
    private func isBefore(_ a: (priority: Int, jobID: Int64), _ b: (priority: Int, jobID: Int64)) -> Bool {
        a.priority != b.priority ? a.priority > b.priority : a.jobID < b.jobID
    }

    /// Adds many units at once (start-up): one heapify, O(n), instead of n inserts.
    mutating func push(type: String, contentsOf units: [QueuedUnit]) {
        if let heap = byType[type] {
            byType[type] = Heap(heap.unordered + units)
        } else {
            byType[type] = Heap(units)
        }
    }

    /// The head of `type`'s queue, without removing it.
    func head(type: String) -> QueuedUnit? { byType[type]?.max }

    /// The best head among `types`, without removing it.
    func peek(types: [String]) -> (type: String, unit: QueuedUnit)? {
        var best: (String, QueuedUnit)?
        for t in types {
            guard let head = byType[t]?.max else { continue }
            if best == nil || best!.1 < head { best = (t, head) }
        }
        return best
    }

    mutating func popMax(type: String) -> QueuedUnit? {
        let unit = byType[type]?.popMax()
        if !tails.isEmpty { noteLevel(type: type) }
        return unit
    }

    /// Marks `indices` of a job as one batch to retry together.
    mutating func keepTogether(jobID: Int64, indices: Set<Int>) {
        guard indices.count > 1 else { return }
        batches[jobID, default: []].append(indices)
    }

    /// True when the unit belongs to a batch to retry together.
    func isKeptTogether(_ unit: QueuedUnit) -> Bool {
        batches[unit.jobID]?.contains { $0.contains(unit.index) } ?? false
    }

    /// The batch the unit belongs to, which is being taken now, if any.
    mutating func takeBatch(of unit: QueuedUnit) -> Set<Int>? {
        guard let i = batches[unit.jobID]?.firstIndex(where: { $0.contains(unit.index) }) else { return nil }
        let batch = batches[unit.jobID]!.remove(at: i)
        if batches[unit.jobID]!.isEmpty { batches[unit.jobID] = nil }
        return batch
    }

    /// Forgets a job's batches (the job ended).
    mutating func forgetBatches(jobID: Int64) {
        if !batches.isEmpty { batches[jobID] = nil }  // nearly always empty: no hashing then
    }

    /// Each job's place in `type`'s queue (1: its best unit is next), for the jobs asked about
    /// that have a unit there: 1 + the units of other jobs ahead of its best one
    /// (docs/promises.md §13 `waiting`). A job's units share its priority, so a unit of another
    /// job is ahead exactly when its (priority, job id) comes first.
    ///
    /// Cost: one pass over the type's queued units, each placed among the jobs asked about by a
    /// binary search, O(n log m) for n units and m jobs, and an array of m + 1 counts; no sort of
    /// the queue and no other type's units (`get` asks about one job: one pass). Entries of jobs
    /// cancelled since they were queued leave the queue only when they reach its head, so they
    /// are counted until then: the place is an upper bound.
    func positions(type: String, of jobs: [(jobID: Int64, priority: Int)]) -> [Int64: Int] {
        guard let heap = byType[type], !jobs.isEmpty else { return [:] }
        // First in line first: higher priority, then the older job.
        func first(_ a: (Int, Int64), before b: (Int, Int64)) -> Bool { a.0 != b.0 ? a.0 > b.0 : a.1 < b.1 }
        let keys = jobs.map { ($0.priority, $0.jobID) }.sorted { first($0, before: $1) }
        var aheadFrom = [Int](repeating: 0, count: keys.count + 1)
        var queued = [Bool](repeating: false, count: keys.count)
        for unit in heap.unordered {
            let key = (unit.priority, unit.jobID)
            // The first job asked about that this unit comes before.
            var lo = 0, hi = keys.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if first(key, before: keys[mid]) { hi = mid } else { lo = mid + 1 }
            }
            aheadFrom[lo] += 1
            if lo > 0, keys[lo - 1] == key { queued[lo - 1] = true }
        }
        var out: [Int64: Int] = [:]
        var ahead = 0
        for (i, key) in keys.enumerated() {
            ahead += aheadFrom[i]
            if queued[i] { out[key.1] = 1 + ahead }
        }
        return out
    }

    func count(type: String) -> Int { byType[type]?.count ?? 0 }
    var totalCount: Int { byType.values.reduce(0) { $0 + $1.count } }
}

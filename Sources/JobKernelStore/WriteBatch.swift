import JobKernelCore

/// The writes collected for one transaction, in order, for the `StoreWriter` to run.
///
/// Writes of a job's row are kept apart from the rest: each writes every mutable field of the
/// row, so a later write of the same row that sets at least as much makes the earlier one
/// redundant, and it is dropped (its events stay). A job that a pool starts and finishes within
/// one batch then costs one row update instead of two. Likewise a job without items that changes
/// in the batch that creates it (a lease or a run started in the turn of its `enqueue`) is
/// inserted once, in the state it reached, instead of inserted and then rewritten: one row write,
/// and no index entry made only to be moved. That is sound because every other write of a batch
/// touches rows of its own only (a new job, an event, a log line): nothing between the two
/// writes reads the row.
public struct WriteBatch {
    private(set) public var writes: [StoreWriter.Write] = []
    /// The batch's last droppable write of each job's row.
    private var rows: [Int64: RowWrite] = [:]
    /// Row writes dropped so far because a later one made them redundant, or folded into the
    /// insert of their row.
    private(set) public var dropped = 0

    /// What a write of a job's row sets: the job's mutable fields, or those and its one unit's
    /// (a job without items keeps its unit in its row).
    private enum RowFields: Comparable {
        case job
        case jobAndUnit
    }

    /// A job's row write in the batch: an update (where it is in `writes`, and what it sets), or
    /// the insert of a job without items, which later updates of the row are folded into (a job
    /// with items is never entered here).
    private enum RowWrite {
        case update(at: Int, sets: RowFields)
        case insert(NewJob)
    }

    /// The insert of a new job, as the batch will run it. A reference: a later write of the row
    /// folds into it in place, and the batch's write of it reads it when the batch runs (the
    /// writer thread reads it only after the batch is taken, when nothing changes it any more).
    private final class NewJob {
        var job: Job
        var unit: WorkUnit?
        let items: [JSON]?
        let request: String?
        let payloadBytes: [UInt8]?

        init(job: Job, items: [JSON]?, request: String?, payloadBytes: [UInt8]?) {
            self.job = job
            self.items = items
            self.request = request
            self.payloadBytes = payloadBytes
        }

        func write(to store: JobStore) throws {
            var row = job
            try store.insert(&row, unit: unit, items: items, request: request, payloadBytes: payloadBytes)
        }
    }

    public init() {}

    public var count: Int { writes.count }
    public var isEmpty: Bool { writes.isEmpty }

    /// Adds a write that touches no existing job's row: a new job, an event, a log line.
    public mutating func append(_ write: @escaping StoreWriter.Write) {
        writes.append(write)
    }

    /// Adds the insert of the new `job` and its units (`JobStore.insert`). The insert of a job
    /// without items takes in the later writes of its row in this batch.
    public mutating func appendInsert(_ job: Job, items: [JSON]?, request: String?, payloadBytes: [UInt8]?) {
        let new = NewJob(job: job, items: items, request: request, payloadBytes: payloadBytes)
        if items == nil { rows[job.id] = .insert(new) }
        writes.append(new.write(to:))
    }

    /// Adds the write of every mutable field of `job`, and of `unit`, one of its units, when given
    /// (`JobStore.update(_:unit:)`), dropping the batch's earlier write of the row if this one
    /// sets all it did, or folding it into the batch's insert of the row.
    public mutating func appendUpdate(_ job: Job, unit: WorkUnit?) {
        let earlier = rows[job.id]
        if case .insert(let new)? = earlier {
            new.job = job
            if let unit { new.unit = unit }
            dropped += 1
            return
        }
        let sets: RowFields?
        switch (unit, job.itemized) {
        case (nil, _): sets = .job
        case (_?, false): sets = .jobAndUnit
        case (_?, true): sets = nil  // it also writes a row of `units`: it must stay
        }
        if let sets, case .update(let index, let earlierSets)? = earlier, earlierSets <= sets {
            writes[index] = Self.nothing
            dropped += 1
        }
        rows[job.id] = sets.map { .update(at: writes.count, sets: $0) }
        writes.append { try $0.update(job, unit: unit) }
    }

    /// The writes, in order; the batch is left empty.
    public mutating func take() -> [StoreWriter.Write] {
        defer { removeAll() }
        return writes
    }

    public mutating func removeAll() {
        writes.removeAll()
        rows.removeAll(keepingCapacity: true)
    }

    private static var nothing: StoreWriter.Write { { _ in } }
}

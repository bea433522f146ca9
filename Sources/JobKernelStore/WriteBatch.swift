import JobKernelCore

/// The writes collected for one transaction, in order, for the `StoreWriter` to run.
///
/// Writes of a job's row are kept apart from the rest: each writes every mutable field of the
/// row, so a later write of the same row that sets at least as much makes the earlier one
/// redundant, and it is dropped (its events stay). A job that a pool starts and finishes within
/// one batch then costs one row update instead of two. That is sound because every other write
/// of a batch touches rows of its own only (a new job, an event, a log line): nothing between the
/// two writes reads the row.
public struct WriteBatch {
    private(set) public var writes: [StoreWriter.Write] = []
    /// Where the batch's last droppable write of each job's row is, and what it sets.
    private var rows: [Int64: (index: Int, sets: RowFields)] = [:]
    /// Row writes dropped so far because a later one made them redundant.
    private(set) public var dropped = 0

    /// What a write of a job's row sets: the job's mutable fields, or those and its one unit's
    /// (a job without items keeps its unit in its row).
    private enum RowFields: Comparable {
        case job
        case jobAndUnit
    }

    public init() {}

    public var count: Int { writes.count }
    public var isEmpty: Bool { writes.isEmpty }

    /// Adds a write that touches no existing job's row: a new job, an event, a log line.
    public mutating func append(_ write: @escaping StoreWriter.Write) {
        writes.append(write)
    }

    /// Adds the write of every mutable field of `job`, and of `unit`, one of its units, when given
    /// (`JobStore.update(_:unit:)`), dropping the batch's earlier write of the row if this one
    /// sets all it did.
    public mutating func appendUpdate(_ job: Job, unit: WorkUnit?) {
        let sets: RowFields?
        switch (unit, job.itemized) {
        case (nil, _): sets = .job
        case (_?, false): sets = .jobAndUnit
        case (_?, true): sets = nil  // it also writes a row of `units`: it must stay
        }
        if let sets, let earlier = rows[job.id], earlier.sets <= sets {
            writes[earlier.index] = Self.nothing
            dropped += 1
        }
        rows[job.id] = sets.map { (writes.count, $0) }
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

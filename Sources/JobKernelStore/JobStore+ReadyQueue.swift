import JobKernelCore

/// What start-up reads instead of every open job (docs/architecture.md, "The ready queues"): the
/// open jobs that are not pending (few: a pool's worth running, the scheduled ones), a type's
/// pending jobs a window at a time in queue order, and the counts a clean stop left behind.
extension JobStore {
    /// Every scheduled or running job, in no particular order.
    public func forEachScheduledOrRunningJob(_ body: (OpenJobSummary) throws -> Void) throws {
        try db.statement("""
            SELECT id, type, priority, status, run_at, itemized, n_waiting FROM jobs
            WHERE status IN ('scheduled','running')
            """).bind([]).forEach { try body(Self.openJobSummary($0)) }
    }

    /// The types that have pending jobs, one index probe per type.
    public func typesWithPendingJobs() throws -> [String] {
        var types: [String] = []
        let next = try db.statement("""
            SELECT type FROM jobs INDEXED BY jobs_ready WHERE status = 'pending' AND type > ? ORDER BY type LIMIT 1
            """)
        while let type = try next.bind([.text(types.last ?? "")]).first({ $0.text(0) }) {
            types.append(type)
        }
        return types
    }

    /// Up to `limit` pending jobs of `type` in queue order (higher priority first, then the older
    /// job), starting after the job at `after` (its priority and id), or from the head.
    public func pendingJobs(type: String, after: (priority: Int, id: Int64)?, limit: Int) throws -> [OpenJobSummary] {
        var out: [OpenJobSummary] = []
        let columns = "id, type, priority, status, run_at, itemized, n_waiting"
        if let after {
            // The rest of the cursor's priority, then the lower priorities: each an index range.
            try db.statement("""
                SELECT \(columns) FROM jobs INDEXED BY jobs_ready
                WHERE status = 'pending' AND type = ? AND priority = ? AND id > ? ORDER BY id LIMIT ?
                """).bind([.text(type), .int(Int64(after.priority)), .int(after.id), .int(Int64(limit))])
                .forEach { out.append(Self.openJobSummary($0)) }
            guard out.count < limit else { return out }
            try db.statement("""
                SELECT \(columns) FROM jobs INDEXED BY jobs_ready
                WHERE status = 'pending' AND type = ? AND priority < ? ORDER BY priority DESC, id LIMIT ?
                """).bind([.text(type), .int(Int64(after.priority)), .int(Int64(limit - out.count))])
                .forEach { out.append(Self.openJobSummary($0)) }
        } else {
            try db.statement("""
                SELECT \(columns) FROM jobs INDEXED BY jobs_ready
                WHERE status = 'pending' AND type = ? ORDER BY priority DESC, id LIMIT ?
                """).bind([.text(type), .int(Int64(limit))])
                .forEach { out.append(Self.openJobSummary($0)) }
        }
        return out
    }

    /// Open jobs counted by type and status, the slow way: every open row is read (a start after
    /// a crash, or after a failed commit).
    public func openJobCounts() throws -> [(type: String, status: JobStatus, count: Int)] {
        var out: [(String, JobStatus, Int)] = []
        // The pending ones from `jobs_ready` alone (it holds the type): no row is read.
        try db.statement("""
            SELECT type, count(*) FROM jobs INDEXED BY jobs_ready WHERE status = 'pending' GROUP BY type
            """).bind([]).forEach { out.append(($0.text(0), .pending, Int($0.int(1)))) }
        try db.statement("""
            SELECT type, status, count(*) FROM jobs WHERE status IN ('scheduled','running') GROUP BY type, status
            """).bind([]).forEach { r in
                if let status = JobStatus(rawValue: r.text(1)) { out.append((r.text(0), status, Int(r.int(2)))) }
            }
        return out
    }

    /// What a clean stop leaves for the next start.
    public struct CleanStop: Sendable {
        public var eventSeq: Int64
        public var maxJobID: Int64
        /// `{"total":{status:n},"open":{type:{status:n}}}`
        public var counts: JSON
        public init(eventSeq: Int64, maxJobID: Int64, counts: JSON) {
            self.eventSeq = eventSeq
            self.maxJobID = maxJobID
            self.counts = counts
        }
    }

    /// Records a clean stop; the last write of a kernel, after its last commit.
    public func recordCleanStop(_ stop: CleanStop) throws {
        try db.run("INSERT OR REPLACE INTO clean_stop (one, event_seq, max_job_id, counts) VALUES (1,?,?,?)",
                   [.int(stop.eventSeq), .int(stop.maxJobID), .text(stop.counts.compactString)])
    }

    /// The clean stop recorded by the previous kernel, if it stopped cleanly; the row is deleted
    /// in the current transaction, so a later crash cannot leave counts that no longer hold.
    public func takeCleanStop() throws -> CleanStop? {
        let row = try db.statement("SELECT event_seq, max_job_id, counts FROM clean_stop WHERE one = 1")
            .bind([]).first { r in (r.int(0), r.int(1), r.text(2)) }
        guard let (seq, maxID, text) = row else { return nil }
        try db.run("DELETE FROM clean_stop")
        guard let counts = try? JSONParser.parse(text) else { return nil }
        return CleanStop(eventSeq: seq, maxJobID: maxID, counts: counts)
    }

    static func openJobSummary(_ r: Row) -> OpenJobSummary {
        OpenJobSummary(id: r.int(0), type: r.text(1), priority: Int(r.int(2)),
                       status: JobStatus(rawValue: r.text(3)) ?? .pending, runAt: r.optionalInt(4),
                       itemized: r.bool(5), waiting: Int(r.int(6)))
    }
}

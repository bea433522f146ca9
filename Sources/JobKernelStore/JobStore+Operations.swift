import Glibc
import JobKernelCore

/// Operations on the store (docs/promises.md §8.6, §13): per-item results, removal and retention, incremental
/// vacuum, dependencies and per-type counts.
extension JobStore {
    // MARK: Incremental vacuum

    /// A new (empty) database is created with `auto_vacuum = INCREMENTAL`, which must be set
    /// before the first table exists.
    func useIncrementalVacuumIfNew() throws(DatabaseError) {
        let tables = try db.scalarOrThrow("SELECT count(*) FROM sqlite_master") ?? 0
        if tables == 0 { try db.execute("PRAGMA auto_vacuum = INCREMENTAL") }
    }

    /// An existing database made before schema 3 has `auto_vacuum = NONE`: switching it needs one
    /// full `VACUUM` (a rewrite of the file, outside any transaction), done once at upgrade. Its
    /// duration goes to the log.
    func convertToIncrementalVacuum() throws(DatabaseError) {
        guard try db.scalarOrThrow("PRAGMA auto_vacuum") != 2 else { return }
        let started = JobStore.monotonicMs()
        try db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        try db.execute("VACUUM")
        let ms = JobStore.monotonicMs() - started
        let pages = try db.scalarOrThrow("PRAGMA page_count") ?? 0
        let line = "jobkernel: converted \(db.path) to incremental vacuum (one-time VACUUM of \(pages) pages) in \(ms) ms\n"
        _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }  // one unbuffered line
    }

    /// A scalar (0 for NULL) with a typed error.
    fileprivate func scalarOrThrowing(_ sql: String) throws(DatabaseError) -> Int64 {
        try db.scalarOrThrow(sql) ?? 0
    }

    static func monotonicMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec / 1_000_000)
    }

    /// Returns up to `pages` free pages to the file system, in the open transaction.
    public func incrementalVacuum(pages: Int) throws(DatabaseError) {
        try beginIfNeeded()
        try db.execute("PRAGMA incremental_vacuum(\(pages))")
    }

    /// Pages on the free list (space a vacuum can give back).
    public func freePages() throws -> Int64 { try db.scalar("PRAGMA freelist_count") ?? 0 }

    // MARK: Items

    /// Up to `limit` units of the job with index above `since`, optionally of one status.
    public func items(jobID: Int64, status: UnitStatus?, since: Int, limit: Int) throws -> [WorkUnit] {
        var units: [WorkUnit] = []
        // A job without items: its one unit, from the job's row.
        if since < 0, limit > 0 {
            var sql = "SELECT \(Self.jobUnitColumns) FROM jobs WHERE id=? AND u_status IS NOT NULL"
            var values: [SQLValue] = [.int(jobID)]
            if let status {
                sql += " AND u_status=?"
                values.append(.text(status.rawValue))
            }
            try db.statement(sql).bind(values).forEach { units.append(try Self.readUnit($0)) }
        }
        var sql = "SELECT \(Self.unitColumns) FROM units WHERE job_id=? AND idx>?"
        var values: [SQLValue] = [.int(jobID), .int(Int64(since))]
        if let status {
            sql += " AND status=?"
            values.append(.text(status.rawValue))
        }
        values.append(.int(Int64(limit)))
        try db.statement(sql + " ORDER BY idx LIMIT ?").bind(values).forEach { units.append(try Self.readUnit($0)) }
        return units
    }

    // MARK: Removal

    /// A terminal job found for removal: its id, type and status.
    public struct FinishedJob: Sendable {
        public var id: Int64
        public var type: String
        public var status: JobStatus
        public var parentID: Int64?
    }

    /// Up to `limit` terminal jobs that finished before `finishedBefore` (all finished jobs when
    /// nil), optionally of the given statuses and types, oldest finish first.
    public func finishedJobs(statuses: [JobStatus]?, types: [String]?, finishedBefore: Millis?,
                             limit: Int) throws -> [FinishedJob] {
        let terminal = (statuses ?? JobStatus.allCases).filter(\.isTerminal)
        guard !terminal.isEmpty else { return [] }
        var clauses = ["finished_at IS NOT NULL", "finished_at < ?",
                       "status IN (\(terminal.map { "'\($0.rawValue)'" }.joined(separator: ",")))"]
        var values: [SQLValue] = [.int(finishedBefore ?? Int64.max)]
        if let types, !types.isEmpty {
            clauses.append("type IN (\(Array(repeating: "?", count: types.count).joined(separator: ",")))")
            values += types.map { .text($0) }
        }
        values.append(.int(Int64(limit)))
        var jobs: [FinishedJob] = []
        try db.statement("""
            SELECT id, type, status, parent_id FROM jobs INDEXED BY jobs_by_finish
            WHERE \(clauses.joined(separator: " AND ")) ORDER BY finished_at LIMIT ?
            """).bind(values).forEach {
                jobs.append(FinishedJob(id: $0.int(0), type: $0.text(1), status: JobStatus(rawValue: $0.text(2)) ?? .failed,
                                        parentID: $0.optionalInt(3)))
            }
        return jobs
    }

    /// Deletes the jobs with their units, log lines and dependency edges. Their idempotency keys
    /// are free again (the key lives in the job row).
    public func remove(jobIDs ids: [Int64]) throws(DatabaseError) {
        guard !ids.isEmpty else { return }
        try beginIfNeeded()
        let highest = max(ids.max()!, try scalarOrThrowing("SELECT max(id) FROM jobs"))
        let byJob = try db.statement("DELETE FROM units WHERE job_id=?")
        let logs = try db.statement("DELETE FROM logs WHERE job_id=?")
        let job = try db.statement("DELETE FROM jobs WHERE id=?")
        let deps = try db.statement("DELETE FROM dependencies WHERE job_id=?")
        let restarts = try db.statement("DELETE FROM restarts WHERE job_id=?")
        for id in ids {
            try byJob.bind([.int(id)]).run()
            try logs.bind([.int(id)]).run()
            try deps.bind([.int(id)]).run()
            try restarts.bind([.int(id)]).run()
            try job.bind([.int(id)]).run()
        }
        let top = try scalarOrThrowing("SELECT max(id) FROM jobs")
        if highest > top {
            try db.run("INSERT INTO id_floor (one, id) VALUES (1, ?) ON CONFLICT(one) DO UPDATE SET id=max(id, excluded.id)",
                       [.int(highest)])
        }
    }

    /// The job's descendants with their status, parents before children.
    public func descendantStatuses(of id: Int64) throws -> [(id: Int64, type: String, status: JobStatus)] {
        var out: [(Int64, String, JobStatus)] = []
        try db.statement("""
            WITH RECURSIVE d(id, depth) AS (
                SELECT id, 1 FROM jobs WHERE parent_id = ?
                UNION ALL SELECT j.id, d.depth + 1 FROM jobs j JOIN d ON j.parent_id = d.id
            ) SELECT d.id, j.type, j.status FROM d JOIN jobs j ON j.id = d.id ORDER BY depth, d.id
            """).bind([.int(id)]).forEach { out.append(($0.int(0), $0.text(1), JobStatus(rawValue: $0.text(2)) ?? .failed)) }
        return out
    }

    // MARK: Dependencies

    /// Records that `jobID` waits for `afterID` to succeed.
    public func addDependency(jobID: Int64, afterID: Int64) throws(DatabaseError) {
        try beginIfNeeded()
        try db.run("INSERT OR IGNORE INTO dependencies (after_id, job_id) VALUES (?,?)", [.int(afterID), .int(jobID)])
    }

    /// The jobs waiting for `afterID`.
    public func dependents(of afterID: Int64) throws -> [Int64] {
        var ids: [Int64] = []
        try db.statement("SELECT job_id FROM dependencies WHERE after_id=? ORDER BY job_id").bind([.int(afterID)])
            .forEach { ids.append($0.int(0)) }
        return ids
    }

    /// Drops every edge into `afterID` (it resolved).
    public func resolveDependency(afterID: Int64) throws(DatabaseError) {
        try beginIfNeeded()
        try db.run("DELETE FROM dependencies WHERE after_id=?", [.int(afterID)])
    }

    /// Drops every edge out of `jobID` (it no longer waits).
    public func dropDependencies(of jobID: Int64) throws(DatabaseError) {
        try beginIfNeeded()
        try db.run("DELETE FROM dependencies WHERE job_id=?", [.int(jobID)])
    }

    /// How many jobs `jobID` still waits for.
    public func unresolvedDependencies(of jobID: Int64) throws -> Int {
        Int(try db.scalar("SELECT count(*) FROM dependencies WHERE job_id=?", [.int(jobID)]) ?? 0)
    }

    /// The jobs `jobID` still waits for, lowest id first (its `waiting`, docs/promises.md §13).
    public func unresolvedDependencyIDs(of jobID: Int64) throws -> [Int64] {
        var ids: [Int64] = []
        try db.statement("SELECT after_id FROM dependencies WHERE job_id=? ORDER BY after_id")
            .bind([.int(jobID)]).forEach { ids.append($0.int(0)) }
        return ids
    }

    /// Whether any job waits for another.
    public func hasDependencies() throws -> Bool {
        try db.scalar("SELECT 1 FROM dependencies LIMIT 1") != nil
    }

    // MARK: Per-type counts

    /// The creation time of the oldest pending job of each of `types` (those that have one).
    ///
    /// Cost bounded for `stats`: one walk over the oldest 10,000 pending jobs answers every type
    /// among them; only a type whose pending jobs all come later is looked up on its own.
    public func oldestPending(types: [String]) throws -> [String: Millis] {
        guard !types.isEmpty else { return [:] }
        var oldest: [String: Millis] = [:]
        try db.statement("""
            SELECT type, min(created_at) FROM (
                SELECT type, created_at FROM jobs INDEXED BY jobs_by_status WHERE status = 'pending' ORDER BY id LIMIT 10000
            ) GROUP BY type
            """).bind([]).forEach { oldest[$0.text(0)] = $0.int(1) }
        for type in types where oldest[type] == nil {
            if let t = try db.scalar("""
                SELECT created_at FROM jobs INDEXED BY jobs_by_type WHERE type = ? AND status = 'pending' ORDER BY id LIMIT 1
                """, [.text(type)]) {
                oldest[type] = t
            }
        }
        return oldest.filter { types.contains($0.key) }
    }
}

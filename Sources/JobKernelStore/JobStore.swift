import CSQLite
import Glibc
import JobKernelCore

/// How hard a commit tries to reach the disk (docs/promises.md §9).
public enum Durability: String, Sendable {
    /// WAL with synchronous=NORMAL: survives a crash of the kernel process.
    case normal
    /// WAL with synchronous=FULL: also survives power loss.
    case full
}

/// The durable record of jobs, units, logs, events, settings and schedules.
///
/// Writes go into one open transaction that the kernel commits once per loop turn (group
/// commit): `write` opens it on first use, `commit` ends it.
public final class JobStore {
    public let db: Database

    /// SQLite's "unix-excl" VFS: the first connection to read the database takes an exclusive
    /// lock on the file for the whole process, so no other program can open it while the kernel
    /// runs (its lock file says it owns it, docs/promises.md §1), while the kernel's own connections (the
    /// store's and the checkpointer's) share it. The WAL index lives in the process's memory, not
    /// in a `-shm` file, and a transaction costs no lock calls. Its WAL writes are gathered into
    /// one system call per transaction (`Database.gatheringVFS`).
    static let vfs = Database.gatheringVFS
    private var checkpointer: Checkpointer?

    /// Opens (creating it 0600 if missing) and migrates the database at `path`. Throws
    /// `StoreOpenError`, which names the path, the cause and what to do.
    public convenience init(path: String, durability: Durability) throws(StoreOpenError) {
        do {
            try self.init(opening: path, durability: durability)
        } catch {
            throw StoreOpenError(path: path, cause: error)
        }
    }

    private init(opening path: String, durability: Durability) throws(DatabaseError) {
        if path != ":memory:" {
            // SQLite gives the -wal and -shm files the database file's mode: create it 0600.
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            if fd >= 0 { Glibc.close(fd) }
        }
        db = try Database(path: path, vfs: path == ":memory:" ? nil : Self.vfs)
        try useIncrementalVacuumIfNew()
        if path != ":memory:" {
            if db.isReadOnly {
                throw DatabaseError(code: SQLITE_READONLY, message: "the file is open read-only", sql: nil)
            }
            try db.execute("PRAGMA journal_mode = WAL")
        }
        try db.execute("PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")")
        try db.execute("PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16000")
        try migrate()
        if path != ":memory:" {
            try convertToIncrementalVacuum()
        }
        if path != ":memory:" {
            try db.execute("PRAGMA wal_autocheckpoint = 0")
            // SQLite never shrinks a WAL file by itself: without a limit it keeps the size of its
            // largest cycle (a burst that outran the checkpoints) until the kernel stops. With one,
            // the first commit after the WAL starts again cuts the file back to 16 MiB
            // (bench/README.md, "A month in an hour").
            try db.execute("PRAGMA journal_size_limit = 16777216")
            checkpointer = Checkpointer(path: path)
            checkpointer?.start(intervalMs: 1000)
        }
    }

    /// Stops the background checkpoints (a last one runs) before the process exits.
    public func close() {
        checkpointer?.stop()
        checkpointer = nil
    }

    private func migrate() throws(DatabaseError) {
        let current = Int(try db.scalarOrThrow("PRAGMA user_version") ?? 0)
        guard current < Schema.version else {
            if current > Schema.version {
                throw DatabaseError(code: 1, message: "the database has schema version \(current), newer than this jobkernel (\(Schema.version)); upgrade jobkernel", sql: nil)
            }
            return
        }
        if current > 0 && current < 7 {
            // Step 7 indexes every pending job: about 4 s a million.
            let note = Array("jobkernel: upgrading the database to schema \(Schema.version); with millions of pending jobs this takes a minute or more\n".utf8)
            _ = note.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        }
        try db.execute("BEGIN IMMEDIATE")
        for step in current..<Schema.version {
            try db.execute(Schema.migrations[step])
        }
        try db.execute("PRAGMA user_version = \(Schema.version)")
        try db.execute("COMMIT")
    }

    // MARK: Transactions

    /// Opens the turn's transaction if none is open.
    public func beginIfNeeded() throws(DatabaseError) {
        if !db.isInTransaction { try db.run("BEGIN IMMEDIATE") }
    }

    /// Commits the turn's transaction, if any. Returns true when something was committed.
    @discardableResult
    public func commit() throws(DatabaseError) -> Bool {
        guard db.isInTransaction else { return false }
        try db.run("COMMIT")
        return true
    }

    // MARK: Jobs

    static let jobColumns = """
        id, type, dispatch_mode, status, priority, lane, payload, created_by, idempotency_key, parent_id,
        manual, attempt, max_attempts, timeout_ms, run_at, cancel_requested, progress, itemized,
        n_pending, n_running, n_success, n_failed, n_cancelled, n_waiting, result, error,
        created_at, started_at, finished_at, last_activity_at, updated_at, label
        """

    /// Inserts a new job and its units. A `job.id` of 0 is assigned by the store; any other is
    /// used as is (the kernel numbers jobs itself, so that it need not wait for the insert).
    /// `items` nil makes the single unit 0, kept in the job's row: pending, or in the state `unit`
    /// gives (a job that changed within the batch that creates it is inserted as it is at the
    /// batch's end, `WriteBatch.appendUpdate`). `payloadBytes`, when the caller has them, are the
    /// payload already serialized.
    public func insert(_ job: inout Job, unit: WorkUnit? = nil, items: [JSON]?, request: String?,
                       payloadBytes: [UInt8]? = nil) throws(DatabaseError) {
        try beginIfNeeded()
        // A unit given is written whole (eight columns); a new pending one needs three, and the
        // shorter statement keeps the common insert as cheap as it was.
        let unitGiven = unit != nil && items == nil
        let stmt = try unitGiven ? db.statement(literal: """
            INSERT INTO jobs (type, dispatch_mode, status, priority, lane, payload, created_by, idempotency_key,
                request, parent_id, manual, attempt, max_attempts, timeout_ms, run_at, cancel_requested, progress,
                itemized, n_pending, n_running, n_success, n_failed, n_cancelled, n_waiting, result, error,
                created_at, started_at, finished_at, last_activity_at, updated_at, id, label, u_status, u_attempt,
                u_run_at, u_interrupted, u_result, u_error, u_started_at, u_finished_at)
            VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
            """) : db.statement(literal: """
            INSERT INTO jobs (type, dispatch_mode, status, priority, lane, payload, created_by, idempotency_key,
                request, parent_id, manual, attempt, max_attempts, timeout_ms, run_at, cancel_requested, progress,
                itemized, n_pending, n_running, n_success, n_failed, n_cancelled, n_waiting, result, error,
                created_at, started_at, finished_at, last_activity_at, updated_at, id, label, u_status, u_attempt,
                u_interrupted)
            VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
            """)
        _ = stmt.reset()
            .bind(1, job.type).bind(2, job.dispatchMode).bind(3, job.status.rawValue).bind(4, Int64(job.priority))
            .bind(5, job.lane.rawValue).bind(6, utf8: payloadBytes ?? job.payload.serialized()).bind(7, job.createdBy)
            .bind(8, job.idempotencyKey).bind(9, request).bind(10, job.parentID).bind(11, job.manual)
            .bind(12, Int64(job.attempt)).bind(13, Int64(job.maxAttempts)).bind(14, job.timeoutMs).bind(15, job.runAt)
            .bind(16, job.cancelRequested).bind(17, utf8: Self.progressBytes(job.progress)).bind(18, job.itemized)
            .bind(19, Int64(job.units.pending)).bind(20, Int64(job.units.running)).bind(21, Int64(job.units.success))
            .bind(22, Int64(job.units.failed)).bind(23, Int64(job.units.cancelled)).bind(24, Int64(job.waiting))
            .bind(25, utf8: Self.jsonBytes(job.result)).bind(26, utf8: job.error?.json.serialized())
            .bind(27, job.createdAt).bind(28, job.startedAt).bind(29, job.finishedAt).bind(30, job.lastActivityAt)
            .bind(31, job.updatedAt).bind(32, job.id == 0 ? nil : job.id).bind(33, job.label)
        if unitGiven, let unit {
            try Self.bindUnitState(unit, to: stmt, after: 33).run()
        } else {
            // A job without items keeps its one unit in its row, pending; a job with items, none.
            try stmt.bind(34, items == nil ? UnitStatus.pending.rawValue : nil).bind(35, items == nil ? Int64(0) : nil)
                .bind(36, items == nil ? Int64(0) : nil).run()
        }
        if job.id == 0 { job.id = db.lastInsertRowID }
        if let items {
            let unitInsert = try db.statement(literal: "INSERT INTO units (job_id, idx, value, status, attempt) VALUES (?,?,?,'pending',0)")
            for (i, value) in items.enumerated() {
                try unitInsert.reset().bind(1, job.id).bind(2, Int64(i)).bind(3, utf8: value.serialized()).run()
            }
        }
    }

    /// Writes every mutable field of `job`, and of `unit`, one of its units, when given: a job
    /// without items and its unit are one row, written by one statement.
    public func update(_ job: Job, unit: WorkUnit?) throws(DatabaseError) {
        guard let unit else { return try update(job) }
        guard !job.itemized else {
            try update(job)
            return try update(unit)
        }
        try beginIfNeeded()
        let stmt = try db.statement(literal: """
            UPDATE jobs SET status=?, attempt=?, run_at=?, cancel_requested=?, progress=?, n_pending=?, n_running=?,
                n_success=?, n_failed=?, n_cancelled=?, n_waiting=?, result=?, error=?, started_at=?, finished_at=?,
                last_activity_at=?, updated_at=?, u_status=?, u_attempt=?, u_run_at=?, u_interrupted=?, u_result=?,
                u_error=?, u_started_at=?, u_finished_at=?
            WHERE id=?
            """)
        try Self.bindUnitState(unit, to: Self.bindJobState(job, to: stmt.reset()), after: 17).bind(26, job.id).run()
    }

    /// Writes every mutable field of `job` (not of its units).
    public func update(_ job: Job) throws(DatabaseError) {
        try beginIfNeeded()
        let stmt = try db.statement(literal: """
            UPDATE jobs SET status=?, attempt=?, run_at=?, cancel_requested=?, progress=?, n_pending=?, n_running=?,
                n_success=?, n_failed=?, n_cancelled=?, n_waiting=?, result=?, error=?, started_at=?, finished_at=?,
                last_activity_at=?, updated_at=?
            WHERE id=?
            """)
        try Self.bindJobState(job, to: stmt.reset()).bind(18, job.id).run()
    }

    /// Binds a job's mutable fields to parameters 1…17, in the order of the UPDATEs above.
    private static func bindJobState(_ job: Job, to stmt: Statement) -> Statement {
        stmt.bind(1, job.status.rawValue).bind(2, Int64(job.attempt)).bind(3, job.runAt).bind(4, job.cancelRequested)
            .bind(5, utf8: progressBytes(job.progress)).bind(6, Int64(job.units.pending))
            .bind(7, Int64(job.units.running)).bind(8, Int64(job.units.success)).bind(9, Int64(job.units.failed))
            .bind(10, Int64(job.units.cancelled)).bind(11, Int64(job.waiting)).bind(12, utf8: jsonBytes(job.result))
            .bind(13, utf8: job.error?.json.serialized()).bind(14, job.startedAt).bind(15, job.finishedAt)
            .bind(16, job.lastActivityAt).bind(17, job.updatedAt)
    }

    /// Binds a unit's mutable fields to the 8 parameters after `base`: status, attempt, run_at,
    /// interrupted, result, error, started_at, finished_at.
    private static func bindUnitState(_ u: WorkUnit, to stmt: Statement, after base: Int32) -> Statement {
        stmt.bind(base + 1, u.status.rawValue).bind(base + 2, Int64(u.attempt)).bind(base + 3, u.runAt)
            .bind(base + 4, u.interrupted).bind(base + 5, utf8: jsonBytes(u.result))
            .bind(base + 6, utf8: u.error?.json.serialized()).bind(base + 7, u.startedAt).bind(base + 8, u.finishedAt)
    }

    /// The highest job id given so far: the newest job's, or a removed newer one's (`id_floor`),
    /// so that a removed job's id is never given again.
    public func maxJobID() throws -> Int64 {
        try db.scalar("SELECT max(coalesce((SELECT max(id) FROM jobs), 0), coalesce((SELECT id FROM id_floor WHERE one = 1), 0))") ?? 0
    }

    public func job(id: Int64) throws -> Job? {
        // The columns of `jobColumns`, spelled out: a literal is found in the cache by its address.
        try db.statement(literal: """
            SELECT id, type, dispatch_mode, status, priority, lane, payload, created_by, idempotency_key, parent_id,
                manual, attempt, max_attempts, timeout_ms, run_at, cancel_requested, progress, itemized,
                n_pending, n_running, n_success, n_failed, n_cancelled, n_waiting, result, error,
                created_at, started_at, finished_at, last_activity_at, updated_at, label
            FROM jobs WHERE id=?
            """).reset().bind(1, id).first(Self.readJob)
    }

    /// The job holding `key` for `createdBy`, with the canonical request it was enqueued with.
    public func job(createdBy: String, idempotencyKey key: String) throws -> (Job, String?)? {
        try db.statement("SELECT \(Self.jobColumns), request FROM jobs WHERE created_by=? AND idempotency_key=?")
            .bind([.text(createdBy), .text(key)])
            .first { row in (try Self.readJob(row), row.optionalText(32)) }
    }

    /// Every running job, oldest first (for start-up: the only jobs the kernel keeps whole).
    public func runningJobs() throws -> [Job] {
        var jobs: [Job] = []
        try db.statement("SELECT \(Self.jobColumns) FROM jobs WHERE status = 'running' ORDER BY id")
            .bind([]).forEach { jobs.append(try Self.readJob($0)) }
        return jobs
    }

    /// What scheduling needs of an open job, read without its payload.
    public struct OpenJobSummary {
        public var id: Int64
        public var type: String
        public var priority: Int
        public var status: JobStatus
        public var runAt: Millis?
        public var itemized: Bool
        /// Pending units waiting out a backoff.
        public var waiting: Int
    }

    /// A page of jobs, newest first, matching every given filter (each an OR of values; a lone
    /// `.null` matches NULL).
    public func list(filters: [(column: String, values: [SQLValue])], before cursor: Int64?, limit: Int) throws -> [Job] {
        var clauses: [String] = []
        var values: [SQLValue] = []
        for (column, vs) in filters where !vs.isEmpty {
            if vs.count == 1, case .null = vs[0] {
                clauses.append("\(column) IS NULL")
                continue
            }
            clauses.append("\(column) IN (\(Array(repeating: "?", count: vs.count).joined(separator: ",")))")
            values += vs
        }
        if let cursor {
            clauses.append("id < ?")
            values.append(.int(cursor))
        }
        let whereSQL = clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")
        values.append(.int(Int64(limit)))
        var jobs: [Job] = []
        try db.statement("SELECT \(Self.jobColumns) FROM jobs\(whereSQL) ORDER BY id DESC LIMIT ?")
            .bind(values).forEach { jobs.append(try Self.readJob($0)) }
        return jobs
    }

    /// Children of `parentID` counted by status: `{total, <status>: n, …}`.
    public func childCounts(of parentID: Int64) throws -> JSON {
        var o: JSONObject = ["total": 0]
        var total = 0
        try db.statement("SELECT status, count(*) FROM jobs WHERE parent_id=? GROUP BY status ORDER BY status")
            .bind([.int(parentID)]).forEach { row in
                let n = Int(row.int(1))
                total += n
                o[row.text(0)] = .int(n)
            }
        o["total"] = .int(total)
        return .object(o)
    }

    /// Every job that has children.
    public func parentIDs() throws -> Set<Int64> {
        var ids: Set<Int64> = []
        try db.statement("SELECT DISTINCT parent_id FROM jobs WHERE parent_id IS NOT NULL").bind([]).forEach { ids.insert($0.int(0)) }
        return ids
    }

    /// Every descendant of `id` at any depth, parents before children.
    public func descendants(of id: Int64) throws -> [Int64] {
        var ids: [Int64] = []
        try db.statement("""
            WITH RECURSIVE d(id, depth) AS (
                SELECT id, 1 FROM jobs WHERE parent_id = ?
                UNION ALL SELECT j.id, d.depth + 1 FROM jobs j JOIN d ON j.parent_id = d.id
            ) SELECT id FROM d ORDER BY depth, id
            """).bind([.int(id)]).forEach { ids.append($0.int(0)) }
        return ids
    }

    /// Counts of the terminal jobs by status (the open ones are counted as start-up reads them).
    public func terminalStatusCounts() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        try db.statement("""
            SELECT status, count(*) FROM jobs
            WHERE status IN ('success','partial_success','failed','cancelled','skipped') GROUP BY status
            """).bind([]).forEach { counts[$0.text(0)] = Int($0.int(1)) }
        return counts
    }

    static func readJob(_ r: Row) throws -> Job {
        Job(id: r.int(0), type: r.text(1), dispatchMode: r.text(2),
            status: JobStatus(rawValue: r.text(3)) ?? .failed, priority: Int(r.int(4)),
            lane: Lane(rawValue: r.text(5)) ?? .normal, payload: json(r, 6) ?? [:], label: r.optionalText(31), createdBy: r.text(7),
            idempotencyKey: r.optionalText(8), parentID: r.optionalInt(9), manual: r.bool(10),
            attempt: Int(r.int(11)), maxAttempts: Int(r.int(12)), timeoutMs: r.optionalInt(13),
            runAt: r.optionalInt(14), cancelRequested: r.bool(15), progress: progress(json(r, 16)),
            itemized: r.bool(17),
            units: UnitCounts(pending: Int(r.int(18)), running: Int(r.int(19)), success: Int(r.int(20)),
                              failed: Int(r.int(21)), cancelled: Int(r.int(22))),
            waiting: Int(r.int(23)), result: json(r, 24) ?? .null, error: json(r, 25).flatMap(JobError.init(json:)),
            createdAt: r.int(26), startedAt: r.optionalInt(27), finishedAt: r.optionalInt(28),
            lastActivityAt: r.optionalInt(29), updatedAt: r.int(30))
    }

    // MARK: Units

    // A job's units are rows of `units` when it has items; the one unit of a job without items
    // is in the job's row (schema 4), read with `jobUnitColumns` in the order of `unitColumns`.
    // Every query below reads or writes both places.

    static let unitColumns = "job_id, idx, value, status, attempt, run_at, interrupted, result, error, started_at, finished_at"
    static let jobUnitColumns = "id, 0, NULL, u_status, u_attempt, u_run_at, u_interrupted, u_result, u_error, u_started_at, u_finished_at"

    public func unit(jobID: Int64, index: Int) throws -> WorkUnit? {
        if index == 0, let unit = try db.statement(literal: """
            SELECT id, 0, NULL, u_status, u_attempt, u_run_at, u_interrupted, u_result, u_error, u_started_at, u_finished_at
            FROM jobs WHERE id=? AND u_status IS NOT NULL
            """).reset().bind(1, jobID).first(Self.readUnit) {
            return unit
        }
        return try db.statement(literal: """
            SELECT job_id, idx, value, status, attempt, run_at, interrupted, result, error, started_at, finished_at
            FROM units WHERE job_id=? AND idx=?
            """).reset().bind(1, jobID).bind(2, Int64(index)).first(Self.readUnit)
    }

    /// Writes every mutable field of the unit (in its job's row for a job without items).
    public func update(_ u: WorkUnit) throws(DatabaseError) {
        try beginIfNeeded()
        if u.index == 0 {
            let inJobRow = try db.statement(literal: """
                UPDATE jobs SET u_status=?, u_attempt=?, u_run_at=?, u_interrupted=?, u_result=?, u_error=?,
                    u_started_at=?, u_finished_at=?
                WHERE id=? AND u_status IS NOT NULL
                """)
            try Self.bindUnitState(u, to: inJobRow.reset(), after: 0).bind(9, u.jobID).run()
            if db.changes > 0 { return }
        }
        let inUnits = try db.statement(literal: """
            UPDATE units SET status=?, attempt=?, run_at=?, interrupted=?, result=?, error=?, started_at=?, finished_at=?
            WHERE job_id=? AND idx=?
            """)
        try Self.bindUnitState(u, to: inUnits.reset(), after: 0).bind(9, u.jobID).bind(10, Int64(u.index)).run()
    }

    /// Units of `jobID` in `status`, by index. With `jobID` nil: the units in `status` of every
    /// open job, by job and index (a pending or running unit's job is always open, and a running
    /// unit's job is running: the jobs it reads are found by the status index, not by a scan).
    public func units(jobID: Int64?, status: UnitStatus) throws -> [WorkUnit] {
        var units: [WorkUnit] = []
        if let jobID {
            try db.statement("SELECT \(Self.jobUnitColumns) FROM jobs WHERE id=? AND u_status=?")
                .bind([.int(jobID), .text(status.rawValue)]).forEach { units.append(try Self.readUnit($0)) }
            try db.statement("SELECT \(Self.unitColumns) FROM units WHERE job_id=? AND status=? ORDER BY idx")
                .bind([.int(jobID), .text(status.rawValue)]).forEach { units.append(try Self.readUnit($0)) }
            return units
        }
        let jobStatuses = status == .running ? "'running'" : "'scheduled','pending','running'"
        try db.statement("""
            SELECT \(Self.jobUnitColumns) FROM jobs WHERE status IN (\(jobStatuses)) AND u_status=?
            """).bind([.text(status.rawValue)]).forEach { units.append(try Self.readUnit($0)) }
        try db.statement("SELECT \(Self.unitColumns) FROM units WHERE status=?")
            .bind([.text(status.rawValue)]).forEach { units.append(try Self.readUnit($0)) }
        units.sort { ($0.jobID, $0.index) < ($1.jobID, $1.index) }
        return units
    }

    /// Marks every pending unit of the job cancelled; returns their indices.
    @discardableResult
    public func cancelPendingUnits(jobID: Int64) throws -> [Int] {
        try beginIfNeeded()
        var indices: [Int] = []
        if try db.scalar("SELECT 1 FROM jobs WHERE id=? AND u_status='pending'", [.int(jobID)]) != nil {
            indices.append(0)
            try db.run("""
                UPDATE jobs SET u_status='cancelled', u_run_at=NULL, u_error='{"message":"cancelled"}' WHERE id=?
                """, [.int(jobID)])
        }
        try db.statement("SELECT idx FROM units WHERE job_id=? AND status='pending' ORDER BY idx")
            .bind([.int(jobID)]).forEach { indices.append(Int($0.int(0))) }
        try db.run("""
            UPDATE units SET status='cancelled', run_at=NULL, error='{"message":"cancelled"}'
            WHERE job_id=? AND status='pending'
            """, [.int(jobID)])
        return indices
    }

    /// Makes the failed and cancelled units of the job pending again with fresh attempts;
    /// returns each one's index and former status.
    @discardableResult
    public func resetUnsucceededUnits(jobID: Int64) throws -> [(index: Int, from: UnitStatus)] {
        try beginIfNeeded()
        var units: [(index: Int, from: UnitStatus)] = []
        try db.statement("SELECT u_status FROM jobs WHERE id=? AND u_status IN ('failed','cancelled')")
            .bind([.int(jobID)]).forEach { units.append((0, UnitStatus(rawValue: $0.text(0)) ?? .failed)) }
        if !units.isEmpty {
            try db.run("""
                UPDATE jobs SET u_status='pending', u_attempt=0, u_run_at=NULL, u_interrupted=0, u_error=NULL,
                    u_result=NULL, u_started_at=NULL, u_finished_at=NULL
                WHERE id=?
                """, [.int(jobID)])
        }
        try db.statement("SELECT idx, status FROM units WHERE job_id=? AND status IN ('failed','cancelled') ORDER BY idx")
            .bind([.int(jobID)]).forEach { units.append((Int($0.int(0)), UnitStatus(rawValue: $0.text(1)) ?? .failed)) }
        try db.run("""
            UPDATE units SET status='pending', attempt=0, run_at=NULL, interrupted=0, error=NULL, result=NULL,
                started_at=NULL, finished_at=NULL
            WHERE job_id=? AND status IN ('failed','cancelled')
            """, [.int(jobID)])
        return units
    }

    static func readUnit(_ r: Row) throws -> WorkUnit {
        WorkUnit(jobID: r.int(0), index: Int(r.int(1)), value: json(r, 2) ?? .null,
                 status: UnitStatus(rawValue: r.text(3)) ?? .failed, attempt: Int(r.int(4)), runAt: r.optionalInt(5),
                 interrupted: r.bool(6), result: json(r, 7) ?? .null, error: json(r, 8).flatMap(JobError.init(json:)),
                 startedAt: r.optionalInt(9), finishedAt: r.optionalInt(10))
    }

    /// Each job's log as of its last append here: the last seq and the bytes its lines keep, so
    /// that an append reads no line it keeps and writes no job row (a job row holds the payload,
    /// up to 1 MiB). Checked against the log's last seq at every append (a turn rolled back leaves
    /// it ahead) and rebuilt from the lines when they differ: after a start, once per job.
    var logTails: [Int64: (seq: Int64, bytes: Int64)] = [:]

    // MARK: Values

    static func json(_ r: Row, _ i: Int32) -> JSON? {
        if r.isNull(i) { return nil }
        return r.withBytes(i) { try? JSONParser.parse($0, maxDepth: 10_000) }
    }


    static func jsonBytes(_ v: JSON) -> [UInt8]? { v.isNull ? nil : v.serialized() }

    static func progressBytes(_ p: Progress) -> [UInt8]? {
        if p == Progress() { return nil }
        return (JSON.object([
            "current": p.current.map(Progress.number) ?? .null, "total": p.total.map(Progress.number) ?? .null,
            "phase": p.phase.map { .string($0) } ?? .null, "message": p.message.map { .string($0) } ?? .null,
        ]).serialized())
    }

    static func progress(_ j: JSON?) -> Progress {
        guard let j else { return Progress() }
        return Progress(current: j["current"]?.doubleValue, total: j["total"]?.doubleValue,
                        phase: j["phase"]?.stringValue, message: j["message"]?.stringValue)
    }
}

/// The database schema and its migrations.
///
/// The schema version lives in `PRAGMA user_version`. If you change a table, add a migration
/// step below and increment `Schema.version`; never edit a step that has shipped.
enum Schema {
    static let version = 7

    /// `migrations[n]` takes a database from version n to n+1.
    static let migrations: [String] = [
        """
        CREATE TABLE jobs (
            id               INTEGER PRIMARY KEY,   -- creation order; shown as a decimal string
            type             TEXT    NOT NULL,
            dispatch_mode    TEXT    NOT NULL,
            status           TEXT    NOT NULL,
            priority         INTEGER NOT NULL,
            lane             TEXT    NOT NULL,
            payload          TEXT    NOT NULL,      -- JSON
            created_by       TEXT    NOT NULL,
            idempotency_key  TEXT,
            request          TEXT,                  -- canonical enqueue params, to detect key reuse
            parent_id        INTEGER,
            manual           INTEGER NOT NULL,
            attempt          INTEGER NOT NULL,
            max_attempts     INTEGER NOT NULL,
            timeout_ms       INTEGER,
            run_at           INTEGER,               -- ms since the epoch
            cancel_requested INTEGER NOT NULL,
            progress         TEXT,                  -- JSON {current,total,phase,message} as reported
            itemized         INTEGER NOT NULL,
            n_pending        INTEGER NOT NULL,      -- unit counts by status
            n_running        INTEGER NOT NULL,
            n_success        INTEGER NOT NULL,
            n_failed         INTEGER NOT NULL,
            n_cancelled      INTEGER NOT NULL,
            n_waiting        INTEGER NOT NULL,      -- pending units waiting out a backoff
            result           TEXT,                  -- JSON
            error            TEXT,                  -- JSON {message, code?, data?}
            created_at       INTEGER NOT NULL,
            started_at       INTEGER,
            finished_at      INTEGER,
            last_activity_at INTEGER,
            updated_at       INTEGER NOT NULL,
            log_seq          INTEGER NOT NULL DEFAULT 0,  -- seq of the job's last log line
            log_bytes        INTEGER NOT NULL DEFAULT 0,  -- bytes of log kept
            UNIQUE (created_by, idempotency_key)
        );
        CREATE INDEX jobs_by_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
        CREATE INDEX jobs_by_status ON jobs (status, id);
        CREATE INDEX jobs_by_type ON jobs (type, id);
        CREATE INDEX jobs_open ON jobs (id) WHERE status IN ('scheduled', 'pending', 'running');

        CREATE TABLE units (
            job_id      INTEGER NOT NULL,
            idx         INTEGER NOT NULL,   -- item index; 0 for a job without items
            value       TEXT,               -- JSON item value; NULL for a job without items
            status      TEXT    NOT NULL,
            attempt     INTEGER NOT NULL,
            run_at      INTEGER,            -- end of a retry backoff
            interrupted INTEGER NOT NULL DEFAULT 0,
            result      TEXT,
            error       TEXT,
            PRIMARY KEY (job_id, idx)
        ) WITHOUT ROWID;
        CREATE INDEX units_open ON units (job_id, idx) WHERE status IN ('pending', 'running');

        CREATE TABLE logs (
            job_id  INTEGER NOT NULL,
            seq     INTEGER NOT NULL,
            ts      INTEGER NOT NULL,
            level   TEXT    NOT NULL,
            message TEXT    NOT NULL,
            PRIMARY KEY (job_id, seq)
        ) WITHOUT ROWID;

        -- The durable event log. seq is assigned by the kernel, gap-free.
        CREATE TABLE events (
            seq    INTEGER PRIMARY KEY,
            ts     INTEGER NOT NULL,
            kind   TEXT    NOT NULL,
            job_id INTEGER,
            type   TEXT,               -- the job's type, for subscription filters
            data   TEXT    NOT NULL
        );

        CREATE TABLE settings (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE schedules (
            name        TEXT PRIMARY KEY,
            last_slot   INTEGER NOT NULL,
            last_job_id INTEGER
        ) WITHOUT ROWID;
        """,
        // 2: fewer index writes per job. The idempotency index holds only jobs that have a key
        // (it held one entry per job); `jobs_open` repeated `jobs_by_status`; `units_open`
        // repeated the units' primary key for every query that uses it. `log_seq`/`log_bytes`
        // are no longer kept in the job row (each log line rewrote the row, payload included).
        // A table constraint cannot be dropped in place, so the jobs table is rebuilt.
        """
        CREATE TABLE jobs_v2 (
            id               INTEGER PRIMARY KEY,   -- creation order; shown as a decimal string
            type             TEXT    NOT NULL,
            dispatch_mode    TEXT    NOT NULL,
            status           TEXT    NOT NULL,
            priority         INTEGER NOT NULL,
            lane             TEXT    NOT NULL,
            payload          TEXT    NOT NULL,      -- JSON
            created_by       TEXT    NOT NULL,
            idempotency_key  TEXT,
            request          TEXT,                  -- canonical enqueue params, to detect key reuse
            parent_id        INTEGER,
            manual           INTEGER NOT NULL,
            attempt          INTEGER NOT NULL,
            max_attempts     INTEGER NOT NULL,
            timeout_ms       INTEGER,
            run_at           INTEGER,               -- ms since the epoch
            cancel_requested INTEGER NOT NULL,
            progress         TEXT,                  -- JSON {current,total,phase,message} as reported
            itemized         INTEGER NOT NULL,
            n_pending        INTEGER NOT NULL,      -- unit counts by status
            n_running        INTEGER NOT NULL,
            n_success        INTEGER NOT NULL,
            n_failed         INTEGER NOT NULL,
            n_cancelled      INTEGER NOT NULL,
            n_waiting        INTEGER NOT NULL,      -- pending units waiting out a backoff
            result           TEXT,                  -- JSON
            error            TEXT,                  -- JSON {message, code?, data?}
            created_at       INTEGER NOT NULL,
            started_at       INTEGER,
            finished_at      INTEGER,
            last_activity_at INTEGER,
            updated_at       INTEGER NOT NULL
        );
        INSERT INTO jobs_v2 SELECT id, type, dispatch_mode, status, priority, lane, payload, created_by,
            idempotency_key, request, parent_id, manual, attempt, max_attempts, timeout_ms, run_at,
            cancel_requested, progress, itemized, n_pending, n_running, n_success, n_failed, n_cancelled,
            n_waiting, result, error, created_at, started_at, finished_at, last_activity_at, updated_at
            FROM jobs;
        DROP TABLE jobs;
        ALTER TABLE jobs_v2 RENAME TO jobs;
        CREATE UNIQUE INDEX jobs_by_key ON jobs (created_by, idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE INDEX jobs_by_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
        CREATE INDEX jobs_by_status ON jobs (status, id);
        CREATE INDEX jobs_by_type ON jobs (type, id);
        DROP INDEX units_open;
        """,
        operationsStep,
        leanUnitsStep,
        labelStep,
        restartsStep,
        readyQueueStep,
    ]

    /// 3: operations (docs/promises.md §8.6, §13). Each unit keeps when its latest run started and ended (for
    /// `items`); finished jobs are found by their finish time (retention and `clean`, without a
    /// scan of every job); `dependencies` holds each job's unresolved `after` edges, removed as
    /// they resolve. Self-contained, so it can be renumbered if another step lands before it.
    /// (The switch to incremental vacuum cannot run in a transaction: `JobStore` does it after
    /// the migration, once.)
    static let operationsStep = """
        ALTER TABLE units ADD COLUMN started_at INTEGER;
        ALTER TABLE units ADD COLUMN finished_at INTEGER;
        CREATE INDEX jobs_by_finish ON jobs (finished_at) WHERE finished_at IS NOT NULL;
        CREATE TABLE dependencies (
            after_id INTEGER NOT NULL,   -- the job waited for
            job_id   INTEGER NOT NULL,   -- the job waiting
            PRIMARY KEY (after_id, job_id)
        ) WITHOUT ROWID;
        CREATE INDEX dependencies_by_job ON dependencies (job_id);
        -- The highest job id ever given: removing the newest jobs must not make their ids
        -- be given again (SQLite picks max(id) + 1).
        CREATE TABLE id_floor (
            one INTEGER PRIMARY KEY CHECK (one = 1),
            id  INTEGER NOT NULL
        );
        """

    /// 4: the one unit of a job without items lives in its job's row (the `u_` columns), not in
    /// a row of its own, so that such a job is one row to insert and one row to update per
    /// change instead of two. `u_status` is NULL for a job with items, whose units stay in
    /// `units`. Self-contained, like step 3.
    static let leanUnitsStep = """
        ALTER TABLE jobs ADD COLUMN u_status TEXT;
        ALTER TABLE jobs ADD COLUMN u_attempt INTEGER;
        ALTER TABLE jobs ADD COLUMN u_run_at INTEGER;          -- end of a retry backoff
        ALTER TABLE jobs ADD COLUMN u_interrupted INTEGER;
        ALTER TABLE jobs ADD COLUMN u_result TEXT;
        ALTER TABLE jobs ADD COLUMN u_error TEXT;
        ALTER TABLE jobs ADD COLUMN u_started_at INTEGER;
        ALTER TABLE jobs ADD COLUMN u_finished_at INTEGER;
        UPDATE jobs SET (u_status, u_attempt, u_run_at, u_interrupted, u_result, u_error, u_started_at, u_finished_at) =
            (SELECT status, attempt, run_at, interrupted, result, error, started_at, finished_at
             FROM units WHERE units.job_id = jobs.id AND units.idx = 0)
            WHERE itemized = 0;
        DELETE FROM units WHERE job_id IN (SELECT id FROM jobs WHERE itemized = 0);
        """

    /// 5: a job's label (docs/promises.md §13), what it is for people. Jobs from before read
    /// `label: null`. Self-contained, like step 3.
    static let labelStep = """
        ALTER TABLE jobs ADD COLUMN label TEXT;
        """

    /// 6: `restart` (docs/promises.md §13): which job a restarted job was enqueued from, shown by
    /// `get` as `restarted_from`. A table of its own rather than a column of `jobs`, so that no
    /// job row, job object or event changes shape. Self-contained, like step 3.
    static let restartsStep = """
        CREATE TABLE restarts (
            job_id  INTEGER PRIMARY KEY,   -- the new job
            from_id INTEGER NOT NULL       -- the finished job it was restarted from
        );
        """

    /// 7: a start-up whose cost does not grow with the pending jobs (docs/architecture.md, "The
    /// ready queues"). `jobs_ready` holds the pending jobs of each type in queue order (priority
    /// first, then age), so the kernel reads a type's queue a window at a time instead of whole.
    /// `clean_stop` holds the job counts a kernel that stopped cleanly left behind, so the next
    /// start need not count millions of rows; a start takes the row out, and a kernel that did
    /// not stop cleanly leaves none. Self-contained, like step 3.
    static let readyQueueStep = """
        CREATE INDEX jobs_ready ON jobs (type, priority DESC, id) WHERE status = 'pending';
        CREATE TABLE clean_stop (
            one        INTEGER PRIMARY KEY CHECK (one = 1),
            event_seq  INTEGER NOT NULL,   -- the last event's seq when the kernel stopped
            max_job_id INTEGER NOT NULL,   -- the highest job id then
            counts     TEXT    NOT NULL    -- JSON {"total":{status:n},"open":{type:{status:n}}}
        );
        """
}

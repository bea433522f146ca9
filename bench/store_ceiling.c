// store_ceiling: the kernel's own SQL for each job, replayed with nothing else (bench/README.md,
// "The store's own limit").
//
// Every job the kernel takes costs SQLite work on one connection: an enqueue inserts the job's
// row and its `job.created` event; a lease and an ack each rewrite the row and append a
// `job.status` event. The kernel runs that work on one thread (the writer, or the loop when the
// writer is idle), so no kernel can take jobs faster than this program runs the same statements
// on one core with no sockets, no JSON-RPC and no reducer. It uses what the kernel uses: a
// database the kernel created (its schema and indexes), the same pragmas, the same statements
// with the same values bound, the gathering WAL VFS, passive checkpoints from a thread of their
// own every second, and a transaction per batch.
//
//   store_ceiling enqueue DB [-d SECS] [-D SECS] [-b JOBS]   rows and events of new jobs, B a commit
//   store_ceiling cycle DB [-d SECS] [-D SECS] [-b JOBS]     each commit: B new jobs, the B of the
//                                                            commit before leased, the B before
//                                                            that acknowledged (a pipeline)
//   store_ceiling latency DB [-n N]                          one job at a time: the enqueue and its
//                                                            lease in one commit (timed; the row
//                                                            inserted leased), the ack in the next
//
// Prints one line: RESULT mode=… secs=… jobs=… rate=… us_per_job=… [p50_us=… p99_us=…].
#define _GNU_SOURCE
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sqlite_support.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(sqlite3 *db, const char *what) {
    fprintf(stderr, "store_ceiling: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    exit(1);
}

static void exec(sqlite3 *db, const char *sql) {
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "store_ceiling: %s: %s\n", sql, err ? err : "?");
        exit(1);
    }
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql) {
    sqlite3_stmt *s;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) die(db, sql);
    return s;
}

static void step(sqlite3 *db, sqlite3_stmt *s) {
    if (sqlite3_step(s) != SQLITE_DONE) die(db, sqlite3_sql(s));
    sqlite3_reset(s);
}

// ---- the checkpointer: the kernel's Checkpointer, a passive checkpoint every second ----------
static const char *vfs_name = "jobkernel-excl";
static const char *db_path;
static volatile int stopping;

static void *checkpointer(void *arg) {
    (void)arg;
    sqlite3 *db;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs_name) != SQLITE_OK) return NULL;
    sqlite3_busy_timeout(db, 100);
    sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    int slept = 0;
    while (!stopping) {
        usleep(50000);
        if ((slept += 50) < 1000) continue;
        slept = 0;
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    sqlite3_close_v2(db);
    return NULL;
}

// ---- the statements, as JobStore runs them ---------------------------------------------------
static sqlite3 *db;
static sqlite3_stmt *ins_job, *ins_job_leased, *ins_event, *upd_job, *begin_tx, *commit_tx;
static long long next_id, next_seq;

static void open_store(const char *path) {
    db_path = path;
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);  // as the kernel: no memory statistics
    if (jk_sqlite_register_wal_vfs(vfs_name, "unix-excl") != SQLITE_OK) die(NULL, "register the WAL VFS");
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs_name) != SQLITE_OK) die(db, path);
    exec(db, "PRAGMA journal_mode = WAL");
    exec(db, "PRAGMA synchronous = NORMAL");
    exec(db, "PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16000");
    exec(db, "PRAGMA wal_autocheckpoint = 0");
    exec(db, "PRAGMA journal_size_limit = 16777216");
    ins_job = prepare(db,
        "INSERT INTO jobs (type, dispatch_mode, status, priority, lane, payload, created_by, idempotency_key,"
        " request, parent_id, manual, attempt, max_attempts, timeout_ms, run_at, cancel_requested, progress,"
        " itemized, n_pending, n_running, n_success, n_failed, n_cancelled, n_waiting, result, error,"
        " created_at, started_at, finished_at, last_activity_at, updated_at, id, label, u_status, u_attempt,"
        " u_interrupted)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    ins_job_leased = prepare(db,
        "INSERT INTO jobs (type, dispatch_mode, status, priority, lane, payload, created_by, idempotency_key,"
        " request, parent_id, manual, attempt, max_attempts, timeout_ms, run_at, cancel_requested, progress,"
        " itemized, n_pending, n_running, n_success, n_failed, n_cancelled, n_waiting, result, error,"
        " created_at, started_at, finished_at, last_activity_at, updated_at, id, label, u_status, u_attempt,"
        " u_run_at, u_interrupted, u_result, u_error, u_started_at, u_finished_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    ins_event = prepare(db, "INSERT INTO events (seq, ts, kind, job_id, type, data) VALUES (?,?,?,?,?,?)");
    upd_job = prepare(db,
        "UPDATE jobs SET status=?, attempt=?, run_at=?, cancel_requested=?, progress=?, n_pending=?, n_running=?,"
        " n_success=?, n_failed=?, n_cancelled=?, n_waiting=?, result=?, error=?, started_at=?, finished_at=?,"
        " last_activity_at=?, updated_at=?, u_status=?, u_attempt=?, u_run_at=?, u_interrupted=?, u_result=?,"
        " u_error=?, u_started_at=?, u_finished_at=?"
        " WHERE id=?");
    begin_tx = prepare(db, "BEGIN IMMEDIATE");
    commit_tx = prepare(db, "COMMIT");
    sqlite3_stmt *s = prepare(db, "SELECT coalesce(max(id), 0), (SELECT coalesce(max(seq), 0) FROM events) FROM jobs");
    if (sqlite3_step(s) != SQLITE_ROW) die(db, "read the last job id");
    next_id = sqlite3_column_int64(s, 0) + 1;
    next_seq = sqlite3_column_int64(s, 1) + 1;
    sqlite3_finalize(s);
}

static void text(sqlite3_stmt *s, int i, const char *v) { sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC); }

static void event(long long job, long long ts, const char *kind, const char *data, int n) {
    sqlite3_bind_int64(ins_event, 1, next_seq++);
    sqlite3_bind_int64(ins_event, 2, ts);
    text(ins_event, 3, kind);
    sqlite3_bind_int64(ins_event, 4, job);
    text(ins_event, 5, "bench");
    sqlite3_bind_text(ins_event, 6, data, n, SQLITE_TRANSIENT);
    step(db, ins_event);
}

/// A new job as the kernel stores an `enqueue` of type `bench` with a 40-byte payload: pending, or,
/// when `started` is not 0, already leased at `started` (the kernel inserts a job leased in the
/// batch that creates it in the state it reached, with no row rewrite).
static long long enqueue_one(long long started) {
    long long id = next_id++, t = wall_ms();
    int running = started != 0;
    char payload[64];  // loadgen's body: {"n":i,"p":"xx…"}, 40 bytes
    int n = snprintf(payload, sizeof payload, "{\"n\":%lld,\"p\":\"", id);
    while (n < 38) payload[n++] = 'x';
    payload[n++] = '"';
    payload[n++] = '}';
    sqlite3_stmt *s = running ? ins_job_leased : ins_job;
    text(s, 1, "bench"); text(s, 2, "async_api"); text(s, 3, running ? "running" : "pending");
    sqlite3_bind_int64(s, 4, 50);
    text(s, 5, "normal"); sqlite3_bind_text(s, 6, payload, n, SQLITE_TRANSIENT); text(s, 7, "anonymous");
    for (int i = 8; i <= 10; i++) sqlite3_bind_null(s, i);
    sqlite3_bind_int64(s, 11, 0); sqlite3_bind_int64(s, 12, running); sqlite3_bind_int64(s, 13, 3);
    sqlite3_bind_null(s, 14); sqlite3_bind_null(s, 15); sqlite3_bind_int64(s, 16, 0); sqlite3_bind_null(s, 17);
    sqlite3_bind_int64(s, 18, 0); sqlite3_bind_int64(s, 19, !running); sqlite3_bind_int64(s, 20, running);
    for (int i = 21; i <= 24; i++) sqlite3_bind_int64(s, i, 0);
    sqlite3_bind_null(s, 25); sqlite3_bind_null(s, 26); sqlite3_bind_int64(s, 27, t);
    if (running) sqlite3_bind_int64(s, 28, started); else sqlite3_bind_null(s, 28);
    sqlite3_bind_null(s, 29);
    if (running) sqlite3_bind_int64(s, 30, started); else sqlite3_bind_null(s, 30);
    sqlite3_bind_int64(s, 31, running ? started : t);
    sqlite3_bind_int64(s, 32, id); sqlite3_bind_null(s, 33);
    text(s, 34, running ? "running" : "pending"); sqlite3_bind_int64(s, 35, running);
    if (running) {  // u_run_at, u_interrupted, u_result, u_error, u_started_at, u_finished_at
        sqlite3_bind_null(s, 36); sqlite3_bind_int64(s, 37, 0); sqlite3_bind_null(s, 38); sqlite3_bind_null(s, 39);
        sqlite3_bind_int64(s, 40, started); sqlite3_bind_null(s, 41);
    } else {
        sqlite3_bind_int64(s, 36, 0);  // u_interrupted
    }
    step(db, s);
    event(id, t, "job.created", "{\"compact\":1}", 13);
    return id;
}

/// The row rewrite and the compact `job.status` event of a lease (`done` 0) or a success (1).
static void status_event(long long id, long long started, int done, long long t);
static void transition(long long id, long long started, int done) {
    long long t = wall_ms();
    sqlite3_stmt *s = upd_job;
    text(s, 1, done ? "success" : "running"); sqlite3_bind_int64(s, 2, 1); sqlite3_bind_null(s, 3);
    sqlite3_bind_int64(s, 4, 0); sqlite3_bind_null(s, 5); sqlite3_bind_int64(s, 6, 0);
    sqlite3_bind_int64(s, 7, done ? 0 : 1); sqlite3_bind_int64(s, 8, done ? 1 : 0);
    for (int i = 9; i <= 11; i++) sqlite3_bind_int64(s, i, 0);
    sqlite3_bind_null(s, 12);  // loadgen acknowledges with no result
    sqlite3_bind_null(s, 13); sqlite3_bind_int64(s, 14, started);
    if (done) sqlite3_bind_int64(s, 15, t); else sqlite3_bind_null(s, 15);
    sqlite3_bind_int64(s, 16, t); sqlite3_bind_int64(s, 17, t);
    text(s, 18, done ? "success" : "running"); sqlite3_bind_int64(s, 19, 1); sqlite3_bind_null(s, 20);
    sqlite3_bind_int64(s, 21, 0);
    sqlite3_bind_null(s, 22);
    sqlite3_bind_null(s, 23); sqlite3_bind_int64(s, 24, started);
    if (done) sqlite3_bind_int64(s, 25, t); else sqlite3_bind_null(s, 25);
    sqlite3_bind_int64(s, 26, id);
    step(db, s);
    status_event(id, started, done, t);
}

/// The compact `job.status` event of a lease (`done` 0) or a success (1) at `t`.
static void status_event(long long id, long long started, int done, long long t) {
    char data[320];
    int n = snprintf(data, sizeof data,
        "{\"compact\":2,\"from\":\"%s\",\"state\":{\"status\":\"%s\",\"attempt\":1,\"cancel_requested\":false,"
        "\"units\":[0,%d,%d,0,0],\"waiting\":0,\"updated_at\":%lld,\"started_at\":%lld,",
        done ? "running" : "pending", done ? "success" : "running", done ? 0 : 1, done ? 1 : 0, t, started);
    if (done) n += snprintf(data + n, sizeof data - n, "\"finished_at\":%lld,", t);
    n += snprintf(data + n, sizeof data - n, "\"last_activity_at\":%lld}}", t);
    event(id, t, "job.status", data, n);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: store_ceiling enqueue|cycle|latency DB [-d SECS] [-D SECS] [-b JOBS] [-n N]\n");
        return 2;
    }
    const char *mode = argv[1];
    double secs = 5, warm = 1;
    int batch = 64, samples = 2000;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-d")) secs = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "-D")) warm = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "-b")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-n")) samples = atoi(argv[i + 1]);
        else { fprintf(stderr, "store_ceiling: unknown option %s\n", argv[i]); return 2; }
    }
    if (batch < 1 || batch > 100000 || samples < 1 || secs <= 0 || warm < 0) {
        fprintf(stderr, "store_ceiling: -b must be 1…100000, -n ≥ 1, -d > 0, -D ≥ 0\n");
        return 2;
    }
    int is_cycle = !strcmp(mode, "cycle"), is_latency = !strcmp(mode, "latency");
    if (!is_cycle && !is_latency && strcmp(mode, "enqueue")) {
        fprintf(stderr, "store_ceiling: mode must be enqueue, cycle or latency\n");
        return 2;
    }
    open_store(argv[2]);
    pthread_t cp;
    pthread_create(&cp, NULL, checkpointer, NULL);

    if (is_latency) {
        double *lat = malloc(sizeof(double) * samples), t0 = now_s();
        for (int i = 0; i < samples; i++) {
            struct timespec pause = { 0, 1000000 };  // as `loadgen latency`: each job finds the store idle
            nanosleep(&pause, NULL);
            double a = now_s();
            step(db, begin_tx);
            long long started = wall_ms(), id = enqueue_one(started);
            status_event(id, started, 0, started);
            step(db, commit_tx);
            lat[i] = (now_s() - a) * 1e6;
            step(db, begin_tx);
            transition(id, started, 1);
            step(db, commit_tx);
        }
        double took = now_s() - t0;
        qsort(lat, samples, sizeof(double), cmp_double);
        printf("RESULT mode=latency secs=%.2f jobs=%d rate=%.0f us_per_job=%.1f p50_us=%.1f p99_us=%.1f\n",
               took, samples, samples / took, took * 1e6 / samples, lat[samples / 2], lat[samples * 99 / 100]);
    } else {
        // Cycle: a ring of the last three batches' ids: new, to lease, to acknowledge.
        long long *ring = calloc((size_t)batch * 3, sizeof(long long)), *started = calloc((size_t)batch * 3, sizeof(long long));
        long long jobs = 0, counted = 0, rounds = 0;
        double t0 = now_s(), measure_from = t0 + warm, end = measure_from + secs, t_first = 0;
        for (;;) {
            double t = now_s();
            if (t >= end) break;
            if (t_first == 0 && t >= measure_from) { t_first = t; counted = jobs; }
            step(db, begin_tx);
            int slot = (int)(rounds % 3), lease = (int)((rounds + 2) % 3), ack = (int)((rounds + 1) % 3);
            for (int k = 0; k < batch; k++) {
                if (is_cycle && rounds >= 2 && ring[ack * batch + k]) {
                    transition(ring[ack * batch + k], started[ack * batch + k], 1);
                    jobs++;
                }
                if (is_cycle && rounds >= 1 && ring[lease * batch + k]) {
                    started[lease * batch + k] = wall_ms();
                    transition(ring[lease * batch + k], started[lease * batch + k], 0);
                }
                ring[slot * batch + k] = enqueue_one(0);
                if (!is_cycle) jobs++;
            }
            step(db, commit_tx);
            rounds++;
        }
        double took = now_s() - (t_first ? t_first : t0);
        long long n = jobs - counted;
        printf("RESULT mode=%s secs=%.2f jobs=%lld rate=%.0f us_per_job=%.2f batch=%d\n",
               mode, took, n, n / took, took * 1e6 / (n ? n : 1), batch);
    }
    stopping = 1;
    pthread_join(cp, NULL);
    sqlite3_close_v2(db);
    return 0;
}

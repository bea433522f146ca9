import CSQLite
import Glibc

/// Checkpoints the WAL from a thread of its own, so the loop thread never waits for the fsync
/// a checkpoint does. The kernel's connection has automatic checkpoints turned off.
///
/// Passive checkpoints never block the writer. But a passive checkpoint copies the WAL only up to
/// the last commit it saw when it began, and SQLite starts the WAL again from its beginning only
/// after a checkpoint has copied all of it with no commit in between. Under load that never
/// pauses that moment never comes and the WAL grows without end: 1.2 GB after 1.5 million
/// enqueues, three times the database, and every read of a page then searches a WAL index that
/// long, and a start after a crash reads the whole file. So once the WAL holds `restartFrames`
/// frames, the checkpointer makes that moment: a restart checkpoint holds the next commit back
/// while it copies the few frames the passive one left and waits for readers to leave the WAL
/// (docs/durability.md, "The WAL under unbroken load"). The next commit starts the WAL again,
/// and `journal_size_limit` (set in `JobStore`) cuts the file back.
final class Checkpointer {
    /// 64 MiB of 4 KiB pages: about two seconds of the fastest enqueue, so a restart holds
    /// commits back that seldom.
    static let defaultRestartFrames: Int32 = 16_384

    private let path: String
    private let restartFrames: Int32
    private var thread: pthread_t?
    private var stopFlag = false
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init(path: String, restartFrames: Int32 = Checkpointer.defaultRestartFrames) {
        self.path = path
        self.restartFrames = restartFrames
        pthread_mutex_init(lock, nil)
    }

    deinit {
        stop()
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    func start(intervalMs: Int) {
        let box = Unmanaged.passRetained(Context(owner: self, intervalMs: intervalMs))
        var t = pthread_t()
        pthread_create(&t, nil, { raw in
            let ctx = Unmanaged<Context>.fromOpaque(raw!).takeRetainedValue()
            ctx.owner.loop(intervalMs: ctx.intervalMs)
            return nil
        }, box.toOpaque())
        thread = t
    }

    func stop() {
        guard let t = thread else { return }
        pthread_mutex_lock(lock)
        stopFlag = true
        pthread_mutex_unlock(lock)
        pthread_join(t, nil)
        thread = nil
    }

    private final class Context {
        let owner: Checkpointer
        let intervalMs: Int
        init(owner: Checkpointer, intervalMs: Int) {
            self.owner = owner
            self.intervalMs = intervalMs
        }
    }

    private var stopped: Bool {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return stopFlag
    }

    private func loop(intervalMs: Int) {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, JobStore.vfs) == SQLITE_OK, let db else { return }
        defer { sqlite3_close_v2(db) }
        sqlite3_busy_timeout(db, 100)
        // A new connection learns that the database is in WAL mode only when it first reads it;
        // until then a checkpoint is a no-op.
        sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nil, nil, nil)
        var slept = 0
        while !stopped {
            usleep(50_000)
            slept += 50
            guard slept >= intervalMs else { continue }
            slept = 0
            var walFrames: Int32 = 0
            sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, &walFrames, nil)
            if walFrames >= restartFrames {
                // Busy (a commit or a read outlasted the busy timeout): the next interval tries again.
                sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_RESTART, nil, nil)
            }
        }
        sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
    }
}

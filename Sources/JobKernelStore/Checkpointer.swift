import CSQLite
import Glibc

/// Checkpoints the WAL from a thread of its own, so the loop thread never waits for the fsync
/// a checkpoint does. The kernel's connection has automatic checkpoints turned off.
///
/// Passive checkpoints never block the writer. The WAL starts again from its beginning once a
/// checkpoint has copied all of it with no commit in between, and `journal_size_limit` (set in
/// `JobStore`) then cuts the file back; under load that never pauses that moment may not come,
/// and the WAL grows until the first pause (docs/durability.md, "The WAL under unbroken load").
final class Checkpointer {
    private let path: String
    private var thread: pthread_t?
    private var stopFlag = false
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init(path: String) {
        self.path = path
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
            sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        }
        sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
    }
}

import CSQLite
import Glibc

/// Commits batches of writes on a thread of its own, so that the loop thread decides the next
/// turn while the previous one is written and committed.
///
/// One batch at a time: the loop submits a batch, goes on, and later takes its outcome (waiting
/// for it only when it must touch the store itself). The loop never uses the connection while a
/// batch is in flight, so the connection is only ever used by one thread at a time (SQLite's
/// multi-thread mode). `wake` is called on the writer thread when a batch is done; it must be
/// thread-safe (an `AsyncSignal`'s send).
public final class StoreWriter {
    /// One write, run against the store inside the batch's transaction.
    public typealias Write = (JobStore) throws -> Void

    /// How a batch ended: committed, or undone because of `error`.
    public struct Outcome {
        public let batch: UInt64
        public let error: Error?
    }

    private let store: JobStore
    private let wake: () -> Void
    private var thread: pthread_t?
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by `lock`.
    private var queued: (batch: UInt64, writes: [Write])?
    private var done: Outcome?
    private var stopping = false
    /// Loop side: a batch was submitted and its outcome not yet taken.
    public private(set) var isBusy = false

    public init(store: JobStore, wake: @escaping () -> Void) {
        self.store = store
        self.wake = wake
        pthread_mutex_init(lock, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        stop()
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(lock)
        changed.deallocate()
        lock.deallocate()
    }

    public func start() {
        guard thread == nil else { return }
        let box = Unmanaged.passRetained(self)
        var t = pthread_t()
        pthread_create(&t, nil, { raw in
            let writer = Unmanaged<StoreWriter>.fromOpaque(raw!).takeRetainedValue()
            writer.run()
            return nil
        }, box.toOpaque())
        thread = t
    }

    /// Stops the thread after the batch in hand, if any (its outcome is then lost: take it first).
    public func stop() {
        guard let t = thread else { return }
        pthread_mutex_lock(lock)
        stopping = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(lock)
        pthread_join(t, nil)
        thread = nil
    }

    /// Hands a batch to the writer. Loop thread; only when not busy.
    public func submit(_ writes: [Write], batch: UInt64) {
        precondition(!isBusy, "a batch is already in flight")
        isBusy = true
        pthread_mutex_lock(lock)
        queued = (batch, writes)
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(lock)
    }

    /// The outcome of the batch in flight if it is done, without waiting. Loop thread.
    public func takeOutcome() -> Outcome? {
        guard isBusy else { return nil }
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        guard let outcome = done else { return nil }
        done = nil
        isBusy = false
        return outcome
    }

    /// Waits for the batch in flight and returns its outcome; nil when none is. Loop thread.
    public func waitForOutcome() -> Outcome? {
        guard isBusy else { return nil }
        pthread_mutex_lock(lock)
        while done == nil { pthread_cond_wait(changed, lock) }
        let outcome = done!
        done = nil
        pthread_mutex_unlock(lock)
        isBusy = false
        return outcome
    }

    private func run() {
        while true {
            pthread_mutex_lock(lock)
            while queued == nil && !stopping { pthread_cond_wait(changed, lock) }
            guard let (batch, writes) = queued else {
                pthread_mutex_unlock(lock)
                return
            }
            queued = nil
            pthread_mutex_unlock(lock)

            let error = commit(writes)

            pthread_mutex_lock(lock)
            done = Outcome(batch: batch, error: error)
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(lock)
            wake()
        }
    }

    /// Runs the writes in one transaction and commits it; on any failure undoes it all.
    private func commit(_ writes: [Write]) -> Error? {
        do {
            try store.beginIfNeeded()
            for write in writes { try write(store) }
            if let fault = store.db.fault { throw fault }
            try store.commit()
            return nil
        } catch {
            store.db.rollback()
            return error
        }
    }
}

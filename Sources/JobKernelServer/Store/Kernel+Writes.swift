import JobKernelCore
import JobKernelStore

/// The loop's side of the store writer: where a turn's writes go, and when its answers may leave.
///
/// A turn's writes are collected (`write`), not run. At the turn's end they go to the
/// `StoreWriter` thread, which runs and commits them while the loop decides the next turns; the
/// writes of those turns wait, and go as one batch when the writer is free again (group commit
/// across turns). What a turn queued for its peers, answers, events and `run` requests alike,
/// stays in their outboxes until the batch holding its writes commits (docs/promises.md §9).
///
/// Whatever must read the store (`store`), or cannot wait (a shutdown), first *syncs*: waits for
/// the batch in flight, runs the writes collected so far on the loop thread, and lets the rest of
/// the turn read and write directly, committing it on the loop thread at its end. The hot paths
/// (enqueue, fetch, ack, progress) read nothing from the store and never sync.
struct WritePipeline {
    enum Mode {
        /// Writes are collected, for the writer thread.
        case deferred
        /// The turn waited for the writer and writes straight to the store, in a transaction of
        /// the loop thread that commits at the turn's end.
        case direct
    }

    var mode: Mode = .direct
    /// Writes of the turns since the last batch was handed over, in order.
    var pending = WriteBatch()
    /// Peers that were sent something since the last batch was handed over.
    var held: [Connection] = []
    /// The peers, the journal and the write epoch of the batch in flight.
    var inFlight: (connections: [Connection], journal: TurnJournal, epoch: UInt64)?
    /// Effects of a batch that committed while a turn was under way, run at that turn's end.
    var ready: [() -> Void] = []
    /// The batch in flight failed while a turn was under way: the turn is undone at its end.
    var failure: Error?
    var batch: UInt64 = 0
    /// Writes go in numbered epochs: the writes collected now belong to `epoch`, which ends when
    /// they are committed here or handed to the writer. `committedEpoch`: every write of it and
    /// of the epochs before is committed.
    var epoch: UInt64 = 1
    var committedEpoch: UInt64 = 0

    /// Batches at most this long are committed on the loop thread when the writer is idle: for
    /// a request or two, a commit here answers sooner than a hand-over to another thread.
    static let directLimit = 8
}

extension Kernel {
    /// The store, once the writes collected so far are in it: for reads, and for writes that
    /// need an answer from the store.
    var store: JobStore {
        sync()
        return storage
    }

    /// Collects a write for the turn's batch, or runs it at once in a direct turn.
    func write(_ w: @escaping StoreWriter.Write) throws {
        if writes.mode == .deferred {
            writes.pending.append(w)
        } else {
            try storage.beginIfNeeded()
            try w(storage)
        }
    }

    /// Collects, or runs, the write of every mutable field of `job`, and of `unit`, one of its
    /// units, when given. Within a batch, a later write of the same row may make it redundant
    /// (`WriteBatch`).
    func writeRow(_ job: Job, unit: WorkUnit?) throws {
        guard writes.mode == .deferred else { return try storage.update(job, unit: unit) }
        writes.pending.appendUpdate(job, unit: unit)
    }

    /// Collects, or runs, the insert of the new `job` and its units; later writes of its row in
    /// the same batch are folded into it (`WriteBatch`).
    func writeInsert(_ job: Job, items: [JSON]?, request: String?, payloadBytes: [UInt8]?) throws {
        guard writes.mode == .deferred else {
            var row = job
            return try storage.insert(&row, items: items, request: request, payloadBytes: payloadBytes)
        }
        writes.pending.appendInsert(job, items: items, request: request, payloadBytes: payloadBytes)
    }

    /// A fresh job id: the kernel numbers jobs itself, so that an enqueue need not wait for the
    /// insert to learn its id.
    func takeJobID() -> Int64 {
        defer { nextJobID += 1 }
        return nextJobID
    }

    /// Makes the rest of the turn direct: waits for the batch in flight, then runs the writes
    /// collected since on this thread, in the turn's transaction.
    func sync() {
        guard writes.mode == .deferred else { return }
        writes.mode = .direct
        if let outcome = writer.waitForOutcome() {
            if let error = outcome.error {
                // Everything since the last commit is void, this turn included: nothing more of it
                // may commit, and the turn's end undoes it.
                writes.failure = error
                writes.pending.removeAll()
                return
            }
            batchCommitted()
            // Its effects run at a turn's end: make sure one comes, even if nothing else happens.
            if !writes.ready.isEmpty { writerSignal?.send() }
        }
        let pending = writes.pending.take()
        guard !pending.isEmpty else { return }
        do {
            try storage.beginIfNeeded()
            for w in pending { try w(storage) }
        } catch {
            writes.failure = writes.failure ?? error
        }
    }

    /// Ends the turn for the store (docs/promises.md §9, §10): hands its writes to the writer, or commits them
    /// here, and releases what commits made safe to send. Effects that waited for a commit may
    /// write again: those writes go the same way.
    func commitTurn() {
        if !natsAcks.isEmpty { sync() }  // a NATS result is acknowledged only after its commit
        while true {
            for conn in connections.awaitingFlush where !writes.held.contains(where: { $0 === conn }) { writes.held.append(conn) }
            if let outcome = writer.takeOutcome() {
                if let error = outcome.error {
                    writes.failure = writes.failure ?? error
                } else {
                    batchCommitted()
                }
            }
            // Effects of batches that committed run whatever happens to this turn.
            var effects = writes.ready
            writes.ready.removeAll()
            if writes.failure == nil, writes.mode == .direct || (!writer.isBusy && writes.pending.count <= WritePipeline.directLimit) {
                sync()  // a small batch and an idle writer: commit it here
                if writes.failure == nil, commitDirect() {
                    effects += turn.afterCommit
                    turn.reset()
                }
            } else if writes.failure == nil, !writer.isBusy {
                handOver()
            }
            if let error = writes.failure {
                writes.failure = nil
                storeFailed(error)
            }
            writes.mode = .deferred
            if effects.isEmpty { return }
            for effect in effects { effect() }
        }
    }

    /// Commits the direct turn's transaction (if any) on this thread: everything held may leave.
    /// False when the commit failed (`writes.failure` then says why).
    private func commitDirect() -> Bool {
        do {
            if let fault = storage.db.fault { throw fault }
            if try storage.commit() { storeCommitted() }
        } catch {
            writes.failure = error
            return false
        }
        for conn in writes.held {
            conn.committed()
            markDirty(conn)  // held since an earlier turn: flushed at this turn's end
        }
        writes.held.removeAll()
        writes.committedEpoch = writes.epoch
        writes.epoch += 1
        return true
    }

    /// Hands the writes collected so far to the writer thread, with the peers and journal they
    /// answer for.
    private func handOver() {
        guard !writes.pending.isEmpty else { return }
        for conn in writes.held { conn.markSubmitted() }
        writes.inFlight = (writes.held, turn, writes.epoch)
        writes.epoch += 1
        writes.held.removeAll()
        turn.reset()
        writes.batch += 1
        writer.submit(writes.pending.take(), batch: writes.batch)
    }

    /// The batch in flight committed: what it answers for may leave, and its effects run at the
    /// turn's end.
    private func batchCommitted() {
        storeCommitted()
        guard let (conns, journal, epoch) = writes.inFlight else { return }
        writes.inFlight = nil
        writes.committedEpoch = max(writes.committedEpoch, epoch)
        for conn in conns {
            conn.submittedCommitted()
            markDirty(conn)
        }
        writes.ready += journal.afterCommit
    }

    private func storeCommitted() {
        if storeFaulted {
            storeFaulted = false
            KernelMain.log("the database commits again: writes are accepted")
        }
    }

    /// Everything not yet committed, for undoing it: the peers sent something and the journal.
    func takeUncommitted() -> (connections: [Connection], journal: TurnJournal) {
        var conns = writes.held
        var journal = turn
        if let (inFlightConns, inFlightJournal, _) = writes.inFlight {
            for c in inFlightConns where !conns.contains(where: { $0 === c }) { conns.append(c) }
            journal.absorb(inFlightJournal)
        }
        for c in connections.awaitingFlush where !conns.contains(where: { $0 === c }) { conns.append(c) }
        writes.held.removeAll()
        writes.inFlight = nil
        writes.pending.removeAll()
        turn.reset()
        return (conns, journal)
    }
}

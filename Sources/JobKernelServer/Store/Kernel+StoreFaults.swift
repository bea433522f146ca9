import Glibc
import JobKernelCore
import JobKernelStore

/// Store faults (docs/promises.md §10): a commit that fails (disk full, I/O error) undoes the turn, in the
/// file and in memory, and the kernel goes on. Every request of the turn that changed something
/// is answered -32007 naming the cause; answers to reads go out; no event, handler or signal of
/// the turn ever leaves, nor a `run` request for a unit the turn made ready (a `run` for a unit
/// ready before may have left: its answer is dropped, see `Kernel.send`). Writes work again once
/// the cause is gone.
extension Kernel {
    /// The answer a change gets when its commit failed.
    static func storeFaultError(_ error: Error) -> RPCError {
        let cause = (error as? DatabaseError)?.cause ?? "\(error)"
        return .unavailable("the change was not saved: the database could not commit: \(cause). "
            + "Nothing of it was kept; reads keep working, and writes work again once the cause is gone")
    }

    /// Undoes everything since the last commit (the turn, and the turns of a batch that failed
    /// on the writer thread): the transaction, the answers and events queued for it, what it
    /// created in memory; then rebuilds the job state from the store as it was at that commit.
    func storeFailed(_ error: Error) {
        let cause = (error as? DatabaseError)?.cause ?? "\(error)"
        if !storeFaulted {
            // Once per fault, not once per turn: a full disk can last.
            storeFaulted = true
            KernelMain.log("the database could not commit (\(cause)): each turn's changes are undone and its "
                + "changing requests answered -32007 until a commit succeeds again")
        }
        storage.db.rollback()
        storage.db.clearFault()
        let (conns, undone) = takeUncommitted()
        let answer = Kernel.storeFaultError(error)
        for conn in conns {
            conn.commitFailed(answer)
            markDirty(conn)
        }
        // Each concern takes back what the uncommitted turns did to it; the job state is then
        // read again from the store below.
        for (run, worker) in localPools.undo(started: undone.runs) { discard(run, on: worker) }
        broker.undo(granted: undone.leases)
        events.undo(subscribed: undone.subscriptions)
        deadlines.undoStoredTimes()
        natsAcks.removeAll()
        queues.removeAll()
        do {
            try loadStoredState()
            try countJobs(nil)
            try queueStoredUnits()
        } catch {
            // The store cannot even be read: nothing can be trusted any more.
            KernelMain.log("the database cannot be read after a failed commit (\(error)); stopping")
            exit(70)
        }
        // Units whose outcome did not commit are still running in the store with nobody running
        // them: requeue them in a turn of their own, which commits (or fails) like any other.
        // A second apart, so a disk that stays full costs no busy loop.
        addDeadline(at: now + 1000, .orphanCheck)
    }

    /// Requeues, attempt counted, every unit the store has running that no local run, lease or
    /// NATS delivery holds: its outcome was lost with a failed commit.
    func requeueOrphans() {
        guard let running = try? store.units(jobID: nil, status: .running) else {
            addDeadline(at: now + 1000, .orphanCheck)
            return
        }
        for unit in running where !unitHasRunner(jobID: unit.jobID, index: unit.index) {
            try? apply(unit.jobID, unit: unit.index,
                       .unitLost(index: unit.index, reason: "its outcome was lost: the database could not commit it"))
        }
    }

    private func unitHasRunner(jobID: Int64, index: Int) -> Bool {
        if localPools.runs.runs(ofJob: jobID).contains(where: { $0.indices.contains(index) }) { return true }
        if broker.holds(jobID: jobID, index: index) { return true }
        if nats != nil, let job = active[jobID], config.types[job.type]?.mode == .asyncAPI { return true }
        return false
    }
}

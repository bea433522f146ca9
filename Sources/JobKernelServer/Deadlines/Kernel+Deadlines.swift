import JobKernelCore

/// Arms the one deadline timer and routes what falls due.
extension Kernel {
    func addDeadline(at: Millis, _ action: Deadline.Action) {
        deadlines.add(at: at, action)
        armDeadlineTimer()
    }

    private func armDeadlineTimer() {
        guard let next = deadlines.timerToArm() else { return }
        deadlineTimer.start(afterMs: UInt64(max(0, next - now))) { [unowned self] in
            self.deadlines.timerFired()
            self.runDueDeadlines()
            self.armDeadlineTimer()
        }
    }

    /// Routes each due deadline to the concern it belongs to.
    func runDueDeadlines() {
        let t = now
        while let next = deadlines.popDue(t) {
            switch next.action {
            case .backoff(let jobID, let index):
                try? apply(jobID, unit: index, .unitBackoffElapsed(index: index))
            case .runAt(let jobID):
                if waitsForDependencies(jobID) { break }
                try? apply(jobID, unit: nil, .runAtReached)
            case .lease(let id):
                expireLease(id, now: t)
            case .fetchTimeout(let waiterID):
                fetchTimedOut(waiterID)
            case .schedule(let index):
                runSchedule(index)
            case .runTimeout(let id):
                runTimedOut(id)
            case .runKill(let id):
                killRun(id)
            case .workerRestart(let id):
                restartWorker(id)
            case .discardKill(let id):
                killDiscardingWorker(id)
            case .staleCheck:
                checkStale()
            case .progressWindowEnd(let jobID):
                progressWindowEnded(jobID)
            case .orphanCheck:
                requeueOrphans()
            }
        }
    }
}

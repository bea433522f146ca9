import Glibc
import JobKernelCore
import JobKernelIO

extension Kernel {
    // MARK: Persistent workers (docs/promises.md §5.2)

    func spawnWorker(poolKey: String, argv: [String]) {
        let worker = WorkerProcess(id: localPools.newWorkerID(), poolKey: poolKey, argv: argv)
        localPools.workers[poolKey, default: []].append(worker)
        launch(worker)
    }

    func launch(_ worker: WorkerProcess) {
        worker.restartPending = false
        var env = Kernel.environment()
        if let socketPath { env["JOBKERNEL_SOCKET"] = socketPath }
        do {
            let process = try Process(loop: loop, argv: worker.argv, env: env, cwd: nil,
                                      stdin: .pipe, stdout: .pipe, stderr: .pipe, supervisor: localPools.supervisorPath,
                                      batchScheduling: config.pools.scheduling == .batch)
            worker.process = process
            let channel = PipePair(input: process.stdoutStream!, output: process.stdinStream!)
            let conn = serve(channel, kind: .worker)
            conn.worker = worker
            worker.connection = conn
            channel.onRead = { [unowned self, unowned conn, unowned worker] bytes in
                conn.feed(bytes)
                self.handleWorkerOutput(worker)
            }
            process.stderrStream?.onRead = { [unowned self, unowned worker] bytes in
                worker.stderrBacklog.append(contentsOf: worker.stderrLines.feed(bytes))
                self.handleWorkerOutput(worker)
            }
            // At EOF its lines are in the backlog already: close it, or every restart of a worker
            // that exits leaves a pipe open in the kernel.
            process.stderrStream?.onEOF = { [weak stream = process.stderrStream] in stream?.close() }
            process.stderrStream?.startReading()
            process.onExit = { [unowned self, unowned worker] status, signal in
                self.workerExited(worker, status: status, signal: signal)
            }
        } catch {
            KernelMain.log("cannot start worker \(worker.argv.joined(separator: " ")): \(error)")
            scheduleRestart(worker)
        }
    }

    /// Handles a slice of what a worker sent (messages on stdout, lines on stderr); with some
    /// left, stops reading its pipes and continues in the next turn.
    func handleWorkerOutput(_ worker: WorkerProcess) {
        let pacer = worker.pacer ?? OutputPacer(loop: loop)
        worker.pacer = pacer
        let conn = worker.connection
        let done = pacer.slice {
            if worker.stderrHead < worker.stderrBacklog.count {
                let line = worker.stderrBacklog[worker.stderrHead]
                worker.stderrHead += 1
                if let run = worker.run {
                    handlerLog(run, level: "error", line)
                } else {
                    KernelMain.log("worker \(worker.argv.joined(separator: " ")): \(line)")
                }
                return true
            }
            guard let conn, !conn.isClosed, let frame = conn.nextFrame() else { return false }
            handle(frame, on: conn)
            return true
        }
        if worker.stderrHead == worker.stderrBacklog.count {
            worker.stderrBacklog.removeAll(keepingCapacity: worker.stderrBacklog.count < 4096)
            worker.stderrHead = 0
        }
        let stderr = worker.process?.stderrStream
        if done {
            conn?.channel.startReading()
            stderr?.startReading()
        } else {
            conn?.channel.stopReading()
            stderr?.stopReading()
            pacer.nextTurn { [unowned self, unowned worker] in self.handleWorkerOutput(worker) }
        }
    }

    /// Sends `run` to a persistent worker. `unheld`: the only change not yet committed is the
    /// units' start, so the request leaves with this turn's writes instead of after their commit
    /// (the worker works while the commit runs). Should that commit fail, the start is undone
    /// and the worker's answer dropped (`WorkerProcess.discarding`); the units run again, as
    /// after a kill -9 between a start and its result. A unit that became ready in a change not
    /// yet committed (a new job, a retry) waits for that commit: undone work never runs.
    func send(_ run: LocalRun, to worker: WorkerProcess, params: JSON, unheld: Bool) {
        guard let conn = worker.connection else { return }
        run.worker = worker
        run.sentUnheld = unheld
        worker.run = run
        let requestID = localPools.newRequestID()
        worker.runRequestID = requestID
        conn.currentJobID = run.jobID
        // `{"jsonrpc":"2.0","id":N,"method":"run","params":…}` written around the params' bytes.
        var b = ByteWriter(capacity: 960)  // the job object and a few members
        b.append(#"{"jsonrpc":"2.0","id":"#)
        JSONWriter.writeInt(requestID, into: &b)
        b.append(#","method":"run","params":"#)
        JSONWriter.write(params, into: &b)
        b.append(UInt8(ascii: "}"))
        let request = JSON.serialized(SerializedJSON(bytes: b.finish()))
        if unheld { conn.sendUnheld(request) } else { conn.send(request) }
        markDirty(conn)
    }

    /// A failed commit undid the start of `run`, whose request the worker already has: the worker
    /// is told to cancel it, its answer will be dropped, and it takes no other `run` until it
    /// has answered, or been killed `cancel_grace` later.
    func discard(_ run: LocalRun, on worker: WorkerProcess) {
        worker.discarding = true
        if let conn = worker.connection {
            conn.sendUnheld(Kernel.cancelNotification(run))
            markDirty(conn)
        }
        addDeadline(at: now + config.pipeline.cancelGraceMs, .discardKill(worker.id))
    }

    func killDiscardingWorker(_ id: UInt64) {
        if let w = worker(id), w.discarding { w.process?.signalGroup(SIGKILL) }
    }

    /// The pool worker with this id, in whichever pool it is.
    func worker(_ id: UInt64) -> WorkerProcess? {
        for pool in localPools.workers.values {
            if let w = pool.first(where: { $0.id == id }) { return w }
        }
        return nil
    }

    /// The worker protocol's `cancel` notification for the unit `run` holds (docs/promises.md §5.2).
    static func cancelNotification(_ run: LocalRun) -> JSON {
        RPCEncoder.notification(method: "cancel", params: ["job_id": .string(String(run.jobID))])
    }

    /// A response from a worker to our `run`.
    func workerResponded(_ conn: Connection, id: JSON, result: Result<JSON, RPCError>) {
        guard let worker = conn.worker, id == .int(worker.runRequestID ?? -1) else { return }
        if worker.discarding {
            worker.discarding = false
            worker.runRequestID = nil
            conn.currentJobID = nil
            typesToPump.formUnion(localPools.typeNames)
            return
        }
        guard let run = worker.run else { return }
        worker.run = nil
        worker.runRequestID = nil
        worker.restarts = 0
        conn.currentJobID = nil
        switch result {
        case .success(let value):
            do {
                let outcome = try Kernel.runOutcomes(value, indices: run.indices)
                finish(run) { i in
                    outcome(i) ?? .unitFailed(index: i, error: JobError(message: "the item is missing from the worker's results"), retryable: true)
                }
            } catch {
                KernelMain.log("worker \(worker.argv.joined(separator: " ")): invalid run result: \(error.message)")
                let e = JobError(message: "the worker answered run with an invalid result: \(error.message)")
                finish(run) { i in .unitFailed(index: i, error: e, retryable: true) }
            }
        case .failure(let e):
            if e.code == RPCError.cancelled.code || run.stopping == .cancel {
                finish(run) { i in .unitStopped(index: i) }
            } else {
                let error = JobError(message: e.message, code: String(e.code), data: e.data)
                let retryable = e.data?["retryable"]?.boolValue ?? true
                finish(run) { i in .unitFailed(index: i, error: error, retryable: retryable) }
            }
        }
    }

    /// Reads a worker's answer to `run` (docs/promises.md §5.2): `{"items":[{index, status, result?, error?}]}`
    /// for a batch, where `index` is an item of the run and `status` success or failed; else
    /// `{"result": …}` (any other value is taken as the result) for every unit of the run.
    /// Returns each unit's event by index; nil for a unit the answer leaves out.
    static func runOutcomes(_ value: JSON, indices: [Int]) throws(RPCError) -> (Int) -> JobEvent? {
        guard case .array(let rows)? = value["items"] else {
            let r = value.objectValue?["result"] ?? value
            return { .unitSucceeded(index: $0, result: r) }
        }
        var outcome: [Int: JobEvent] = [:]
        for (n, row) in rows.enumerated() {
            let at = "items[\(n)]"
            guard case .object = row else { throw .invalidParams("`\(at)` must be an object, got \(row.typeName)", field: at) }
            var r = try Params(row, prefix: at + ".")
            let i = try r.int("index", in: 0...Int(Int32.max))
            guard indices.contains(i) else { throw .invalidParams("`\(at).index` \(i) is not an item of this run", field: at + ".index") }
            guard let status = try r.optionalString("status", oneOf: ["success", "failed"]) else {
                throw .invalidParams("`\(at).status` is required (success or failed)", field: at + ".status")
            }
            if status == "success" {
                outcome[i] = .unitSucceeded(index: i, result: r.optionalJSON("result") ?? .null)
                continue
            }
            let errorValue = r.optionalJSON("error")
            guard let e = errorValue.map(JobError.init(json:)) ?? JobError(message: "the item failed") else {
                throw .invalidParams("`\(at).error` must be a string or an object {message, …}", field: at + ".error")
            }
            outcome[i] = .unitFailed(index: i, error: e, retryable: errorValue?["retryable"]?.boolValue ?? true)
        }
        return { outcome[$0] }
    }

    func workerExited(_ worker: WorkerProcess, status: Int64, signal: Int32) {
        worker.process = nil
        worker.discarding = false
        worker.connection?.channel.close()
        worker.connection = nil
        if let run = worker.run {
            worker.run = nil
            let reason = signal != 0 ? "the worker was killed by signal \(signal)" : "the worker exited with status \(status)"
            finish(run) { i in .unitFailed(index: i, error: JobError(message: reason), retryable: true) }
        }
        if shuttingDown {
            worker.pacer?.close()
            worker.pacer = nil
            localPools.workers[worker.poolKey]?.removeAll { $0 === worker }
            finishShutdownIfIdle()
        } else {
            scheduleRestart(worker)
        }
    }

    /// Restarts an exited worker after a backoff that grows with each restart in a row.
    func scheduleRestart(_ worker: WorkerProcess) {
        worker.restartPending = true
        let delay = min(Int64(250) << min(worker.restarts, 7), 30_000)
        worker.restarts += 1
        addDeadline(at: now + delay, .workerRestart(worker.id))
    }

    func restartWorker(_ id: UInt64) {
        guard !shuttingDown else { return }
        if let w = worker(id), w.process == nil { launch(w) }
        typesToPump.formUnion(localPools.typeNames)
    }

    // MARK: Ending runs

    /// Ends a run: every unit gets the event `outcome` gives it, unless the run was stopped, in
    /// which case the reason decides (cancel → stopped, shutdown → interrupted, timeout → failed
    /// retryably, stale → lost).
    func finish(_ run: LocalRun, outcome: (Int) -> JobEvent) {
        run.pacer?.close()
        run.pacer = nil
        run.graceTimer?.close()
        run.graceTimer = nil
        guard localPools.runs.remove(run.id) != nil else { return }
        // A sync_api batch retries as the same batch (docs/promises.md §5.3): its units wait out one backoff,
        // come back to the queue in the same turn, and are taken together again.
        var backoffUntil: Millis?
        if run.type.mode == .syncAPI, run.indices.count > 1, let job = active[run.jobID] {
            backoffUntil = now + reducerContext().backoff(afterAttempt: max(job.attempt, 1))
        }
        for i in run.indices {
            let event: JobEvent
            switch run.stopping {
            case .cancel?: event = .unitStopped(index: i)
            case .shutdown?: event = .unitInterrupted(index: i)
            case .timeout?:
                let s = Double(run.timeoutMs ?? 0) / 1000
                // `timeout_s` lets `jobkernel run` exit 124, as timeout(1) does.
                event = .unitFailed(index: i, error: JobError(message: "timed out after \(s)s", data: ["timeout_s": .double(s)]),
                                    retryable: true)
            case .stale?: event = .unitLost(index: i, reason: "no heartbeat for \(config.pipeline.staleAfterMs / 1000)s")
            case nil: event = outcome(i)
            }
            try? apply(run.jobID, unit: i, event, backoffUntil: backoffUntil)
        }
        if let backoffUntil, let job = try? self.job(run.jobID), !job.status.isTerminal {
            let waiting = run.indices.filter { i in
                (try? unit(run.jobID, i)).flatMap { $0 }.map { $0.status == .pending && $0.runAt == backoffUntil } ?? false
            }
            queues.keepTogether(jobID: run.jobID, indices: Set(waiting))
        }
        typesToPump.insert(run.type.name)
        if shuttingDown { finishShutdownIfIdle() }
    }

    /// Stops a run: SIGTERM to its process group (or `cancel` to its worker), SIGKILL after
    /// `cancel_grace` if it is still there.
    func stop(_ run: LocalRun, _ reason: StopReason) {
        // Signals wait for the commit: a cancel that does not commit must not stop anything.
        turn.afterCommit.append { [unowned self] in
            guard self.localPools.runs[run.id] != nil else { return }
            if run.stopping == nil || reason == .shutdown { run.stopping = reason }
            self.signalStop(run)
        }
    }

    /// Sends a stopping run's process (or worker) the signal its stop reason calls for.
    func signalStop(_ run: LocalRun) {
        guard let reason = run.stopping else { return }
        if let process = run.process {
            if reason == .stale { process.signalGroup(SIGKILL) } else { process.signalGroup(SIGTERM) }
        } else if let worker = run.worker {
            if reason == .cancel, let conn = worker.connection {
                conn.send(Kernel.cancelNotification(run))
                markDirty(conn)
            } else if reason == .stale {
                worker.process?.signalGroup(SIGKILL)
            } else {
                worker.process?.signalGroup(SIGTERM)
            }
        }
        addDeadline(at: now + config.pipeline.cancelGraceMs, .runKill(run.id))
    }

    /// `cancel_grace` is over: whatever of the run is left is killed.
    func killRun(_ id: UInt64) {
        guard let run = localPools.runs[id] else { return }
        if let process = run.process {
            process.signalGroup(SIGKILL)
        } else if let worker = run.worker {
            worker.process?.signalGroup(SIGKILL)
        }
    }

    func runTimedOut(_ id: UInt64) {
        guard let run = localPools.runs[id], run.stopping == nil else { return }
        handlerLog(run, level: "error", "timed out after \(Double(run.timeoutMs ?? 0) / 1000)s: stopping the unit")
        stop(run, .timeout)
    }

    /// Stops the local runs of a job that is being cancelled.
    func stopLocalRuns(ofJob jobID: Int64) {
        for run in localPools.runs.runs(ofJob: jobID) {
            stop(run, .cancel)
        }
    }

    /// A worker silent for `stale_after` is presumed lost (docs/promises.md §8.2).
    func checkStale() {
        let t = now
        for run in localPools.runs.all where run.worker != nil && run.stopping == nil {
            if t - run.lastHeard > config.pipeline.staleAfterMs { stop(run, .stale) }
        }
        addDeadline(at: t + max(config.pipeline.heartbeatMs, 100), .staleCheck)
    }

    /// Heard from a worker: its run is alive.
    func heard(from conn: Connection) {
        conn.worker?.run?.lastHeard = now
    }

    // MARK: Shutdown

    /// Stops every local run and worker; the shutdown finishes when they are all gone.
    func stopLocalForShutdown() {
        for run in localPools.runs.all { stop(run, .shutdown) }
        for pool in localPools.workers.values {
            for w in pool where w.run == nil { w.process?.signalGroup(SIGTERM) }
        }
        for pool in localPools.workers.values {
            for w in pool where w.process == nil { localPools.workers[w.poolKey]?.removeAll { $0 === w } }
        }
    }

    /// Kills what did not stop in time; their units are recorded as interrupted.
    func killLocalForShutdown() {
        for run in Array(localPools.runs.all) {
            run.process?.signalGroup(SIGKILL)
            run.worker?.process?.signalGroup(SIGKILL)
            run.stopping = .shutdown
            finish(run) { i in .unitInterrupted(index: i) }
        }
        for pool in localPools.workers.values { for w in pool { w.process?.signalGroup(SIGKILL) } }
    }
}

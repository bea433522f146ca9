import Glibc
import JobKernelCore
import JobKernelIO

extension Kernel {
    // MARK: Choosing what runs

    /// Starts queued units of local types while slots are free (docs/promises.md §8.1): at most
    /// `max_parallel_jobs` at once, `priority_lane_slots` of them kept for the priority lane,
    /// a type's `concurrency`, and each mode's pool size. Best unit first: priority, then age.
    func pumpLocal() {
        guard !shuttingDown, !localPools.types.isEmpty else { return }
        let p = config.pipeline
        // Types whose queued units cannot start now (their jobs already run a batch).
        var blocked: Set<String> = []
        while localPools.runs.hasFreeSlot(p) {
            // The best head among the types that may start a run now.
            var best: (local: LocalType, head: QueuedUnit)?
            for local in localPools.types {
                guard let head = queues.head(type: local.name), !blocked.contains(local.name), !isPaused(local.name) else { continue }
                guard localPools.runs.admits(local, cap: localPools.caps[local.index], priority: head.priority, pipeline: p, pools: config.pools),
                      workerAvailable(in: local) else { continue }
                if best.map({ $0.head < head }) ?? true { best = (local, head) }
            }
            guard let local = best?.local else { return }
            let type = local.config
            var units: [WorkUnit] = []
            var readyCommitted = true
            var jobID: Int64?
            let batchSize = type.mode == .syncAPI ? max(1, type.batchSize) : 1
            // A sync_api job posts batch after batch (docs/promises.md §5.3): one in flight at a time. A batch
            // that failed as a whole is taken again as it was; other batches leave its units out.
            var deferred: [QueuedUnit] = []
            var retried: Set<Int>?
            while units.count < batchSize, let head = queues.head(type: local.name) {
                if let jobID, head.jobID != jobID { break }
                if let retried, head.index > retried.max()! { break }
                _ = queues.popMax(type: local.name)
                if type.mode == .syncAPI, jobID == nil, localPools.runs.hasRuns(ofJob: head.jobID) {
                    deferred.append(head)
                    continue
                }
                if type.mode == .syncAPI, jobID != nil,
                   retried.map({ !$0.contains(head.index) }) ?? queues.isKeptTogether(head) {
                    deferred.append(head)
                    continue
                }
                guard let (_, unit) = (try? validReady(head)) ?? nil else { continue }
                if type.mode == .syncAPI, jobID == nil { retried = queues.takeBatch(of: head) }
                jobID = head.jobID
                units.append(unit)
                readyCommitted = readyCommitted && head.readyIn <= writes.committedEpoch
                if let retried, units.count == retried.count { break }
            }
            for unit in deferred { queues.push(type: local.name, unit) }
            if let jobID, !units.isEmpty {
                start(local, jobID: jobID, units: units, readyCommitted: readyCommitted)
            } else {
                blocked.insert(local.name)
            }
        }
    }

    /// Whether a run of `local` can start as far as its pool of persistent workers goes: one is
    /// idle, or one more may be spawned (and is, now).
    func workerAvailable(in local: LocalType) -> Bool {
        guard let pool = local.pool else { return true }
        let workers = localPools.workers[pool.key] ?? []
        if workers.contains(where: \.isIdle) { return true }
        if workers.count < localPools.poolSize(local, pools: config.pools) {
            spawnWorker(poolKey: pool.key, argv: pool.argv)
            return true
        }
        return false
    }

    // MARK: Starting

    /// Starts `units` (validated by `validReady`, values as read there) as one run.
    /// `readyCommitted`: the units were ready as of the last commit (see `send`).
    func start(_ local: LocalType, jobID: Int64, units: [WorkUnit], readyCommitted: Bool) {
        let type = local.config
        let indices = units.map(\.index)
        for i in indices { try? apply(jobID, unit: i, .unitStarted(index: i)) }
        guard let job = active[jobID], job.status == .running else { return }
        let run = LocalRun(id: localPools.newRunID(), jobID: jobID, type: type, typeIndex: local.index, lane: job.lane, indices: indices, now: now,
                           maxLine: config.limits.maxMessageBytes)
        run.timeoutMs = job.timeoutMs ?? type.timeoutMs
        localPools.runs.add(run)
        turn.runs.append(run.id)
        do {
            let items: [JSON] = job.itemized ? units.map { ["index": .int($0.index), "value": $0.value] } : []
            let jobJSON = try jobJSON(job)
            if let pool = local.pool, let worker = localPools.workers[pool.key]?.first(where: \.isIdle) {
                var params: JSONObject = [
                    "job": jobJSON,
                    "item": job.itemized && items.count == 1 ? items[0] : .null,
                    "items": type.mode == .syncAPI && job.itemized ? .array(items) : .null,
                ]
                if case .endpoint(let url) = type.handler {
                    params["endpoint"] = .string(url)
                    params["http_timeout_s"] = .double(Double(type.httpTimeoutMs) / 1000)
                }
                send(run, to: worker, params: .object(params), unheld: readyCommitted)
            } else {
                // The process starts only once the unit's start is committed (docs/promises.md §10).
                let item: JSON = job.itemized ? items[0] : .null
                turn.afterCommit.append { [unowned self] in
                    guard self.localPools.runs[run.id] != nil else { return }
                    do {
                        try self.spawnHandler(run, job: job, jobJSON: jobJSON, item: item)
                    } catch {
                        self.failToStart(run, error)
                    }
                }
            }
        } catch {
            failToStart(run, error)
            return
        }
        if let t = run.timeoutMs { addDeadline(at: now + t, .runTimeout(run.id)) }
    }

    /// A run that could not start fails each of its units, without retry.
    func failToStart(_ run: LocalRun, _ error: Error) {
        finish(run) { index in .unitFailed(index: index, error: JobError(message: "cannot start: \(error)"), retryable: false) }
    }

    // MARK: Exec handlers (docs/promises.md §5.1)

    func spawnHandler(_ run: LocalRun, job: Job, jobJSON: JSON, item: JSON) throws {
        var argv: [String]
        var cwd: String?
        var env = Kernel.environment()
        switch run.type.handler {
        case .command(let a):
            argv = a
        case .builtinCommand:
            // Checked at enqueue (docs/promises.md §10); a job stored before that check is refused, not run without its non-strings.
            guard let elements = job.payload["argv"]?.arrayValue, !elements.isEmpty,
                  case let a = elements.compactMap(\.stringValue), a.count == elements.count else {
                throw ServeError("payload.argv must be a non-empty array of strings")
            }
            argv = a
            cwd = job.payload["cwd"]?.stringValue
            if case .object(let extra)? = job.payload["env"] {
                for (k, v) in extra { if let s = v.stringValue { env[k] = s } }
            }
        default:
            throw ServeError("type \(run.type.name) has no command")
        }
        env["JOBKERNEL_JOB_ID"] = String(job.id)
        env["JOBKERNEL_JOB_TYPE"] = job.type
        env["JOBKERNEL_ATTEMPT"] = String(job.attempt)
        if job.itemized { env["JOBKERNEL_ITEM_INDEX"] = String(run.indices[0]) }
        if let socketPath { env["JOBKERNEL_SOCKET"] = socketPath }
        let process = try Process(loop: loop, argv: argv, env: env, cwd: cwd,
                                  stdin: .pipe, stdout: .pipe, stderr: .pipe, supervisor: localPools.supervisorPath,
                                  batchScheduling: config.pools.scheduling == .batch)
        run.process = process
        process.onExit = { [unowned self, unowned run] status, signal in
            run.exited = (status, signal, self.now)
            self.handleOutput(of: run)
        }
        process.stdoutStream?.onRead = { [unowned self, unowned run] bytes in
            for line in run.stdoutLines.feed(bytes) { run.backlog.append((false, line)) }
            self.handleOutput(of: run)
        }
        process.stderrStream?.onRead = { [unowned self, unowned run] bytes in
            for line in run.stderrLines.feed(bytes) { run.backlog.append((true, line)) }
            self.handleOutput(of: run)
        }
        process.stdoutStream?.onEOF = { [unowned self, unowned run] in
            if let line = run.stdoutLines.finish() { run.backlog.append((false, line)) }
            self.handleOutput(of: run)
        }
        process.stderrStream?.onEOF = { [unowned self, unowned run] in
            if let line = run.stderrLines.finish() { run.backlog.append((true, line)) }
            self.handleOutput(of: run)
        }
        process.stdoutStream?.startReading()
        process.stderrStream?.startReading()
        if let stdin = process.stdinStream {
            stdin.write(JSON.object(["job": jobJSON, "item": item]).serialized() + [0x0A])
            stdin.shutdownWrite { [weak stdin] in stdin?.close() }
        }
    }

    static func environment() -> [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return env
    }

    /// How long after its exit a handler's pipes may stay open (a background child holding them)
    /// before the unit ends without waiting for their EOF.
    static let outputGraceMs: Int64 = 1000

    /// Handles a slice of the run's backlog; with lines left, stops reading its pipes and
    /// continues in the next turn, after the loop has polled the other connections. Once the
    /// handler exited and its output is handled (EOF on both pipes, or the grace is over), the
    /// unit ends.
    func handleOutput(of run: LocalRun) {
        guard localPools.runs[run.id] === run else {
            // Ended already (killed at shutdown): nothing more of it is recorded.
            run.backlog.removeAll()
            run.backlogHead = 0
            if run.exited != nil {
                for s in [run.process?.stdoutStream, run.process?.stderrStream] { s?.close() }
            }
            return
        }
        let pacer = run.pacer ?? OutputPacer(loop: loop)
        run.pacer = pacer
        _ = pacer.slice {
            guard run.backlogHead < run.backlog.count else { return false }
            let (isError, line) = run.backlog[run.backlogHead]
            run.backlogHead += 1
            if isError { handlerLog(run, level: "error", line) } else { handlerStdout(run, line) }
            return true
        }
        if run.backlogHead == run.backlog.count {
            run.backlog.removeAll(keepingCapacity: run.backlog.count < 4096)
            run.backlogHead = 0
        }
        let streams = [run.process?.stdoutStream, run.process?.stderrStream].compactMap { $0 }
        if run.backlogHead < run.backlog.count {
            for s in streams { s.stopReading() }
            pacer.nextTurn { [unowned self, unowned run] in self.handleOutput(of: run) }
            return
        }
        for s in streams { s.startReading() }
        guard let exit = run.exited else { return }
        if streams.contains(where: { !$0.sawEOF && !$0.isClosed }) {
            let left = exit.at + Kernel.outputGraceMs - now
            if left > 0 {
                let timer = run.graceTimer ?? LoopTimer(loop: loop)
                run.graceTimer = timer
                timer.start(afterMs: UInt64(left)) { [unowned self, unowned run] in self.handleOutput(of: run) }
                return
            }
        }
        run.exited = nil
        for s in streams { s.close() }
        handlerExited(run, status: exit.status, signal: exit.signal)
    }

    func handlerStdout(_ run: LocalRun, _ line: String) {
        guard !line.isEmpty else { return }
        if line.first == "{", case .object(let o)? = try? JSONParser.parse(line) {
            if case .object(let p)? = o["progress"] {
                _ = try? reportProgress(run.jobID, current: p["current"]?.doubleValue, total: p["total"]?.doubleValue,
                               phase: p["phase"]?.stringValue, message: p["message"]?.stringValue,
                               item: run.type.mode == .internal && active[run.jobID]?.itemized == true ? run.indices.first : nil)
                return
            }
            if let message = o["log"]?.stringValue {
                // `{"log": text, "level": l}` is logged at l; any other `level` keeps the line as
                // sent, at info (protocol/pools.md).
                switch o["level"] {
                case nil: handlerLog(run, level: "info", message)
                case .string(let level)? where Kernel.logLevels.contains(level): handlerLog(run, level: level, message)
                default: handlerLog(run, level: "info", line)
                }
                return
            }
            if let result = o["result"] {
                run.lastResult = result
                return
            }
            if let e = o["error"], let error = JobError(json: e) {
                run.declaredError = (error, e["retryable"]?.boolValue ?? true)
                return
            }
        }
        handlerLog(run, level: "info", line)
    }

    func handlerLog(_ run: LocalRun, level: String, _ message: String) {
        guard let job = active[run.jobID] else { return }
        _ = try? appendLog(job, level: level, message: message)
    }

    func handlerExited(_ run: LocalRun, status: Int64, signal: Int32) {
        if let line = run.stdoutLines.finish() { handlerStdout(run, line) }
        if let line = run.stderrLines.finish() { handlerLog(run, level: "error", line) }
        run.process = nil
        let reason: JobError
        if signal != 0 {
            reason = JobError(message: "the handler was killed by signal \(signal)", data: ["signal": .int(Int(signal))])
        } else {
            // `exit_code` lets `jobkernel run` exit with the command's own code.
            reason = run.declaredError?.error
                ?? JobError(message: "the handler exited with status \(status)", data: ["exit_code": .int(Int(status))])
        }
        let ok = status == 0 && signal == 0
        finish(run) { [result = run.lastResult, declared = run.declaredError] index in
            ok ? .unitSucceeded(index: index, result: result)
               : .unitFailed(index: index, error: reason, retryable: declared?.retryable ?? true)
        }
    }
}

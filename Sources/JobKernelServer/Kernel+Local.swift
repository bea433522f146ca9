import Glibc
import JobKernelCore
import JobKernelIO

/// Why a local run is being stopped.
enum StopReason {
    case cancel, timeout, shutdown, stale
}

/// One unit, or one sync_api batch of units, running in a local pool (SPEC §5.1–5.3).
final class LocalRun {
    let id: UInt64
    let jobID: Int64
    let type: TypeConfig
    /// `type`'s `LocalType.index`.
    let typeIndex: Int
    let lane: Lane
    let indices: [Int]
    var process: Process?
    var worker: WorkerProcess?
    var stdoutLines: LineSplitter
    var stderrLines: LineSplitter
    /// The last `result` an exec handler printed.
    var lastResult: JSON = .null
    /// An `error` an exec handler printed: it decides whether the failure is retryable.
    var declaredError: (error: JobError, retryable: Bool)?
    var stopping: StopReason?
    /// Its `run` request left before the start was committed (`Kernel.send`).
    var sentUnheld = false
    var lastHeard: Millis
    var timeoutMs: Int64?
    /// An exec handler's output lines read but not yet handled (`true`: from stderr), oldest
    /// first from `backlogHead`, handled a slice per loop turn (`OutputPacer`).
    var backlog: [(stderr: Bool, line: String)] = []
    var backlogHead = 0
    var pacer: OutputPacer?
    /// The handler's exit, held until the output read before it has been handled.
    var exited: (status: Int64, signal: Int32, at: Millis)?
    /// Ends the wait for EOF on the pipes after the handler exited.
    var graceTimer: LoopTimer?

    init(id: UInt64, jobID: Int64, type: TypeConfig, typeIndex: Int, lane: Lane, indices: [Int], now: Millis, maxLine: Int) {
        self.id = id
        self.jobID = jobID
        self.type = type
        self.typeIndex = typeIndex
        self.lane = lane
        self.indices = indices
        self.lastHeard = now
        self.stdoutLines = LineSplitter(maxLineBytes: maxLine)
        self.stderrLines = LineSplitter(maxLineBytes: maxLine)
    }
}

/// A persistent worker process speaking the worker protocol on its pipes (SPEC §5.2), or one
/// of the sync_api pool's workers (the kernel's own binary in a worker role).
final class WorkerProcess {
    let id: UInt64
    let poolKey: String
    let argv: [String]
    var process: Process?
    var connection: Connection?
    var run: LocalRun?
    var runRequestID: Int?
    /// The worker still works on a `run` whose start a failed commit undid: its answer to
    /// `runRequestID` is dropped, and only then does it take another.
    var discarding = false
    var restarts = 0
    var restartPending = false
    var stderrLines = LineSplitter(maxLineBytes: 65536)
    /// stderr lines read but not yet handled, oldest first from `stderrHead`. They and the
    /// messages on the worker's stdout are handled a slice per loop turn (`OutputPacer`).
    var stderrBacklog: [String] = []
    var stderrHead = 0
    var pacer: OutputPacer?

    init(id: UInt64, poolKey: String, argv: [String]) {
        self.id = id
        self.poolKey = poolKey
        self.argv = argv
    }

    var isIdle: Bool { process != nil && run == nil && !discarding && !restartPending }
}

/// A worker's stdout (read) and stdin (write) as one duplex channel for its `Connection`.
final class PipePair: DuplexStream {
    let input: Stream
    let output: Stream
    var onRead: ((UnsafeRawBufferPointer) -> Void)? {
        get { input.onRead }
        set { input.onRead = newValue }
    }
    var onEOF: (() -> Void)? {
        get { input.onEOF }
        set { input.onEOF = newValue }
    }
    var onClose: (() -> Void)?
    var onWritesDrained: (() -> Void)?
    var isClosed: Bool { input.isClosed && output.isClosed }
    var closeError: UVError? { input.closeError ?? output.closeError }
    var pendingWriteBytes: Int { output.pendingWriteBytes }
    var peerUID: UInt32? { nil }
    var peerPID: Int32? { nil }

    init(input: Stream, output: Stream) {
        self.input = input
        self.output = output
        input.onClose = { [unowned self] in self.sideClosed() }
        output.onClose = { [unowned self] in self.sideClosed() }
    }

    private var closedSides = 0
    private func sideClosed() {
        closedSides += 1
        if closedSides == 2 { onClose?() }
    }

    func startReading() { input.startReading() }
    func stopReading() { input.stopReading() }
    func write(_ bytes: UnsafeRawBufferPointer) { output.write(bytes) }
    func shutdownWrite(then: @escaping () -> Void) { output.shutdownWrite(then: then) }
    func close() {
        input.close()
        output.close()
    }
}

extension Kernel {
    // MARK: Choosing what runs

    /// Starts queued units of local types while slots are free (SPEC §8.1): at most
    /// `max_parallel_jobs` at once, `priority_lane_slots` of them kept for the priority lane,
    /// a type's `concurrency`, and each mode's pool size. Best unit first: priority, then age.
    func pumpLocal() {
        guard !shuttingDown, !localTypes.isEmpty else { return }
        let p = config.pipeline
        // Types whose queued units cannot start now (their jobs already run a batch).
        var blocked: Set<String> = []
        while localRuns.hasFreeSlot(p) {
            // The best head among the types that may start a run now.
            var best: (local: LocalType, head: QueuedUnit)?
            for local in localTypes {
                guard let head = queues.head(type: local.name), !blocked.contains(local.name), !isPaused(local.name) else { continue }
                guard localRuns.admits(local, priority: head.priority, pipeline: p, pools: config.pools),
                      workerAvailable(in: local) else { continue }
                if best.map({ $0.head < head }) ?? true { best = (local, head) }
            }
            guard let local = best?.local else { return }
            let type = local.config
            var units: [WorkUnit] = []
            var readyCommitted = true
            var jobID: Int64?
            let batchSize = type.mode == .syncAPI ? max(1, type.batchSize) : 1
            // A sync_api job posts batch after batch (SPEC §5.3): one in flight at a time. A batch
            // that failed as a whole is taken again as it was; other batches leave its units out.
            var deferred: [QueuedUnit] = []
            var retried: Set<Int>?
            while units.count < batchSize, let head = queues.head(type: local.name) {
                if let jobID, head.jobID != jobID { break }
                if let retried, head.index > retried.max()! { break }
                _ = queues.popMax(type: local.name)
                if type.mode == .syncAPI, jobID == nil, localRuns.hasRuns(ofJob: head.jobID) {
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
    private func workerAvailable(in local: LocalType) -> Bool {
        guard let pool = local.pool else { return true }
        let workers = self.workers[pool.key] ?? []
        if workers.contains(where: \.isIdle) { return true }
        if workers.count < pool.size {
            spawnWorker(poolKey: pool.key, argv: pool.argv)
            return true
        }
        return false
    }

    // MARK: Starting

    /// Starts `units` (validated by `validReady`, values as read there) as one run.
    /// `readyCommitted`: the units were ready as of the last commit (see `send`).
    private func start(_ local: LocalType, jobID: Int64, units: [WorkUnit], readyCommitted: Bool) {
        let type = local.config
        let indices = units.map(\.index)
        for i in indices { try? apply(jobID, unit: i, .unitStarted(index: i)) }
        guard let job = active[jobID], job.status == .running else { return }
        let run = LocalRun(id: nextRunID, jobID: jobID, type: type, typeIndex: local.index, lane: job.lane, indices: indices, now: now,
                           maxLine: config.limits.maxMessageBytes)
        nextRunID += 1
        run.timeoutMs = job.timeoutMs ?? type.timeoutMs
        localRuns.add(run)
        turn.runs.append(run.id)
        do {
            let items: [JSON] = job.itemized ? units.map { ["index": .int($0.index), "value": $0.value] } : []
            let jobJSON = try jobJSON(job)
            if let pool = local.pool, let worker = workers[pool.key]?.first(where: \.isIdle) {
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
                // The process starts only once the unit's start is committed (SPEC §10).
                let item: JSON = job.itemized ? items[0] : .null
                turn.afterCommit.append { [unowned self] in
                    guard self.localRuns[run.id] != nil else { return }
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
    private func failToStart(_ run: LocalRun, _ error: Error) {
        finish(run) { index in .unitFailed(index: index, error: JobError(message: "cannot start: \(error)"), retryable: false) }
    }

    // MARK: Exec handlers (SPEC §5.1)

    private func spawnHandler(_ run: LocalRun, job: Job, jobJSON: JSON, item: JSON) throws {
        var argv: [String]
        var cwd: String?
        var env = Kernel.environment()
        switch run.type.handler {
        case .command(let a):
            argv = a
        case .builtinCommand:
            // Checked at enqueue (SPEC §10); a job stored before that check is refused, not run without its non-strings.
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
                                  stdin: .pipe, stdout: .pipe, stderr: .pipe, supervisor: supervisorPath,
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
    private func handleOutput(of run: LocalRun) {
        guard localRuns[run.id] === run else {
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

    private func handlerStdout(_ run: LocalRun, _ line: String) {
        guard !line.isEmpty else { return }
        if line.first == "{", case .object(let o)? = try? JSONParser.parse(line) {
            if case .object(let p)? = o["progress"] {
                _ = try? reportProgress(run.jobID, current: p["current"]?.doubleValue, total: p["total"]?.doubleValue,
                               phase: p["phase"]?.stringValue, message: p["message"]?.stringValue,
                               item: run.type.mode == .internal && active[run.jobID]?.itemized == true ? run.indices.first : nil)
                return
            }
            if let message = o["log"]?.stringValue {
                handlerLog(run, level: "info", message)
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

    private func handlerLog(_ run: LocalRun, level: String, _ message: String) {
        guard let job = active[run.jobID] else { return }
        _ = try? appendLog(job, level: level, message: message)
    }

    private func handlerExited(_ run: LocalRun, status: Int64, signal: Int32) {
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

    // MARK: Persistent workers (SPEC §5.2)

    func spawnWorker(poolKey: String, argv: [String]) {
        let worker = WorkerProcess(id: nextWorkerID, poolKey: poolKey, argv: argv)
        nextWorkerID += 1
        workers[poolKey, default: []].append(worker)
        launch(worker)
    }

    private func launch(_ worker: WorkerProcess) {
        worker.restartPending = false
        var env = Kernel.environment()
        if let socketPath { env["JOBKERNEL_SOCKET"] = socketPath }
        do {
            let process = try Process(loop: loop, argv: worker.argv, env: env, cwd: nil,
                                      stdin: .pipe, stdout: .pipe, stderr: .pipe, supervisor: supervisorPath,
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
    private func handleWorkerOutput(_ worker: WorkerProcess) {
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
    private func send(_ run: LocalRun, to worker: WorkerProcess, params: JSON, unheld: Bool) {
        guard let conn = worker.connection else { return }
        run.worker = worker
        run.sentUnheld = unheld
        worker.run = run
        nextRequestID += 1
        worker.runRequestID = nextRequestID
        conn.currentJobID = run.jobID
        // `{"jsonrpc":"2.0","id":N,"method":"run","params":…}` written around the params' bytes.
        var b = ByteWriter(capacity: 960)  // the job object and a few members
        b.append(#"{"jsonrpc":"2.0","id":"#)
        JSONWriter.writeInt(nextRequestID, into: &b)
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
    private func worker(_ id: UInt64) -> WorkerProcess? {
        for pool in workers.values {
            if let w = pool.first(where: { $0.id == id }) { return w }
        }
        return nil
    }

    /// The worker protocol's `cancel` notification for the unit `run` holds (SPEC §5.2).
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
            typesToPump.formUnion(localTypeNames)
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

    /// Reads a worker's answer to `run` (SPEC §5.2): `{"items":[{index, status, result?, error?}]}`
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

    private func workerExited(_ worker: WorkerProcess, status: Int64, signal: Int32) {
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
            workers[worker.poolKey]?.removeAll { $0 === worker }
            finishShutdownIfIdle()
        } else {
            scheduleRestart(worker)
        }
    }

    /// Restarts an exited worker after a backoff that grows with each restart in a row.
    private func scheduleRestart(_ worker: WorkerProcess) {
        worker.restartPending = true
        let delay = min(Int64(250) << min(worker.restarts, 7), 30_000)
        worker.restarts += 1
        addDeadline(at: now + delay, .workerRestart(worker.id))
    }

    func restartWorker(_ id: UInt64) {
        guard !shuttingDown else { return }
        if let w = worker(id), w.process == nil { launch(w) }
        typesToPump.formUnion(localTypeNames)
    }

    // MARK: Ending runs

    /// Ends a run: every unit gets the event `outcome` gives it, unless the run was stopped, in
    /// which case the reason decides (cancel → stopped, shutdown → interrupted, timeout → failed
    /// retryably, stale → lost).
    private func finish(_ run: LocalRun, outcome: (Int) -> JobEvent) {
        run.pacer?.close()
        run.pacer = nil
        run.graceTimer?.close()
        run.graceTimer = nil
        guard localRuns.remove(run.id) != nil else { return }
        // A sync_api batch retries as the same batch (SPEC §5.3): its units wait out one backoff,
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
                event = .unitFailed(index: i, error: JobError(message: "timed out after \(s)s"), retryable: true)
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
            guard self.localRuns[run.id] != nil else { return }
            if run.stopping == nil || reason == .shutdown { run.stopping = reason }
            self.signalStop(run)
        }
    }

    /// Sends a stopping run's process (or worker) the signal its stop reason calls for.
    private func signalStop(_ run: LocalRun) {
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
        guard let run = localRuns[id] else { return }
        if let process = run.process {
            process.signalGroup(SIGKILL)
        } else if let worker = run.worker {
            worker.process?.signalGroup(SIGKILL)
        }
    }

    func runTimedOut(_ id: UInt64) {
        guard let run = localRuns[id], run.stopping == nil else { return }
        handlerLog(run, level: "error", "timed out after \(Double(run.timeoutMs ?? 0) / 1000)s: stopping the unit")
        stop(run, .timeout)
    }

    /// Stops the local runs of a job that is being cancelled.
    func stopLocalRuns(ofJob jobID: Int64) {
        for run in localRuns.runs(ofJob: jobID) {
            stop(run, .cancel)
        }
    }

    /// A worker silent for `stale_after` is presumed lost (SPEC §8.2).
    func checkStale() {
        let t = now
        for run in localRuns.all where run.worker != nil && run.stopping == nil {
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
        for run in localRuns.all { stop(run, .shutdown) }
        for pool in workers.values {
            for w in pool where w.run == nil { w.process?.signalGroup(SIGTERM) }
        }
        for pool in workers.values {
            for w in pool where w.process == nil { workers[w.poolKey]?.removeAll { $0 === w } }
        }
    }

    var localIsIdle: Bool {
        localRuns.isEmpty && workers.values.allSatisfy { $0.allSatisfy { $0.process == nil } }
    }

    /// Kills what did not stop in time; their units are recorded as interrupted.
    func killLocalForShutdown() {
        for run in Array(localRuns.all) {
            run.process?.signalGroup(SIGKILL)
            run.worker?.process?.signalGroup(SIGKILL)
            run.stopping = .shutdown
            finish(run) { i in .unitInterrupted(index: i) }
        }
        for pool in workers.values { for w in pool { w.process?.signalGroup(SIGKILL) } }
    }
}

import Glibc
import JobKernelCore
import JobKernelIO
import JobKernelNATS
import JobKernelStore

/// The kernel: keeps state, speaks the protocol, schedules. One instance per process, driven by
/// one libuv loop on one thread.
///
/// Every change a request makes goes into the turn's open transaction; at the end of each loop
/// turn the kernel commits once and only then writes the turn's responses and 
public final class Kernel {
    let loop: EventLoop
    let config: KernelConfig
    /// The store itself; read it through `store`, which first waits for the writes in flight.
    let storage: JobStore
    /// Commits batches of writes on its own thread (`Kernel+Writes.swift`).
    var writer: StoreWriter!
    var writerSignal: AsyncSignal?
    var writes = WritePipeline()
    /// The id the next job gets.
    var nextJobID: Int64 = 1
    let socketPath: String?
    let startedAt: Millis

    /// Running jobs, by id. Every other job lives only in the store.
    var active = OpenJobs()
    /// Jobs just enqueued, kept for the lease that usually follows (`FreshJobs`).
    var fresh = FreshJobs()
    /// Jobs that have children: only these need their `children` counts queried.
    var parents: Set<Int64> = []
    /// Jobs by status, counted at start-up and kept up to date after that.
    var statusCounts = StatusCounts()
    /// Jobs whose last `job.progress` is under 50 ms old, and whether a report waits for the end.
    enum ProgressWindow { case open, pending(item: Int?) }
    var progressWindows: [Int64: ProgressWindow] = [:]
    /// The backoff jitter's source: cheap, and seeded once (no syscall per transition).
    private var rng = Xorshift(seed: UInt64(Kernel.wallClock()) | 1)
    var queues = UnitQueues()
    /// What this turn did that only its commit makes real.
    var turn = TurnJournal()
    /// A commit failed and none has succeeded since (logged once per fault).
    var storeFaulted = false
    /// Types whose queues gained units this turn: waiting fetches are served at the turn's end.
    var typesToPump: Set<String> = []

    /// The `[[schedules]]` entries and their slots.
    let schedules: Schedules
    var deadlines = Deadlines()
    private var deadlineTimer: LoopTimer!
    private var armedAt: Millis?

    var connections: [UInt64: Connection] = [:]
    private var nextConnectionID: UInt64 = 1
    var dirty: [Connection] = []

    /// The seq, the subscriptions and their replays (`EventLog`).
    var events = EventLog()
    /// Leases and waiting fetches (`Broker`).
    var broker = Broker()

    /// `workflow.<name>` → value; declared by the config, overridden by `settings.set`. Also
    /// `paused.<type>` / `paused.*` (SPEC §8.7).
    var settings: JSONObject = [:]
    /// Removals, retention and vacuum under way; recent finishes for `stats` (SPEC §13).
    var ops = Operations()

    /// Local pools: the runs, and persistent workers by pool.
    var localRuns: LocalRuns
    var nextRunID: UInt64 = 1
    var workers: [String: [WorkerProcess]] = [:]
    var nextWorkerID: UInt64 = 1
    var nextRequestID = 0
    /// Types the kernel runs itself (internal and sync_api), by name.
    let localTypes: [LocalType]
    var localTypeNames: [String] { localTypes.map(\.name) }
    /// Some type runs only while workflow toggles are on (`requires`, SPEC §8.3).
    let typesRequireToggles: Bool
    /// This binary, for the sync_api workers, and the supervisor every process is spawned through.
    let selfExecutable: String
    let supervisorPath: String?

    /// The JetStream bridge when `[broker] kind = "nats"`, and the results waiting for the
    /// turn's commit before they are acknowledged.
    var nats: NATSBridge?
    var natsAcks: [() -> Void] = []

    var shuttingDown = false
    /// Set by `shutdown`: requests after it get -32007 while the shutdown begins.
    var refusingRequests = false
    private var shutdownFinished = false
    var exitCode: Int32 = 0
    private var hooks: [LoopHook] = []
    private var server: UnixSocketServer?
    private var signalWatchers: [SignalWatcher] = []
    private var lastPrune: Millis = 0

    public init(loop: EventLoop, config: KernelConfig, store: JobStore, socketPath: String?) throws {
        self.loop = loop
        self.config = config
        self.storage = store
        self.socketPath = socketPath
        self.startedAt = Kernel.wallClock()
        self.typesRequireToggles = config.types.values.contains { !$0.requires.isEmpty }
        self.schedules = Schedules(config.schedules)
        let selfExecutable = Kernel.executablePath()
        self.selfExecutable = selfExecutable
        self.localTypes = config.types.values.filter { $0.mode != .asyncAPI }.sorted { $0.name < $1.name }
            .enumerated().map { LocalType($1, index: $0, pools: config.pools, selfExecutable: selfExecutable) }
        self.localRuns = LocalRuns(typeCount: localTypes.count)
        let supervisor = Process.supervisorPath(nextTo: selfExecutable)
        self.supervisorPath = access(supervisor, X_OK) == 0 ? supervisor : nil
        if supervisorPath == nil {
            KernelMain.log("warning: \(supervisor) is missing: handlers will not be killed if the kernel dies")
        }
        deadlineTimer = LoopTimer(loop: loop)
        for phase in [LoopHook.Phase.prepare, .check] {
            let hook = LoopHook(loop: loop, phase: phase) { [unowned self] in self.endTurn() }
            hook.unref()
            hooks.append(hook)
        }
        // The writer's wake-up only needs to make the loop turn: the turn's end takes the outcome.
        let signal = try AsyncSignal(loop: loop) {}
        signal.unref()
        writerSignal = signal
        let sender = signal.sender
        writer = StoreWriter(store: store, wake: { sender.send() })
        writer.start()
        try recover()
        startOperations()
    }

    // MARK: Clock

    static func wallClock() -> Millis {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Millis(ts.tv_sec) * 1000 + Millis(ts.tv_nsec / 1_000_000) + clockOffsetMs
    }

    /// A test aid: `JOBKERNEL_CLOCK_OFFSET_MS` shifts the kernel's wall clock (to run a cron
    /// schedule across a DST change in a black-box test). Read once; 0 when unset.
    static let clockOffsetMs: Millis = getenv("JOBKERNEL_CLOCK_OFFSET_MS").flatMap { Millis(String(cString: $0)) } ?? 0

    var now: Millis { Kernel.wallClock() }

    /// A small PRNG for backoff jitter; not for anything that must be unpredictable.
    struct Xorshift {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func nextUnit() -> Double {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Double(state >> 11) / Double(1 << 53)
        }
    }

    func reducerContext(backoffUntil: Millis? = nil) -> ReducerContext {
        ReducerContext(now: now, backoffBaseMs: config.pipeline.backoffBaseMs,
                       backoffMaxMs: config.pipeline.backoffMaxMs, jitter: rng.nextUnit(), backoffUntil: backoffUntil)
    }

    // MARK: Start-up

    /// Rebuilds the in-memory state from the store: open jobs, ready queues, timers. Units that
    /// were running when the previous kernel died are requeued with their attempt counted.
    private func recover() throws {
        try loadStoredState()
        for unit in try store.units(jobID: nil, status: .running) {
            do {
                try apply(unit.jobID, unit: unit.index, .unitLost(index: unit.index, reason: "the kernel stopped while the unit ran"))
            } catch let e as DatabaseError where e.isStoreFault {
                break  // the commit below fails and undoes this; the orphan check retries it
            }
        }
        try queueStoredUnits()
        addDeadline(at: now + max(config.pipeline.heartbeatMs, 100), .staleCheck)
        // On a full disk the kernel still starts: it serves reads and answers writes -32007.
        commitTurn()
    }

    /// Reads what the store holds of the kernel's state: the event seq, running jobs, parents and
    /// settings.
    func loadStoredState() throws {
        events.restored(lastSeq: try store.latestEventSeq())
        nextJobID = try store.maxJobID() + 1
        parents = try store.parentIDs()
        settings = [:]
        for (name, value) in config.workflow.names.map({ ($0, config.workflow[$0] ?? false) }) {
            settings["workflow.\(name)"] = .bool(value)
        }
        for (key, value) in try store.settings() {
            settings[key] = value
        }
        refreshPaused()
        active = OpenJobs()
        fresh.removeAll()
        for job in try store.runningJobs() { active[job.id] = job }
    }

    /// Queues the stored pending units, counts jobs by status and arms the stored times:
    /// backoffs, `run_at`, schedules.
    ///
    /// Pending jobs stay in the store: the queues hold a few words per ready unit, and a job is
    /// read whole only when one of its units is dispatched (a million pending jobs start fast and
    /// cost little memory). A pending job without items and with no backoff under way has its one
    /// unit ready: no unit row is read for it.
    func queueStoredUnits() throws {
        let t = now
        var others: [JobStore.OpenJobSummary] = []
        var ready: [String: [QueuedUnit]] = [:]
        var counts = StatusCounts()
        for (status, n) in try store.terminalStatusCounts() {
            if let status = JobStatus(rawValue: status) { counts[status] = n }
        }
        ops.openByType = [:]
        // Counted and queued a type at a time (rows of one type mostly come together): a lookup
        // by type per change of type, not per job.
        var type: String?
        var typeCounts = StatusCounts()
        var typeReady: [QueuedUnit] = []
        func endType() {
            guard let type else { return }
            ops.addOpen(type: type, typeCounts)
            typeCounts = StatusCounts()
            guard !typeReady.isEmpty else { return }
            // Handed over, not copied: a million queued units are 24 MB.
            if ready[type] == nil { ready[type] = typeReady } else { ready[type]! += typeReady }
            typeReady = []
        }
        try store.forEachOpenJob { job in
            if job.type != type {
                endType()
                type = job.type
            }
            counts[job.status] += 1
            typeCounts[job.status] += 1
            if job.status == .scheduled, let at = job.runAt { addDeadline(at: at, .runAt(jobID: job.id)) }
            if !job.itemized && job.status == .pending && job.waiting == 0 {
                typeReady.append(QueuedUnit(priority: job.priority, jobID: job.id, index: 0))
            } else {
                others.append(job)
            }
        }
        endType()
        for (type, units) in ready {
            queues.push(type: type, contentsOf: units)
            typesToPump.insert(type)
        }
        statusCounts = counts
        for job in others {
            for unit in try store.units(jobID: job.id, status: .pending) {
                if let at = unit.runAt {
                    addDeadline(at: at, .backoff(jobID: job.id, index: unit.index))
                } else if job.status != .scheduled || (job.runAt ?? 0) <= t {
                    enqueueReady(type: job.type, priority: job.priority, jobID: job.id, index: unit.index)
                }
            }
        }
        // Schedules run at the next turn's start, like any deadline, so a slot is enqueued in a
        // turn that commits or fails as a whole.
        for i in schedules.entries.indices { addDeadline(at: t, .schedule(i)) }
    }

    // MARK: Serving

    /// Serves the Unix socket at `path`, or the listening socket `inheritedFD` that a service
    /// manager bound there (socket activation).
    public func listen(path: String, mode: mode_t, inheritedFD: Int32? = nil) throws {
        let server: UnixSocketServer
        if let fd = inheritedFD {
            server = try UnixSocketServer(loop: loop, inheritedFD: fd, path: path)
        } else {
            server = try UnixSocketServer(loop: loop, path: path, mode: mode)
        }
        server.onConnection = { [unowned self] stream in self.accept(stream) }
        self.server = server
    }

    /// Serves one client on stdin/stdout; the kernel shuts down when stdin closes.
    public func serveStdio() throws {
        serve(try Stdio(loop: loop), kind: .stdio)
    }

    /// Installs SIGTERM and SIGINT handlers for a graceful shutdown.
    public func handleSignals() {
        for sig in [SIGTERM, SIGINT] {
            guard let w = try? SignalWatcher(loop: loop, signal: sig, { [unowned self] in self.shutdown() }) else { continue }
            w.unref()
            signalWatchers.append(w)
        }
    }

    /// Runs until shutdown. Returns the process exit code.
    public func run() -> Int32 {
        loop.run()
        return exitCode
    }

    private func accept(_ stream: Stream) {
        if let uid = stream.peerUID, uid != getuid(), uid != 0, !config.security.allowUIDs.contains(uid) {
            stream.close()
            return
        }
        serve(stream, kind: .socket)
    }

    @discardableResult
    func serve(_ channel: DuplexStream, kind: Connection.Kind) -> Connection {
        let conn = Connection(id: nextConnectionID, kind: kind, channel: channel,
                              maxMessageBytes: config.limits.maxMessageBytes)
        nextConnectionID += 1
        connections[conn.id] = conn
        channel.onRead = { [unowned self, unowned conn] bytes in self.received(bytes, on: conn) }
        channel.onEOF = { [unowned self, unowned conn] in self.receivedEOF(on: conn) }
        channel.onClose = { [unowned self, unowned conn] in self.closed(conn) }
        channel.startReading()
        return conn
    }

    static func executablePath() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        return n > 0 ? String(cString: buf) : CommandLine.arguments[0]
    }

    private func received(_ bytes: UnsafeRawBufferPointer, on conn: Connection) {
        conn.feed(bytes)
        while let frame = conn.nextFrame() { handle(frame, on: conn) }
    }

    private func receivedEOF(on conn: Connection) {
        if let frame = conn.finalFrame() { handle(frame, on: conn) }
        conn.readEOF = true
        markDirty(conn)
    }

    private func closed(_ conn: Connection) {
        guard !conn.isClosed else { return }
        conn.isClosed = true
        connections[conn.id] = nil
        events.connectionClosed(conn.id)
        for lease in broker.connectionClosed(conn.id) {
            try? apply(lease.jobID, unit: lease.index, .unitLost(index: lease.index, reason: "lease expired"))
        }
        if conn.kind == .stdio { shutdown() }
    }

    /// Queues the connection for this turn's flush, once however many messages it got.
    func markDirty(_ conn: Connection) {
        guard !conn.awaitingFlush else { return }
        conn.awaitingFlush = true
        dirty.append(conn)
    }

    // MARK: The end of a loop turn

    /// Commits the turn's writes, then writes out what the turn produced.
    private func endTurn() {
        runDueDeadlines()
        pump()
        let t = now
        if t - lastPrune > 60_000 {
            lastPrune = t
            try? store.pruneEvents(olderThan: t - config.limits.eventRetentionMs)
        }
        // Replays read the store, and what they send goes with the turn's commit.
        if !events.replaying.isEmpty { continueReplays() }
        commitTurn()
        if !natsAcks.isEmpty { ackCommittedResults() }
        guard !dirty.isEmpty else { return }
        let conns = dirty
        dirty.removeAll(keepingCapacity: true)
        for conn in conns {
            conn.awaitingFlush = false
            guard !conn.isClosed else { continue }
            conn.flush()
            if conn.readEOF && conn.outstanding == 0 && conn.isDrained {
                conn.readEOF = false
                conn.channel.shutdownWrite { [weak conn] in conn?.channel.close() }
            }
        }
    }

    // MARK: Deadlines

    func addDeadline(at: Millis, _ action: Deadline.Action) {
        deadlines.add(at: at, action)
        armDeadlineTimer()
    }

    private func armDeadlineTimer() {
        guard let next = deadlines.earliest else { return }
        if let armedAt, armedAt <= next { return }
        armedAt = next
        let delay = max(0, next - now)
        deadlineTimer.start(afterMs: UInt64(delay)) { [unowned self] in
            self.armedAt = nil
            self.runDueDeadlines()
            self.armDeadlineTimer()
        }
    }

    private func runDueDeadlines() {
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
            case .natsRetry:
                publishToNATS()
            case .progressWindowEnd(let jobID):
                progressWindowEnded(jobID)
            case .orphanCheck:
                requeueOrphans()
            }
        }
    }

    /// Hands ready units to waiting fetches and to the local pools, until nothing more moves.
    func pump() {
        var rounds = 0
        repeat {
            if nats != nil && !typesToPump.isEmpty { publishToNATS() }
            if !typesToPump.isEmpty { pumpWaiters() }
            pumpLocal()
            rounds += 1
        } while !typesToPump.isEmpty && rounds < 8
    }

    // MARK: Shutdown

    /// Graceful shutdown (SPEC §11): stop accepting, SIGTERM running units (SIGKILL after
    /// `cancel_grace`), record them as interrupted so the next start reruns them without counting
    /// an attempt, commit, remove the socket, exit 0.
    public func shutdown() {
        guard !shuttingDown else { return }
        shuttingDown = true
        server?.close()
        server = nil
        let (leases, waiters) = broker.shutDown()
        for lease in leases {
            try? apply(lease.jobID, unit: lease.index, .unitInterrupted(index: lease.index))
        }
        for waiter in waiters { answerWaiter(waiter, leases: []) }
        stopLocalForShutdown()
        if localIsIdle {
            finishShutdown()
        } else {
            let grace = LoopTimer(loop: loop)
            grace.unref()
            grace.start(afterMs: UInt64(config.pipeline.cancelGraceMs + 500)) { [unowned self] in
                self.killLocalForShutdown()
                self.finishShutdown()
            }
        }
    }

    func finishShutdownIfIdle() {
        if shuttingDown && localIsIdle { finishShutdown() }
    }

    private func finishShutdown() {
        guard !shutdownFinished else { return }
        shutdownFinished = true
        sync()  // the last writes commit on this thread, before anything is closed
        commitTurn()
        writer.stop()
        writerSignal?.close()
        writerSignal = nil
        ackCommittedResults()
        nats?.close()
        nats = nil
        for conn in connections.values {
            conn.flush()
            conn.channel.shutdownWrite { [weak conn] in conn?.channel.close() }
        }
        for w in signalWatchers { w.close() }
        signalWatchers.removeAll()
        // The shutdown is under way and bounded: a second SIGTERM must not cut it short.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        deadlineTimer.close()
        for h in hooks { h.close() }
        hooks.removeAll()
        // Peers that never read their last bytes must not hold the process up.
        let guardTimer = LoopTimer(loop: loop)
        guardTimer.unref()
        guardTimer.start(afterMs: 2000) { [unowned self] in
            for conn in self.connections.values { conn.channel.close() }
            self.loop.stop()
        }
    }
}

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
    var queues = UnitQueues(window: Kernel.queueWindow)
    /// What this turn did that only its commit makes real.
    var turn = TurnJournal()
    /// A commit failed and none has succeeded since (logged once per fault).
    var storeFaulted = false
    /// Types whose queues gained units this turn: waiting fetches are served at the turn's end.
    var typesToPump: Set<String> = []

    /// The `[[schedules]]` entries and their slots.
    let schedules: Schedules
    var deadlines = Deadlines()
    var deadlineTimer: LoopTimer!

    var connections = Connections()

    /// The seq, the subscriptions and their replays (`EventLog`).
    var events = EventLog<Connection>(head: Kernel.eventHead(subscription:))
    /// Leases and waiting fetches (`Broker`).
    var broker = Broker()

    /// `workflow.<name>` → value; declared by the config, overridden by `settings.set`. Also
    /// `paused.<type>` / `paused.*` (docs/promises.md §8.7).
    var settings: JSONObject = [:]
    /// Removals, retention and vacuum under way; recent finishes for `stats` (docs/promises.md §13).
    var ops = Operations()
    /// The last hour's samples for `stats.history`, and the timer that takes them (`Kernel+Stats.swift`).
    var history = StatsHistory(intervalMs: Kernel.statsIntervalMs)
    var historyTimer: LoopTimer?

    /// The local pools: their types, runs and workers.
    var localPools: LocalPools
    /// Some type runs only while workflow toggles are on (`requires`, docs/promises.md §8.3).
    let typesRequireToggles: Bool

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
    var server: UnixSocketServer?
    var signalWatchers: [SignalWatcher] = []
    private var lastPrune: Millis = 0

    /// `schedules`: the config's schedules with their time zones read, when the caller already
    /// checked them (`Kernel.schedules(of:)`); else they are read here.
    init(loop: EventLoop, config: KernelConfig, store: JobStore, socketPath: String?, schedules: Schedules? = nil) throws {
        self.loop = loop
        self.config = config
        self.storage = store
        self.socketPath = socketPath
        self.startedAt = Kernel.wallClock()
        self.typesRequireToggles = config.types.values.contains { !$0.requires.isEmpty }
        self.schedules = schedules ?? Schedules(config.schedules)
        let selfExecutable = Kernel.executablePath()
        let supervisor = Process.supervisorPath(nextTo: selfExecutable)
        let supervisorPath = access(supervisor, X_OK) == 0 ? supervisor : nil
        self.localPools = LocalPools(config, selfExecutable: selfExecutable, supervisorPath: supervisorPath)
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
        startStatsHistory()
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
    /// A test aid: `JOBKERNEL_QUEUE_WINDOW` sets how many pending jobs of a type a queue reads
    /// from the store at a time (16 to 1048576; else 65,536), so that a black-box test can cross
    /// a window's edge with a few hundred jobs.
    static let queueWindow: Int = getenv("JOBKERNEL_QUEUE_WINDOW")
        .flatMap { Int(String(cString: $0)) }.flatMap { (16...1_048_576).contains($0) ? $0 : nil } ?? UnitQueues.defaultWindow

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
        for conn in connections.takeDirty() {
            guard !conn.isClosed else { continue }
            conn.flush()
            if conn.readEOF && conn.outstanding == 0 && conn.isDrained {
                conn.readEOF = false
                conn.channel.shutdownWrite { [weak conn] in conn?.channel.close() }
            }
        }
    }

    /// Hands ready units to waiting fetches and to the local pools, until nothing more moves.
    func pump() {
        var rounds = 0
        repeat {
            if !queues.lowTypes.isEmpty { refillQueues() }
            if nats != nil && !typesToPump.isEmpty { publishToNATS() }
            if !typesToPump.isEmpty { pumpWaiters() }
            pumpLocal()
            rounds += 1
        } while !typesToPump.isEmpty && rounds < 8
    }

    // MARK: Shutdown

    /// Graceful shutdown (docs/promises.md §11): stop accepting, SIGTERM running units (SIGKILL after
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
        if localPools.isIdle {
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
        if shuttingDown && localPools.isIdle { finishShutdown() }
    }

    private func finishShutdown() {
        guard !shutdownFinished else { return }
        shutdownFinished = true
        sync()  // the last writes commit on this thread, before anything is closed
        commitTurn()
        recordCleanStop()
        writer.stop()
        writerSignal?.close()
        writerSignal = nil
        ackCommittedResults()
        nats?.close()
        nats = nil
        for conn in connections.all {
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
            for conn in self.connections.all { conn.channel.close() }
            self.loop.stop()
        }
    }
}

import ArgumentParser
import Glibc
import JobKernelClient
import JobKernelCore
import JobKernelIO

/// Set by SIGINT/SIGTERM; the watch loop polls it (it never waits long) and leaves cleanly.
/// `nonisolated(unsafe)`: a `sig_atomic_t` written only by the signal handler and read only by
/// the one thread that runs the loop, as C allows for signal handlers.
nonisolated(unsafe) private var watchInterrupted: sig_atomic_t = 0

/// `jobkernel watch`: a live view of running and recent jobs.
///
/// It survives a kernel restart: when the connection is lost it says "reconnecting", tries again
/// until a kernel answers at the socket, and resubscribes with `since` = the last seq it saw, so
/// it carries on with no event missed and none twice (docs/promises.md §7).
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch jobs live until Ctrl-C.",
        discussion: """
            On a terminal: a table of running, waiting and recent jobs with progress bars, phase, \
            rate and ETA, redrawn in place; in a waiting job's PROGRESS cell, why it waits: \
            `(#3 in queue)`, `(paused)`, `(after 12)`, `(until 12:30)`. Otherwise (or with --json): one line per event, \
            `ts seq kind job_id detail` (--json: the event's params as JSON). When the kernel \
            restarts, watch says "reconnecting" and carries on from the last event it saw.
            """)

    @OptionGroup var client: ClientOptions

    @Flag(help: "Print every event as one line of JSON.")
    var json = false

    /// How often a lost kernel is tried again.
    static let retryMs = 250

    func run() throws {
        var kernel: KernelClient
        do {
            kernel = try KernelClient(socketPath: client.socketPath)
        } catch {
            throw ClientOptions.report(error)
        }
        WatchCommand.onInterrupt()
        let screen = json || !Output.stdoutIsTerminal ? nil : LiveScreen(title: "jobkernel watch  \(client.socketPath)")
        screen?.enter()
        defer { screen?.leave() }
        var lastSeq: Int?
        while watchInterrupted == 0 {
            guard let lost = follow(kernel, lastSeq: &lastSeq, screen: screen) else { continue }
            guard WatchCommand.isConnectionLost(lost) else { throw ClientOptions.report(lost) }
            kernel.close()
            guard let next = reconnect(after: lost, lastSeq: lastSeq, screen: screen) else { return }
            kernel = next
        }
    }

    /// Subscribes (from `lastSeq` when resuming) and shows events until interrupted (nil) or an
    /// error (the connection lost, most likely). `lastSeq` is kept current.
    private func follow(_ kernel: KernelClient, lastSeq: inout Int?, screen: LiveScreen?) -> ClientError? {
        do {
            try show(kernel, lastSeq: &lastSeq, screen: screen)
            return nil
        } catch {
            return error
        }
    }

    private func show(_ kernel: KernelClient, lastSeq: inout Int?, screen: LiveScreen?) throws(ClientError) {
        var subscription = try subscribe(kernel, since: &lastSeq)
        if let screen {
            screen.view.seq = max(screen.view.seq, lastSeq ?? 0)
            try screen.load(kernel)
        }
        var lastStats: Int64 = 0
        while watchInterrupted == 0 {
            if let screen {
                let now = JobFormat.nowMs()
                if now - lastStats >= 2000 {
                    screen.view.counts = try kernel.call("stats", .object([:]))["jobs"]?.objectValue ?? [:]
                    try screen.refreshWaiting(kernel)
                    lastStats = now
                    screen.dirty = true
                }
                screen.drawIfDue(now: now)
            }
            let wait = screen.map { $0.dirty ? 100 : 250 } ?? 250
            guard let (method, params) = try kernel.nextNotification(timeoutMs: wait) else { continue }
            if method == "subscription.dropped", params["subscription"]?.stringValue == subscription {
                // fell behind: the kernel stopped queueing events for us; resume where we were
                lastSeq = params["last_seq"]?.intValue ?? lastSeq
                subscription = try subscribe(kernel, since: &lastSeq)
                continue
            }
            guard method == "event", let event = KernelEvent(params: params), event.subscription == subscription
            else { continue }
            if let last = lastSeq, event.seq <= last { continue }
            lastSeq = event.seq
            if let screen {
                screen.view.apply(event, nowMs: JobFormat.nowMs())
                screen.dirty = true
            } else if json {
                Output.json(params, pretty: false)
            } else {
                Output.line(WatchView.eventLine(event))
            }
        }
    }

    /// `subscribe`, with `since` when resuming; a `since` older than the kernel keeps (-32006)
    /// falls back to live events and says what was lost. Sets `since` to the subscribed seq the
    /// first time.
    private func subscribe(_ kernel: KernelClient, since: inout Int?) throws(ClientError) -> String {
        var subscribed: JSON
        do {
            subscribed = try kernel.subscribe(since: since)
        } catch {
            // -32006: the events after `since` are gone; -32602: `since` is above the latest seq
            // (a kernel on a fresh database answers at the socket now)
            guard case .rpc(let code, _, let data) = error, code == -32006 || (code == -32602 && since != nil)
            else { throw error }
            let oldest = data?["oldest_seq"]?.intValue.map { " (the oldest kept is \($0))" } ?? ""
            Output.error("the kernel no longer has the events after seq \(since ?? 0)\(oldest); carrying on with live events")
            subscribed = try kernel.subscribe()
            since = nil
        }
        guard let subscription = subscribed["subscription"]?.stringValue else {
            throw .protocolError("the subscribe result has no subscription")
        }
        if since == nil { since = subscribed["seq"]?.intValue }
        return subscription
    }

    /// Says "reconnecting" and tries the socket until a kernel answers; nil when interrupted.
    private func reconnect(after error: ClientError, lastSeq: Int?, screen: LiveScreen?) -> KernelClient? {
        let resume = lastSeq.map { "; will resume after seq \($0)" } ?? ""
        if let screen {
            screen.status = "reconnecting…"
            screen.dirty = true
        } else {
            Output.error("lost the kernel (\(error)); reconnecting to \(client.socketPath)\(resume)")
        }
        while watchInterrupted == 0 {
            if let kernel = try? KernelClient(socketPath: client.socketPath) {
                if let screen {
                    screen.status = nil
                    screen.dirty = true
                } else {
                    Output.error("reconnected to \(client.socketPath)" + (lastSeq.map { "; resuming after seq \($0)" } ?? ""))
                }
                return kernel
            }
            screen?.drawIfDue(now: JobFormat.nowMs())
            usleep(useconds_t(WatchCommand.retryMs * 1000))
        }
        return nil
    }

    /// The connection is gone (or the kernel is shutting down): worth reconnecting.
    static func isConnectionLost(_ error: ClientError) -> Bool {
        switch error {
        case .io, .noKernel: return true
        case .rpc(let code, _, _): return code == -32007
        case .protocolError: return false
        }
    }

    /// Ctrl-C and SIGTERM end the watch loop rather than the process, so the screen is restored.
    private static func onInterrupt() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in watchInterrupted = 1 }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
    }
}

/// The live table `watch` draws on a terminal's alternate screen.
final class LiveScreen {
    var view = WatchView()
    /// Redraw at the next chance.
    var dirty = true
    /// Shown after the title while not connected ("reconnecting…").
    var status: String?
    private let title: String
    private var lastDraw: Int64 = 0

    init(title: String) {
        self.title = title
    }

    func enter() {
        StandardStream.output.write("\u{1B}[?1049h\u{1B}[?25l")  // alternate screen, hidden cursor
    }

    func leave() {
        StandardStream.output.write("\u{1B}[?25h\u{1B}[?1049l")
    }

    /// Learns the running, waiting and recent jobs (on start and after a reconnect).
    func load(_ kernel: KernelClient) throws(ClientError) {
        let active = try kernel.list(status: ["running", "pending", "scheduled"], limit: 200)
        let recent = try kernel.list(limit: 50)
        for job in (recent["jobs"]?.arrayValue ?? []) + (active["jobs"]?.arrayValue ?? []) { view.learn(job) }
        dirty = true
    }

    /// Asks again why the waiting jobs wait: no event says that a job moved up the queue, or that
    /// its type was paused (`waiting` is only in `get` and `list`, docs/promises.md §13).
    func refreshWaiting(_ kernel: KernelClient) throws(ClientError) {
        let waiting = try kernel.list(status: ["pending", "scheduled"], limit: 200)
        for job in waiting["jobs"]?.arrayValue ?? [] { view.learn(job) }
    }

    /// Draws when something changed (at most every 100 ms) and at least once a second.
    func drawIfDue(now: Int64) {
        guard dirty && now - lastDraw >= 100 || now - lastDraw >= 1000 else { return }
        let size = Output.terminalSize() ?? (80, 24)
        let heading = status.map { "\(title)  \($0)" } ?? title
        let lines = view.render(width: size.columns, height: size.rows, nowMs: now, title: heading)
        StandardStream.output.write("\u{1B}[H" + lines.joined(separator: "\u{1B}[K\r\n") + "\u{1B}[K\u{1B}[J")
        lastDraw = now
        dirty = false
    }
}

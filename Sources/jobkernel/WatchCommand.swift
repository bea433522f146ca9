import ArgumentParser
import Glibc
import JobKernelClient
import JobKernelCore

/// Set by SIGINT/SIGTERM; the watch loop polls it (it never waits long) and leaves cleanly.
nonisolated(unsafe) private var watchInterrupted: sig_atomic_t = 0

/// `jobkernel watch`: a live view of running and recent jobs.
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch jobs live until Ctrl-C.",
        discussion: """
            On a terminal: a table of running, waiting and recent jobs with progress bars, phase, \
            rate and ETA, redrawn in place. Otherwise (or with --json): one line per event, \
            `ts seq kind job_id detail` (--json: the event's params as JSON).
            """)

    @OptionGroup var client: ClientOptions

    @Flag(help: "Print every event as one line of JSON.")
    var json = false

    func run() throws {
        try client.withClient { kernel in
            let subscribed = try kernel.subscribe()
            guard let subscription = subscribed["subscription"]?.stringValue else {
                throw ClientError.protocolError("the subscribe result has no subscription")
            }
            WatchCommand.onInterrupt()
            if json || !Output.stdoutIsTerminal {
                try streamLines(kernel, subscription: subscription)
            } else {
                try drawLive(kernel, subscription: subscription, seq: subscribed["seq"]?.intValue ?? 0)
            }
        }
    }

    private func streamLines(_ kernel: KernelClient, subscription: String) throws {
        while watchInterrupted == 0 {
            guard let (method, params) = try kernel.nextNotification(timeoutMs: 250) else { continue }
            guard method == "event", let event = KernelEvent(params: params), event.subscription == subscription
            else {
                if method == "subscription.dropped" { Output.error("fell behind; events after seq \(params["last_seq"]?.intValue ?? 0) were dropped") }
                continue
            }
            if json { Output.json(params, pretty: false) } else { Output.line(WatchView.eventLine(event)) }
        }
    }

    private func drawLive(_ kernel: KernelClient, subscription: String, seq: Int) throws {
        var view = WatchView()
        view.seq = seq
        let active = try kernel.list(status: ["running", "pending", "scheduled"], limit: 200)
        let recent = try kernel.list(limit: 50)
        for job in (recent["jobs"]?.arrayValue ?? []) + (active["jobs"]?.arrayValue ?? []) { view.learn(job) }

        fputs("\u{1B}[?1049h\u{1B}[?25l", stdout)  // alternate screen, hidden cursor
        defer {
            fputs("\u{1B}[?25h\u{1B}[?1049l", stdout)
            fflush(stdout)
        }
        let title = "jobkernel watch  \(client.socketPath)"
        var lastStats: Int64 = 0
        var lastDraw: Int64 = 0
        var dirty = true
        while watchInterrupted == 0 {
            let now = JobFormat.nowMs()
            if now - lastStats >= 2000 {
                let stats = try kernel.call("stats", .object([:]))
                view.counts = stats["jobs"]?.objectValue ?? [:]
                lastStats = now
                dirty = true
            }
            if dirty && now - lastDraw >= 100 || now - lastDraw >= 1000 {
                let size = Output.terminalSize() ?? (80, 24)
                let lines = view.render(width: size.columns, height: size.rows, nowMs: now, title: title)
                fputs("\u{1B}[H" + lines.joined(separator: "\u{1B}[K\r\n") + "\u{1B}[K\u{1B}[J", stdout)
                fflush(stdout)
                lastDraw = now
                dirty = false
            }
            let wait = dirty ? max(0, 100 - Int(now - lastDraw)) : 250
            guard let (method, params) = try kernel.nextNotification(timeoutMs: wait) else { continue }
            if method == "event", let event = KernelEvent(params: params), event.subscription == subscription {
                view.apply(event, nowMs: JobFormat.nowMs())
                dirty = true
            }
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

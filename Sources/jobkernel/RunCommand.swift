import ArgumentParser
import Glibc
import JobKernelClient
import JobKernelCore
import JobKernelIO
import Synchronization

/// `jobkernel run -- CMD ARGS…`: runs a command as a job of the built-in `command` type, in the
/// caller's directory and environment, and shows its output as it comes (docs/promises.md §1).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command as a job, show its output as it comes, exit with its exit code.",
        discussion: """
            The command runs as a job of the built-in `command` type, with this shell's working \
            directory and environment (the environment is stored with the job, like its command \
            line; --no-env leaves it out). Its stdout and stderr are shown as they come (each line as \
            the kernel logged it), and `run` exits with the command's exit code (124 when it ran \
            past --timeout, as timeout(1) does; 128+N when a signal N ended it; 1 when the job \
            ended otherwise, e.g. cancelled or skipped). It runs \
            once unless --max-attempts says otherwise. --detach enqueues it, prints the id and \
            returns at once. --follow also shows progress and status changes (on stderr) and time \
            stamps every line. With --json, the command's output goes to stderr and stdout gets the \
            final job. The command's stdin is the job object (as for every exec handler), not this \
            terminal. The job's label is its command line unless --label gives one. While the job \
            waits to start, `run` says why on stderr (e.g. "waiting: pool full, 3rd in line") and keeps \
            it current (one line redrawn on a terminal, else a line per change), then says once \
            that it started. \
            Ctrl-C stops watching (exit 130), not the job: it says whether the job stays pending or \
            keeps running, and how to cancel it. Put -- before the command so that its options are \
            not read as jobkernel's.
            """)

    @OptionGroup var client: ClientOptions
    @OptionGroup var job: JobOptions

    @Flag(help: "Wait for the job (the default; kept for scripts that say so).")
    var wait = false

    @Flag(help: "Like --wait, and show progress and status changes on stderr, with time-stamped log lines.")
    var follow = false

    @Flag(name: [.customShort("d"), .long], help: "Enqueue the job, print its id and return without waiting.")
    var detach = false

    @Flag(name: .customLong("no-env"), help: "Do not pass this shell's environment on (it is stored with the job); the command gets the kernel's.")
    var noEnv = false

    @Flag(help: "Print the job as JSON (with waiting: the final job, after the command's output on stderr).")
    var json = false

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The command and its arguments.", valueName: "command"))
    var command: [String] = []

    mutating func validate() throws {
        // Passthrough capture would take a help flag for the command: before `--` it asks for help.
        if let first = command.first, first == "--help" || first == "-h" { throw CleanExit.helpRequest(self) }
        if command.first == "--" { command.removeFirst() }
        if command.isEmpty { throw ValidationError("give the command to run after --, e.g. `jobkernel run -- make test`") }
        if detach && (wait || follow) { throw ValidationError("--detach does not go with --wait or --follow") }
    }

    func run() throws {
        var payload: JSONObject = ["argv": .array(command.map { .string($0) })]
        if let cwd = RunCommand.currentDirectory() { payload["cwd"] = .string(cwd) }
        if !noEnv {
            payload["env"] = .object(JSONObject(RunCommand.environment().map { ($0.key, JSON.string($0.value)) }))
        }
        let code: Int32 = try client.withClient { kernel in
            let created = try Enqueue.create(kernel, type: "command", payload: .object(payload), items: nil, job: job,
                                             defaultMaxAttempts: 1, defaultLabel: RunCommand.label(for: command))
            let id = created["id"]?.stringValue ?? "?"
            if detach {
                if json { Output.json(created) } else { Output.line(id) }
                return 0
            }
            return try RunCommand.attach(kernel, id: id, follow: follow, json: json)
        }
        if code != 0 { throw ExitCode(code) }
    }

    /// What Ctrl-C prints before `run` exits 130, by what the job is doing: it stays pending
    /// (or scheduled) until it starts, then keeps running, and how to stop it. Written from the
    /// signal handler, so they are ready-made bytes. `nonisolated(unsafe)`: set once on the main
    /// thread before the handler is installed, and only read after (by the handler).
    nonisolated(unsafe) static var interruptNotes: [UnsafeMutableBufferPointer<CChar>] = []
    /// Which of `interruptNotes` says what the job does now (`Phase`), as the events tell.
    static let phase = Atomic<Int>(Phase.pending.rawValue)

    enum Phase: Int, CaseIterable {
        case pending, scheduled, running

        /// The phase a status puts the job in (a finished job ends `run` before Ctrl-C matters).
        init(status: String?) {
            self = status == "pending" ? .pending : status == "scheduled" ? .scheduled : .running
        }

        var what: String {
            switch self {
            case .pending: "stays pending"
            case .scheduled: "stays scheduled"
            case .running: "keeps running"
            }
        }
    }

    /// On SIGINT: say what the job does now and how to cancel it, then exit 130.
    static func noteInterrupt(jobID: String) {
        interruptNotes = SignalNotes.prepare(Phase.allCases.map { phase in
            "\njobkernel: stopped watching; job \(jobID) \(phase.what) (`jobkernel cancel \(jobID)` stops it)\n"
        })
        signal(SIGINT) { _ in
            SignalNotes.write(RunCommand.interruptNotes, RunCommand.phase.load(ordering: .relaxed))
            _exit(130)
        }
    }

    /// While the job waits to start, says why on stderr ("waiting: pool full, 3rd in line", from
    /// `get`'s `waiting`, docs/promises.md §13) and keeps it current: the job is asked again when
    /// its status changes and every `waitPollMs` (its place in the queue moves with no event of
    /// its own). On a terminal one line is rewritten in place, else a line per change. When it
    /// starts after waiting, says so once. Records the job's phase for Ctrl-C's note.
    static func showWaiting(_ kernel: KernelClient, id: String) throws(ClientError) {
        var job = try kernel.get(id: id)
        phase.store(Phase(status: job["status"]?.stringValue).rawValue, ordering: .relaxed)
        guard isWaiting(job) else { return }
        var note = WaitingNote(jobID: id, inPlace: Output.stderrIsTerminal)
        let subscription = try kernel.subscribe(ids: [id], kinds: ["job.status"])["subscription"]?.stringValue
        while true {
            phase.store(Phase(status: job["status"]?.stringValue).rawValue, ordering: .relaxed)
            guard isWaiting(job) else { break }
            note.show(job["waiting"], now: JobFormat.nowMs())
            _ = try kernel.nextNotification(timeoutMs: waitPollMs)
            job = try kernel.get(id: id)
        }
        if let subscription { try kernel.unsubscribe(subscription) }
        note.ended(job)
    }

    /// How often a waiting job is asked again for why it waits.
    static let waitPollMs = 1000

    static func isWaiting(_ job: JSON) -> Bool {
        ["pending", "scheduled"].contains(job["status"]?.stringValue ?? "")
    }

    /// The "job N waiting: …" note on stderr while `run`'s job waits: rewritten in place on a
    /// terminal, else one line each time the reason changes; and once, when the wait ends.
    struct WaitingNote {
        let jobID: String
        let inPlace: Bool
        private var shown: JSON?
        private var lineShown = false

        init(jobID: String, inPlace: Bool) {
            self.jobID = jobID
            self.inPlace = inPlace
        }

        /// Shows `waiting` (the job object's) unless nothing would change: on a terminal the
        /// line is redrawn each time (a delay's countdown moves), elsewhere only a new reason.
        mutating func show(_ waiting: JSON?, now: Int64) {
            guard let why = JobFormat.waiting(waiting, now: now) else { return }
            let text = "jobkernel: job \(jobID) waiting: \(why)"
            if inPlace {
                let width = Output.terminalSize(STDERR_FILENO)?.columns ?? 80
                StandardStream.error.write("\r\u{1B}[K" + JobFormat.truncate(text, to: width - 1))
                lineShown = true
            } else if waiting != shown {
                Output.errorLine(text)
            }
            shown = waiting
        }

        /// The wait is over: says once that the job started (it may have ended already), or how
        /// it ended without starting, if a wait was shown.
        mutating func ended(_ job: JSON) {
            guard shown != nil else { return }
            if lineShown { StandardStream.error.write("\r\u{1B}[K") }
            lineShown = false
            let started = job["started_at"].map { !$0.isNull } ?? false
            Output.error("job \(jobID) " + (started ? "started" : "is \(job["status"]?.stringValue ?? "?")"))
        }
    }

    /// Shows the job's output until it ends; returns the exit code `run` exits with.
    static func attach(_ kernel: KernelClient, id: String, follow: Bool, json: Bool) throws -> Int32 {
        noteInterrupt(jobID: id)
        try showWaiting(kernel, id: id)
        let renderer = FollowRenderer(logsToStdout: !json)
        let final = try kernel.waitForJob(id: id, follow: true) { event in
            if event.kind == "job.status", let to = event.data["to"]?.stringValue {
                phase.store(Phase(status: to).rawValue, ordering: .relaxed)
            }
            if follow {
                renderer.show(event)
            } else if event.kind == "job.log" {
                // The command's own lines: stdout was logged at info, stderr at error.
                let message = event.data["message"]?.stringValue ?? ""
                if event.data["level"]?.stringValue == "error" || json {
                    Output.errorLine(message)
                } else {
                    Output.line(message)
                }
            }
        }
        renderer.clearProgress()
        if json { Output.json(final) }
        return exitCode(of: final)
    }

    /// The command's exit code as the job reports it: 0 on success, 124 when it ran past its
    /// timeout (as timeout(1) exits), the code it exited with, 128 + the signal that killed it,
    /// else 1 (cancelled, skipped, …).
    static func exitCode(of job: JSON) -> Int32 {
        let status = job["status"]?.stringValue
        if status == "success" { return 0 }
        let data = job["error"]?["data"]
        if status == "failed", data?["timeout_s"] != nil {
            Output.error("job \(job["id"]?.stringValue ?? "?") failed: \(job["error"]?["message"]?.stringValue ?? "timed out")")
            return 124
        }
        if let code = data?["exit_code"]?.intValue, (1...255).contains(code) { return Int32(code) }
        if let signal = data?["signal"]?.intValue, (1...127).contains(signal) { return Int32(128 + signal) }
        let message = job["error"]?["message"]?.stringValue
        Output.error("job \(job["id"]?.stringValue ?? "?") \(status ?? "?")" + (message.map { ": \($0)" } ?? ""))
        return 1
    }

    /// The label a job gets without --label: its command line, cut to the 200 bytes a label may
    /// have (docs/promises.md §13).
    static func label(for command: [String]) -> String {
        var line = JobFormat.commandLine(command)
        while line.utf8.count > 200 { line.removeLast() }
        return line
    }

    static func currentDirectory() -> String? {
        guard let path = getcwd(nil, 0) else { return nil }
        defer { free(path) }
        return String(cString: path)
    }

    /// The caller's environment, which the command gets (the kernel sets its JOBKERNEL_* names over it).
    static func environment() -> [(key: String, value: String)] {
        var out: [(key: String, value: String)] = []
        var p = environ
        while let entry = p.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                let key = String(text[..<eq])
                if !key.isEmpty { out.append((key, String(text[text.index(after: eq)...]))) }
            }
            p += 1
        }
        return out
    }
}

import ArgumentParser
import JobKernelClient
import JobKernelCore

/// `jobkernel logs ID [-f]`: a job's log.
struct LogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print a job's log as `ts level message` lines.",
        discussion: """
            With -f, keep printing new lines until the job is terminal, then exit like `run --follow`: \
            0 when it succeeded, else 1 with its status on stderr; with --timeout D, give up after D, \
            say that the job has not ended ("job 12 still running after 5s") and exit 124, as \
            timeout(1) does. --json prints one JSON object per line. \
            The kernel marks where each run after the first begins with a line `── attempt N ──` (and \
            `── retried ──` where `retry` started the job again).
            """)

    @OptionGroup var client: ClientOptions

    @Argument(help: "The job id.")
    var id: String

    @Flag(name: .shortAndLong, help: "Follow the log until the job is terminal; exit 1 unless it succeeded.")
    var follow = false

    @Flag(help: "Print each line as a JSON object {seq, ts, level, message}.")
    var json = false

    @Option(help: ArgumentHelp("With -f: give up after this long (e.g. 30s, 5m) and exit 124.", valueName: "duration"),
            transform: { try CLIDuration.seconds($0, "--timeout") })
    var timeout: Double?

    func validate() throws {
        if timeout != nil && !follow { throw ValidationError("--timeout bounds -f; it does not go without it") }
    }

    func run() throws {
        try client.withClient { kernel in
            if follow {
                if let timeout {
                    WaitTimeout.arm(seconds: timeout, ids: [id])
                    WaitTimeout.waiting(0, status: try kernel.get(id: id)["status"]?.stringValue)
                }
                let job = try kernel.waitForJob(id: id, follow: true) { event in
                    WaitTimeout.noteStatus(of: event, index: 0)
                    guard event.kind == "job.log" else { return }
                    show(seq: event.data["seq"], ts: event.ts, level: event.data["level"], message: event.data["message"])
                }
                // like `run --follow`: the job's end on stderr, and exit 1 unless it succeeded
                let status = job["status"]?.stringValue ?? "?"
                if status != "success" {
                    let message = job["error"]?["message"]?.stringValue
                    Output.error("job \(id) \(status)" + (message.map { ": \($0)" } ?? ""))
                    throw ExitCode.kernelError
                }
                return
            }
            var since = 0
            while true {
                let page = try kernel.logs(id: id, since: since, limit: 1000)
                for line in page["lines"]?.arrayValue ?? [] {
                    show(seq: line["seq"], ts: line["ts"]?.stringValue ?? "", level: line["level"], message: line["message"])
                }
                guard let next = page["next"]?.intValue else { break }
                since = next
            }
        }
    }

    private func show(seq: JSON?, ts: String, level: JSON?, message: JSON?) {
        if json {
            Output.json(
                ["seq": seq ?? .null, "ts": .string(ts), "level": level ?? "info", "message": message ?? ""],
                pretty: false)
        } else {
            Output.line(JobFormat.logLine(
                ts: ts, level: level?.stringValue ?? "info", message: message?.stringValue ?? ""))
        }
    }
}

import ArgumentParser
import JobKernelClient
import JobKernelCore

/// `jobkernel status [ID]`: a table of recent jobs, or one job.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show recent jobs, or one job.",
        discussion: """
            Without ID: a table of recent jobs, newest first (id, type, status with why a waiting \
            job waits, e.g. `pending (#3 in queue)` or `pending (paused)`, progress, attempt, \
            age, duration of the latest run, time since it finished, and the label: the job's \
            label, else a command job's command line, else a short payload summary), fitted to the terminal. --limit N shows the \
            newest N (a note on stderr says when more exist), --all every job. With ID: a summary \
            of that job, with why it waits in a sentence. --json prints the job, or {jobs, next_cursor} (next_cursor: where the \
            list stopped, null when nothing is left).
            """)

    @OptionGroup var client: ClientOptions

    @Argument(help: "A job id.")
    var id: String?

    @Option(name: .customLong("status"), help: ArgumentHelp(
        "List only jobs with this status (repeat or separate with commas).", valueName: "status"))
    var statuses: [String] = []

    @Option(name: .customLong("type"), help: ArgumentHelp(
        "List only jobs of this type (repeat or separate with commas).", valueName: "type"))
    var types: [String] = []

    @Option(help: ArgumentHelp("List at most this many jobs, newest first (default 20).", valueName: "n"))
    var limit = 20

    @Flag(help: "List every job (page by page).")
    var all = false

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if id != nil && (!statuses.isEmpty || !types.isEmpty) {
            throw ValidationError("--status and --type filter the list; they do not go with an ID")
        }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
        for status in StatusCommand.split(statuses) where JobStatus(rawValue: status) == nil {
            let known = JobStatus.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("'\(status)' is not a job status (\(known))")
        }
    }

    func run() throws {
        try client.withClient { kernel in
            if let id {
                let job = try kernel.get(id: id)
                if json {
                    Output.json(job)
                } else {
                    JobFormat.summary(job, now: JobFormat.nowMs()).forEach(Output.line)
                }
                return
            }
            let statusFilter = StatusCommand.split(statuses)
            let typeFilter = StatusCommand.split(types)
            var jobs: [JSON] = []
            var cursor: JSON = .null
            repeat {
                let want = all ? 1000 : min(1000, limit - jobs.count)
                let page = try kernel.list(
                    status: statusFilter.isEmpty ? nil : statusFilter, type: typeFilter.isEmpty ? nil : typeFilter,
                    limit: want, cursor: cursor)
                jobs += page["jobs"]?.arrayValue ?? []
                cursor = page["next_cursor"] ?? .null
            } while !cursor.isNull && (all || jobs.count < limit)
            if json {
                Output.json(["jobs": .array(jobs), "next_cursor": cursor])
                return
            }
            if !cursor.isNull {
                Output.error("showing the newest \(jobs.count) jobs; more exist: --limit N or --all")
            }
            if jobs.isEmpty {
                Output.line("no jobs")
                return
            }
            let width = Output.stdoutIsTerminal ? Output.terminalSize()?.columns : nil
            JobFormat.table(jobs, width: width, now: JobFormat.nowMs()).forEach(Output.line)
        }
    }

    static func split(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",").map { String($0) } }.filter { !$0.isEmpty }
    }
}

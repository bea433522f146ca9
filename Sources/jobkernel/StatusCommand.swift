import ArgumentParser
import JobKernelClient
import JobKernelCore

/// `jobkernel status [ID]`: a table of recent jobs, or one job.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show recent jobs, or one job.",
        discussion: """
            Without ID: a table of recent jobs, newest first (id, type, status, progress, attempt, \
            age), fitted to the terminal. With ID: a summary of that job. --json prints the job, or \
            the list result {jobs, next_cursor}.
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

    @Option(help: ArgumentHelp("List at most this many jobs (1…1000).", valueName: "n"))
    var limit = 20

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if id != nil && (!statuses.isEmpty || !types.isEmpty) {
            throw ValidationError("--status and --type filter the list; they do not go with an ID")
        }
        if !(1...1000).contains(limit) { throw ValidationError("--limit must be between 1 and 1000") }
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
            let page = try kernel.list(
                status: statusFilter.isEmpty ? nil : statusFilter, type: typeFilter.isEmpty ? nil : typeFilter,
                limit: limit)
            if json {
                Output.json(page)
                return
            }
            let jobs = page["jobs"]?.arrayValue ?? []
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

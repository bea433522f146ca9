import ArgumentParser
import JobKernelClient
import JobKernelCore

/// `jobkernel wait ID…`: blocks until every job is terminal.
struct WaitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until the jobs end; print `ID STATUS` for each; exit 0 only if all succeeded.",
        discussion: """
            --json prints each final job as a JSON line. --timeout D gives up after D: it says which \
            job has not ended ("job 12 still running after 5s") and exits 124, as timeout(1) does; \
            the jobs go on.
            """)

    @OptionGroup var client: ClientOptions

    @Argument(help: ArgumentHelp("The job ids.", valueName: "id"))
    var ids: [String] = []

    @Flag(help: "Print each final job as JSON.")
    var json = false

    @Option(help: ArgumentHelp("Give up after this long (e.g. 30s, 5m) and exit 124.", valueName: "duration"),
            transform: { try CLIDuration.seconds($0, "--timeout") })
    var timeout: Double?

    func validate() throws {
        if ids.isEmpty { throw ValidationError("give at least one job id") }
    }

    func run() throws {
        let allSucceeded: Bool = try client.withClient { kernel in
            var ok = true
            if let timeout { WaitTimeout.arm(seconds: timeout, ids: ids) }
            for (index, id) in ids.enumerated() {
                if timeout != nil { WaitTimeout.waiting(index, status: try kernel.get(id: id)["status"]?.stringValue) }
                let job = try kernel.waitForJob(id: id) { WaitTimeout.noteStatus(of: $0, index: index) }
                let status = job["status"]?.stringValue ?? "?"
                if json { Output.json(job) } else { Output.line("\(id) \(status)") }
                if status != "success" { ok = false }
            }
            return ok
        }
        if !allSucceeded { throw ExitCode.kernelError }
    }
}

/// `jobkernel items ID`: a job's per-item results.
struct ItemsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "items",
        abstract: "Show a job's items: index, status, attempt, value and result or error.",
        discussion: "Pages through every item. --json prints one item object per line.")

    @OptionGroup var client: ClientOptions

    @Argument(help: "The job id.")
    var id: String

    @Option(help: ArgumentHelp("Only items with this status (pending, running, success, failed, cancelled).",
                               valueName: "status"))
    var status: String?

    @Flag(help: "Print JSON, one item per line.")
    var json = false

    func validate() throws {
        if let status, UnitStatus(rawValue: status) == nil {
            throw ValidationError("'\(status)' is not an item status (\(UnitStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    func run() throws {
        try client.withClient { kernel in
            var since: Int?
            var rows: [[String]] = []
            repeat {
                let page = try kernel.items(id: id, status: status, since: since, limit: 1000)
                for item in page["items"]?.arrayValue ?? [] {
                    if json {
                        Output.json(item)
                        continue
                    }
                    let outcome: String
                    if let message = item["error"]?["message"]?.stringValue {
                        outcome = "error: " + message
                    } else if let result = item["result"], !result.isNull {
                        outcome = result.compactString
                    } else {
                        outcome = ""
                    }
                    rows.append([item["index"]?.intValue.map(String.init) ?? "?", item["status"]?.stringValue ?? "?",
                                 String(item["attempt"]?.intValue ?? 0), item["value"]?.compactString ?? "null", outcome])
                }
                since = page["next"]?.intValue
            } while since != nil
            if json { return }
            let header = ["INDEX", "STATUS", "ATTEMPT", "VALUE", "RESULT"]
            let widths = header.indices.map { c in ([header] + rows).map { JobFormat.displayWidth($0[c]) }.max() ?? 0 }
            for row in [header] + rows {
                let cells = row.indices.map { c -> String in
                    let text = c == row.count - 1 ? row[c] : JobFormat.truncate(row[c], to: 40)
                    return c == row.count - 1 ? text : text + String(repeating: " ", count: max(0, min(widths[c], 40) - JobFormat.displayWidth(text)))
                }
                Output.line(JobFormat.sanitized(cells.joined(separator: "  ")))
            }
        }
    }
}

/// `jobkernel remove ID…` or `remove --status … --type … --label … --older-than …`: deletes
/// finished jobs.
struct RemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove finished jobs (with their finished descendants, items and logs); print how many.",
        discussion: """
            A job id that has not ended is refused and nothing is removed (exit 1). \
            A filter (--status, --type, --label, --older-than; they AND) removes every matching finished job.
            """)

    @OptionGroup var client: ClientOptions

    @Argument(help: ArgumentHelp("The job ids.", valueName: "id"))
    var ids: [String] = []

    @OptionGroup var filter: BulkFilterOptions

    func validate() throws {
        try filter.validate(ids: ids)
    }

    func run() throws {
        try client.withClient { kernel in
            let result = try kernel.call("remove", .object(filter.params(ids: ids)))
            Output.line("removed \(result["removed"]?.intValue ?? 0)")
        }
    }
}

/// `jobkernel clean`: deletes every finished job that matches.
struct CleanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Remove finished jobs: all of them, or those matching --status, --type, --older-than.",
        discussion: "Runs in the kernel in small batches; other clients are served meanwhile. Prints how many went.")

    @OptionGroup var client: ClientOptions

    @Option(name: .customLong("status"), parsing: .upToNextOption, help: ArgumentHelp(
        "Only jobs that ended with this status: success, partial_success, failed, cancelled, skipped.", valueName: "status"))
    var statuses: [String] = []

    @Option(name: .customLong("type"), help: ArgumentHelp("Only jobs of this type (repeatable).", valueName: "type"))
    var types: [String] = []

    @Option(name: .customLong("older-than"), help: ArgumentHelp(
        "Only jobs that finished at least this long ago (e.g. 7d, 12h).", valueName: "duration"),
        transform: { try CLIDuration.seconds($0, "--older-than") })
    var olderThan: Double?

    func validate() throws {
        for s in StatusCommand.split(statuses) where !(JobStatus(rawValue: s)?.isTerminal ?? false) {
            throw ValidationError("'\(s)' is not a finished status (success, partial_success, failed, cancelled, skipped)")
        }
    }

    func run() throws {
        try client.withClient { kernel in
            let result = try kernel.clean(statuses: StatusCommand.split(statuses), types: StatusCommand.split(types),
                                          olderThanSeconds: olderThan)
            Output.line("removed \(result["removed"]?.intValue ?? 0)")
        }
    }
}

/// `jobkernel pause [TYPE]` / `jobkernel resume [TYPE]`.
struct PauseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Stop dispatching TYPE's jobs (every type's without TYPE); running ones finish.",
        discussion: "Survives restarts. Prints the pause settings after the change.")

    @OptionGroup var client: ClientOptions

    @Argument(help: "A job type; omit for all.")
    var type: String?

    func run() throws {
        try client.withClient { kernel in PauseCommand.show(try kernel.pause(type: type)) }
    }

    static func show(_ settings: JSON) {
        let keys = (settings.objectValue?.keys.filter { $0.hasPrefix("paused.") } ?? []).sorted()
        for key in keys { Output.line("\(key) \(settings[key]?.boolValue == true ? "true" : "false")") }
    }
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Dispatch TYPE's jobs again (every type's without TYPE).",
        discussion: "A type paused by name stays paused after `resume` without TYPE. Prints the pause settings.")

    @OptionGroup var client: ClientOptions

    @Argument(help: "A job type; omit for all.")
    var type: String?

    func run() throws {
        try client.withClient { kernel in PauseCommand.show(try kernel.resume(type: type)) }
    }
}

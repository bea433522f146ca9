import ArgumentParser
import JobKernelClient
import JobKernelCore

/// The job options `enqueue` and `run` share.
struct JobOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The job's priority (higher runs first; default: the type's).", valueName: "n"))
    var priority: Int?

    @Option(help: ArgumentHelp(
        "An idempotency key: enqueueing the same key again returns the first job.", valueName: "key"))
    var key: String?

    @Option(name: .customLong("max-attempts"), help: ArgumentHelp(
        "How many times a unit may run (default: the type's; 1 for `run`).", valueName: "n"))
    var maxAttempts: Int?

    @Option(help: ArgumentHelp("Stop a unit that runs longer than this (e.g. 30s, 5m, 1h).", valueName: "duration"),
            transform: { try CLIDuration.seconds($0, "--timeout") })
    var timeout: Double?

    @Option(help: ArgumentHelp("Start no earlier than this from now (e.g. 10s, 5m, 2h).", valueName: "duration"),
            transform: { try CLIDuration.seconds($0, "--delay") })
    var delay: Double?

    @Option(parsing: .upToNextOption, help: ArgumentHelp(
        "Start only once these jobs have ended in success; if one ends otherwise, this job is skipped.",
        valueName: "id"))
    var after: [String] = []

    @Option(help: ArgumentHelp(
        "What the job is, for people: `status`, `watch` and the dashboard show it (at most 200 bytes; `run`'s default: the command line).",
        valueName: "text"))
    var label: String?

    func validate() throws {
        if let label, label.utf8.count > 200 { throw ValidationError("--label must be at most 200 bytes") }
        if let maxAttempts, !(1...1_000_000).contains(maxAttempts) {
            throw ValidationError("--max-attempts must be between 1 and 1000000")
        }
        if let bad = StatusCommand.split(after).first(where: { !$0.allSatisfy(\.isNumber) || $0.isEmpty }) {
            throw ValidationError("--after takes job ids (digits), got '\(bad)'")
        }
    }

    /// The `enqueue` parameters these options give, beyond priority and key.
    func extraParams(defaultMaxAttempts: Int? = nil, defaultLabel: String? = nil) -> JSONObject {
        var extra: JSONObject = [:]
        if let label = label ?? defaultLabel { extra["label"] = .string(label) }
        if let attempts = maxAttempts ?? defaultMaxAttempts { extra["max_attempts"] = .int(attempts) }
        if let timeout { extra["timeout_s"] = .double(timeout) }
        if let delay { extra["delay_s"] = .double(delay) }
        let ids = StatusCommand.split(after)
        if !ids.isEmpty { extra["after"] = .array(ids.map { .string($0) }) }
        return extra
    }
}

/// Durations on the command line: `250ms`, `30s`, `5m`, `1h`, `1d`, `1h30m`, or seconds.
enum CLIDuration {
    static func seconds(_ text: String, _ option: String) throws -> Double {
        guard let ms = ConfigDuration.milliseconds(parsing: text) else {
            throw ValidationError("\(option): not a duration: '\(text)' (\(ConfigDuration.expected))")
        }
        return Double(ms) / 1000
    }
}

/// `jobkernel enqueue TYPE`: creates a job.
struct EnqueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Enqueue a job; print its id.",
        discussion: "With --json, print the job (with --wait or --follow, the final job) as JSON.")

    @OptionGroup var client: ClientOptions

    @Argument(help: "The job type.")
    var type: String

    @Option(
        help: ArgumentHelp("The job's payload, as JSON (default {}).", valueName: "json"),
        transform: { try JSONArgument.parse($0) })
    var payload: JSON?

    @Option(
        help: ArgumentHelp("Make an itemized job: a non-empty JSON array, one unit per element.", valueName: "json-array"),
        transform: { try JSONArgument.parseArray($0) })
    var items: [JSON]?

    @OptionGroup var job: JobOptions
    @OptionGroup var waiting: WaitOptions

    @Flag(help: "Print the job as JSON.")
    var json = false

    func validate() throws {
        if let items, items.isEmpty { throw ValidationError("--items must not be empty") }
        if type.isEmpty { throw ValidationError("the job type must not be empty") }
    }

    func run() throws {
        try client.withClient { kernel in
            try Enqueue.submit(
                kernel, type: type, payload: payload, items: items, job: job, waiting: waiting, json: json)
        }
    }
}

/// Enqueues, prints the id (or the job), and waits when asked.
enum Enqueue {
    static func submit(
        _ kernel: KernelClient, type: String, payload: JSON?, items: [JSON]?, job: JobOptions,
        waiting: WaitOptions, json: Bool
    ) throws {
        let created = try create(kernel, type: type, payload: payload, items: items, job: job)
        guard let id = created["id"]?.stringValue else {
            throw ClientError.protocolError("the enqueue result has no job id")
        }
        if waiting.waits {
            if !json { Output.line(id) }
            try waiting.finish(kernel, id: id, json: json)
        } else if json {
            Output.json(created)
        } else {
            Output.line(id)
        }
    }

    /// Enqueues as the client `cli`; returns the job.
    static func create(
        _ kernel: KernelClient, type: String, payload: JSON?, items: [JSON]?, job: JobOptions,
        defaultMaxAttempts: Int? = nil, defaultLabel: String? = nil
    ) throws -> JSON {
        try kernel.initialize(name: "cli")
        let result = try kernel.enqueue(
            type: type, payload: payload, items: items, priority: job.priority, idempotencyKey: job.key,
            extra: job.extraParams(defaultMaxAttempts: defaultMaxAttempts, defaultLabel: defaultLabel))
        guard let created = result["job"], created["id"]?.stringValue != nil else {
            throw ClientError.protocolError("the enqueue result has no job id")
        }
        return created
    }
}

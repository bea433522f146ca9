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
        try kernel.initialize(name: "cli")
        let result = try kernel.enqueue(
            type: type, payload: payload, items: items, priority: job.priority, idempotencyKey: job.key)
        guard let created = result["job"], let id = created["id"]?.stringValue else {
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
}

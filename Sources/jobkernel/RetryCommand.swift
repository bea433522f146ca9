import ArgumentParser
import JobKernelClient
import JobKernelCore

/// `jobkernel retry ID`: runs a failed, cancelled or partially successful job again.
struct RetryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Run a failed, cancelled or partially successful job again; print `ID STATUS`.",
        discussion: "Only the units that did not succeed run again. --json prints the job.")

    @OptionGroup var client: ClientOptions

    @Argument(help: "The job id.")
    var id: String

    @Flag(help: "Print the job as JSON.")
    var json = false

    func run() throws {
        try client.withClient { kernel in
            let job = try kernel.retry(id: id)
            if json { Output.json(job) } else { Output.line("\(id) \(JobFormat.status(job))") }
        }
    }
}

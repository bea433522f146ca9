import ArgumentParser
import JobKernelClient
import JobKernelCore

/// `jobkernel cancel ID`: cancels a job and its descendants.
struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a job (and its descendants); print `ID STATUS`.",
        discussion: """
            A running job is told to stop and shows `running (cancelling)` until its units stop. \
            A job that already ended is left as it is. --json prints the job.
            """)

    @OptionGroup var client: ClientOptions

    @Argument(help: "The job id.")
    var id: String

    @Option(help: ArgumentHelp("Recorded as the job's error message.", valueName: "text"))
    var reason: String?

    @Flag(help: "Print the job as JSON.")
    var json = false

    func run() throws {
        try client.withClient { kernel in
            let job = try kernel.cancel(id: id, reason: reason)
            if json { Output.json(job) } else { Output.line("\(id) \(JobFormat.status(job))") }
        }
    }
}

import ArgumentParser
import JobKernelClient
import JobKernelCore

/// `jobkernel cancel ID…` or `cancel --status … --type … --label … --older-than …`: cancels jobs
/// and their descendants.
struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel jobs (and their descendants): one id prints `ID STATUS`; several, or a filter, `cancelled N`.",
        discussion: """
            A running job is told to stop and shows `running (cancelling)` until its units stop. \
            A job that already ended is left as it is. --json prints the job (one id only). \
            A filter (--status, --type, --label, --older-than; they AND) cancels every matching job \
            that has not ended; there is no "cancel everything" without one.
            """)

    @OptionGroup var client: ClientOptions

    @Argument(help: ArgumentHelp("The job ids.", valueName: "id"))
    var ids: [String] = []

    @OptionGroup var filter: BulkFilterOptions

    @Option(help: ArgumentHelp("Recorded as the job's error message.", valueName: "text"))
    var reason: String?

    @Flag(help: "Print the job as JSON (one id only).")
    var json = false

    func validate() throws {
        try filter.validate(ids: ids)
        if json && (ids.count != 1) { throw ValidationError("--json prints one job: give one id") }
    }

    func run() throws {
        try client.withClient { kernel in
            if ids.count == 1 {
                let job = try kernel.cancel(id: ids[0], reason: reason)
                if json { Output.json(job) } else { Output.line("\(ids[0]) \(JobFormat.status(job))") }
                return
            }
            var params = filter.params(ids: ids)
            if let reason { params["reason"] = .string(reason) }
            let result = try kernel.call("cancel", .object(params))
            Output.line("cancelled \(result["cancelled"]?.intValue ?? 0)")
        }
    }
}

import ArgumentParser
import JobKernelClient
import JobKernelCore

/// `jobkernel retry ID…` or `retry --status failed --type T …`: runs failed, cancelled or
/// partially successful jobs again.
struct RetryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Run failed, cancelled or partially successful jobs again: one id prints `ID STATUS`; several, or a filter, `retried N`.",
        discussion: """
            Only the units that did not succeed run again. --json prints the job (one id only). \
            With several ids, one that cannot be retried is refused and none is retried. \
            A filter (--status, --type, --label, --older-than; they AND) retries every matching job that can be: \
            `retry --status failed --type T` retries every failed job of type T.
            """)

    @OptionGroup var client: ClientOptions

    @Argument(help: ArgumentHelp("The job ids.", valueName: "id"))
    var ids: [String] = []

    @OptionGroup var filter: BulkFilterOptions

    @Flag(help: "Print the job as JSON (one id only).")
    var json = false

    func validate() throws {
        try filter.validate(ids: ids)
        if json && (ids.count != 1) { throw ValidationError("--json prints one job: give one id") }
    }

    func run() throws {
        try client.withClient { kernel in
            if ids.count == 1 {
                let job = try kernel.retry(id: ids[0])
                if json { Output.json(job) } else { Output.line("\(ids[0]) \(JobFormat.status(job))") }
                return
            }
            let result = try kernel.call("retry", .object(filter.params(ids: ids)))
            Output.line("retried \(result["retried"]?.intValue ?? 0)")
        }
    }
}

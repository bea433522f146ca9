import ArgumentParser
import JobKernelClient
import JobKernelCore

/// `jobkernel restart ID…`: runs finished jobs again, each as a new job linked to the old one.
struct RestartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Run finished jobs again as new jobs with the same spec; print `OLD -> NEW` for each.",
        discussion: """
            The new job has the old one's type, payload, items, priority, attempts, timeout and label, \
            and `restarted_from` set to the old id. A job that has not ended is refused and nothing is \
            restarted (exit 1). --json prints each new job as a JSON line.
            """)

    @OptionGroup var client: ClientOptions

    @Argument(help: ArgumentHelp("The finished jobs' ids.", valueName: "id"))
    var ids: [String] = []

    @Flag(help: "Print each new job as JSON.")
    var json = false

    func validate() throws {
        if ids.isEmpty { throw ValidationError("give at least one job id") }
    }

    func run() throws {
        try client.withClient { kernel in
            let result = try kernel.call("restart", ["ids": .array(ids.map { .string($0) })])
            for job in result["jobs"]?.arrayValue ?? [] {
                if json {
                    Output.json(job)
                } else {
                    Output.line("\(job["restarted_from"]?.stringValue ?? "?") -> \(job["id"]?.stringValue ?? "?")")
                }
            }
        }
    }
}

import ArgumentParser
import JobKernelClient
import JobKernelCore

/// `jobkernel parallel TYPE N` / `parallel TYPE --reset`: a type's concurrency at run time.
struct ParallelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parallel",
        abstract: "Let at most N of TYPE's units run at once (--reset: the config's concurrency); print `TYPE N`.",
        discussion: """
            Kept across restarts; running units are never stopped (a lower cap applies as they end). \
            `stats` shows the value in force. Prints `TYPE none` when the type has no cap of its own.
            """)

    @OptionGroup var client: ClientOptions

    @Argument(help: "A configured job type.")
    var type: String

    @Argument(help: ArgumentHelp("The most units of TYPE that may run at once, 1…10000.", valueName: "n"))
    var max: Int?

    @Flag(help: "Return to the config's concurrency.")
    var reset = false

    func validate() throws {
        if max == nil && !reset { throw ValidationError("give N (1…10000), or --reset") }
        if max != nil && reset { throw ValidationError("give N or --reset, not both") }
        if let max, !(1...10_000).contains(max) { throw ValidationError("N must be 1…10000, got \(max)") }
    }

    func run() throws {
        try client.withClient { kernel in
            let result = try kernel.call("parallel", ["type": .string(type), "max": max.map { .int($0) } ?? .null])
            Output.line("\(type) \(result["concurrency"]?.intValue.map(String.init) ?? "none")")
        }
    }
}

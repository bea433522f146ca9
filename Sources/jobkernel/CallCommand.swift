import ArgumentParser
import JobKernelClient
import JobKernelCore

/// `jobkernel call METHOD [PARAMS_JSON]`: one raw JSON-RPC call.
struct CallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call a JSON-RPC method; print its result as JSON.",
        discussion: """
            PARAMS is a JSON object (omitted: the request has no params). The result is indented on \
            a terminal and one compact line otherwise; --pretty or --compact choose. An error \
            answer goes to stderr and exits 1.
            """)

    @OptionGroup var client: ClientOptions

    @Argument(help: "The method, e.g. stats.")
    var method: String

    @Argument(help: ArgumentHelp("The params, as JSON.", valueName: "params-json"), transform: { try JSONArgument.parse($0) })
    var params: JSON?

    @Flag(help: "Indent the result.")
    var pretty = false

    @Flag(help: "Print the result on one line.")
    var compact = false

    func validate() throws {
        if pretty && compact { throw ValidationError("--pretty and --compact exclude each other") }
    }

    func run() throws {
        try client.withClient { kernel in
            let result = try kernel.call(method, params)
            Output.json(result, pretty: pretty ? true : compact ? false : nil)
        }
    }
}

import ArgumentParser
import Glibc
import JobKernelClient
import JobKernelCore

/// `jobkernel run -- CMD ARGS…`: enqueues the built-in `command` type.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command as a job (the built-in `command` type) in the current directory.",
        discussion: "Put -- before the command so that its options are not read as jobkernel's.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var job: JobOptions
    @OptionGroup var waiting: WaitOptions

    @Flag(help: "Print the job as JSON.")
    var json = false

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The command and its arguments.", valueName: "command"))
    var command: [String] = []

    mutating func validate() throws {
        // Passthrough capture would take a help flag for the command: before `--` it asks for help.
        if let first = command.first, first == "--help" || first == "-h" { throw CleanExit.helpRequest(self) }
        if command.first == "--" { command.removeFirst() }
        if command.isEmpty { throw ValidationError("give the command to run after --, e.g. `jobkernel run -- make test`") }
    }

    func run() throws {
        var payload: JSONObject = ["argv": .array(command.map { .string($0) })]
        if let cwd = RunCommand.currentDirectory() { payload["cwd"] = .string(cwd) }
        try client.withClient { kernel in
            try Enqueue.submit(
                kernel, type: "command", payload: .object(payload), items: nil, job: job, waiting: waiting,
                json: json)
        }
    }

    static func currentDirectory() -> String? {
        guard let path = getcwd(nil, 0) else { return nil }
        defer { free(path) }
        return String(cString: path)
    }
}

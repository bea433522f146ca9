import ArgumentParser
import Glibc
import JobKernelServer

/// `jobkernel serve`: runs the kernel until it shuts down.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the kernel.",
        discussion: """
            With neither --socket nor --stdio, the socket at the default path is served. \
            --stdio serves one client on stdin/stdout; the kernel exits when stdin closes. \
            When a running kernel already owns the database, --stdio attaches to it instead: \
            stdin/stdout are bridged to that kernel's socket, and it keeps running when stdin \
            closes (exit 0); if that kernel goes away, the bridge exits 3. --no-attach refuses \
            (exit 1) instead of attaching.
            """)

    @Option(help: ArgumentHelp("Serve a Unix socket at this path.", valueName: "path"))
    var socket: String?

    @Flag(help: "Serve one client on stdin/stdout (logs go to stderr).")
    var stdio = false

    @Flag(help: "With --stdio: refuse (exit 1) when a running kernel owns the database, rather than attach to it.")
    var noAttach = false

    @Option(help: ArgumentHelp("The SQLite database (':memory:' for none).", valueName: "path"))
    var db: String?

    @Option(help: ArgumentHelp("The TOML config (default: ./jobkernel.toml if present).", valueName: "path"))
    var config: String?

    @Option(
        help: ArgumentHelp("The socket's permissions, octal (default 0600).", valueName: "mode"),
        transform: { try ServeCommand.parseMode($0) })
    var socketMode: mode_t?

    func validate() throws {
        if socketMode != nil && socket == nil && stdio {
            throw ValidationError("--socket-mode needs a socket: give --socket PATH or drop --stdio")
        }
        if noAttach && !stdio {
            throw ValidationError("--no-attach is about --stdio: give --stdio too, or drop --no-attach")
        }
    }

    func run() throws {
        var options = ServeOptions()
        options.socketPath = socket
        options.stdio = stdio
        options.dbPath = db
        options.configPath = config
        options.socketMode = socketMode
        if !noAttach { options.attach = StdioAttach.run }
        Glibc.exit(KernelMain.serve(options))
    }

    /// `0660`, `660` or `0o660`; permission bits only (at most 0777).
    static func parseMode(_ text: String) throws -> mode_t {
        var digits = Substring(text)
        if digits.hasPrefix("0o") { digits = digits.dropFirst(2) }
        guard (1...4).contains(digits.count), let mode = mode_t(digits, radix: 8), mode <= 0o777 else {
            throw ValidationError("'\(text)' is not an octal mode such as 0660")
        }
        return mode
    }
}

import ArgumentParser
import Glibc
import JobKernelWeb

/// `jobkernel-web`: the HTTP gateway (docs/web.md), which `jobkernel web` runs.
@main
struct WebCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobkernel web",
        abstract: "Serve the dashboard, JSON-RPC over HTTP and WebSocket, Server-Sent Events and metrics for a kernel.",
        discussion: """
            A separate process and a client of the kernel's socket. It prints a login link that works \
            once and the access token; open the link. Requests need the token (Authorization: Bearer \
            <token>) or the session cookie the link or the login form sets. See docs/web.md.
            """)

    /// Parses and runs like `AsyncParsableCommand.main()`, except that usage errors exit 2, as
    /// every jobkernel command does, rather than ArgumentParser's 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                say(fullMessage(for: error) + "\n")
                Glibc.exit(2)
            }
            exit(withError: error)
        }
    }

    @Option(help: ArgumentHelp("The address and port to listen on; port 0 picks a free one.", valueName: "host:port"))
    var listen = "127.0.0.1:8080"

    @Option(help: ArgumentHelp(
        "The kernel's socket (default: $JOBKERNEL_SOCKET, else the default state directory's kernel.sock).",
        valueName: "path"))
    var socket: String?

    @Flag(help: "Allow listening on an address other than loopback (the token then guards the kernel from the network).")
    var allowRemote = false

    @Option(name: .customLong("allow-host"), help: ArgumentHelp(
        "Also accept requests whose Host is NAME (a reverse proxy's or the machine's name); repeatable.", valueName: "name"))
    var allowHosts: [String] = []

    @Option(help: ArgumentHelp("Seconds between heartbeat comments on an idle event stream.", valueName: "seconds"))
    var heartbeat: Double = 15

    @Option(help: ArgumentHelp(
        "Keep the token in PATH: read it if the file exists, else create the file (mode 0600) with a fresh one.",
        valueName: "path"))
    var tokenFile: String?

    @Option(help: ArgumentHelp("The most event streams and WebSockets open at once per token.", valueName: "n"))
    var maxStreams = 256

    var address: ListenAddress? { ListenAddress(listen) }

    func validate() throws {
        guard let address else {
            throw ValidationError("--listen must be HOST:PORT (e.g. 127.0.0.1:8080), got \"\(listen)\"")
        }
        if !address.isLoopback && !allowRemote {
            throw ValidationError(
                "--listen \(listen) is not a loopback address (an IP address in 127.0.0.0/8, ::1, or localhost): "
                    + "anyone who can reach it and learns the token controls the kernel. Add --allow-remote to do it "
                    + "anyway, or listen on 127.0.0.1.")
        }
        guard heartbeat > 0, heartbeat <= 3600 else {
            throw ValidationError("--heartbeat must be between 0 and 3600 seconds, got \(heartbeat)")
        }
        guard maxStreams > 0 else {
            throw ValidationError("--max-streams must be at least 1, got \(maxStreams)")
        }
    }

    var socketPath: String {
        if let socket { return socket }
        if let env = getenv("JOBKERNEL_SOCKET").map({ String(cString: $0) }), !env.isEmpty { return env }
        if let home = getenv("JOBKERNEL_HOME").map({ String(cString: $0) }), !home.isEmpty { return home + "/kernel.sock" }
        let userHome = getenv("HOME").map { String(cString: $0) } ?? "."
        return userHome + "/.local/state/jobkernel/kernel.sock"
    }

    func run() async throws {
        let address = address!
        if !address.isLoopback {
            say("jobkernel web: WARNING: listening on \(address.host), not loopback: anyone who can reach "
                + "this address and learns the token controls the kernel. Put it behind TLS (docs/web.md).\n")
        }
        let token: String
        if let tokenFile {
            do {
                token = try TokenFile.load(tokenFile)
            } catch {
                say("jobkernel web: \(error)\n")
                throw ExitCode(1)
            }
        } else {
            token = AccessPolicy.makeToken()
        }
        let configuration = Gateway.Configuration(
            host: address.host, port: address.port, socketPath: socketPath, extraHosts: allowHosts,
            heartbeat: .milliseconds(Int(heartbeat * 1000)), maxStreams: maxStreams, token: token)
        let gateway = Gateway(configuration: configuration)
        if await !gateway.kernelAnswers() {
            say("jobkernel web: no kernel answers at \(socketPath) yet; start one with `jobkernel serve` "
                + "(or pass --socket). The gateway serves meanwhile and connects when it comes.\n")
        }
        let shownHost = address.host.contains(":") ? "[\(address.host)]" : address.host
        let socketPath = socketPath
        let loginCode = gateway.loginCode ?? ""
        let tokenFile = tokenFile
        try await gateway.run { port in
            // The link carries a one-time code, not the token: a browser keeps the URL in its
            // history, where a spent code is worth nothing.
            var text = "jobkernel web: http://\(shownHost):\(port)/?login=\(loginCode)\n"
            if let tokenFile {
                text += "jobkernel web: the token is in \(tokenFile) (Authorization: Bearer <token>); the link works once\n"
            } else {
                text += "jobkernel web: token \(token) (Authorization: Bearer <token>); the link works once\n"
            }
            text += "jobkernel web: kernel socket \(socketPath); stop with Ctrl-C\n"
            say(text, to: STDOUT_FILENO)
        }
    }
}

/// Writes `text` to a standard stream's descriptor at once, unbuffered: C's `stdout` and `stderr`
/// are mutable globals that Swift 6 does not share across threads.
private func say(_ text: String, to fd: Int32 = STDERR_FILENO) {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
    }
}

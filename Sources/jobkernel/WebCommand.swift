import ArgumentParser
import Glibc
import JobKernelServer

/// `jobkernel web` (docs/web.md): runs the HTTP gateway, `jobkernel-web`, installed next to this
/// binary. The gateway is a program of its own so that the kernel and the CLI carry no SwiftNIO.
struct WebCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web",
        abstract: "Serve a dashboard, JSON-RPC over HTTP/WebSocket, Server-Sent Events and metrics for a kernel.",
        discussion: """
            Runs jobkernel-web (next to this binary) with these arguments: --listen HOST:PORT \
            (default 127.0.0.1:8080), --socket PATH, --allow-remote, --allow-host NAME, --token-file PATH, \
            --max-streams N, --heartbeat S. `jobkernel web --help` shows them all. It prints a login link \
            that works once, then the access token (or where the token file is).
            """)

    @Argument(parsing: .allUnrecognized, help: "Arguments for jobkernel-web.")
    var arguments: [String] = []

    /// The gateway binary: beside this one (as SwiftPM builds and `install` places them).
    static var gatewayPath: String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return "jobkernel-web" }
        let path = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return "jobkernel-web" }
        return String(path[...slash]) + "jobkernel-web"
    }

    func run() throws {
        var forwarded = arguments
        let namesSocket = forwarded.contains { $0 == "--socket" || $0.hasPrefix("--socket=") }
        if !namesSocket {
            // The same default as every client command: $JOBKERNEL_SOCKET, else the state directory's.
            let env = getenv("JOBKERNEL_SOCKET").map { String(cString: $0) } ?? ""
            forwarded += ["--socket", env.isEmpty ? StatePaths.socket : env]
        }
        let path = Self.gatewayPath
        guard access(path, X_OK) == 0 else {
            Output.error(
                "the gateway binary \(path) is missing: build it with `swift build --product jobkernel-web` "
                    + "and keep it next to jobkernel")
            throw ExitCode(1)
        }
        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + forwarded).map { strdup($0) }
        argv.append(nil)
        execv(path, argv)
        Output.error("cannot run \(path): \(String(cString: strerror(errno)))")
        throw ExitCode(1)
    }
}

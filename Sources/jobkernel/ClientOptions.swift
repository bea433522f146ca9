import ArgumentParser
import Glibc
import JobKernelClient
import JobKernelCore
import JobKernelServer

/// The options every client command shares: where the kernel is.
struct ClientOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The kernel's socket (default: $JOBKERNEL_SOCKET, else the default state directory's kernel.sock).",
        valueName: "path"))
    var socket: String?

    /// `--socket`, else `$JOBKERNEL_SOCKET`, else the default path (docs/promises.md §1).
    var socketPath: String {
        if let socket { return socket }
        if let env = getenv("JOBKERNEL_SOCKET").map({ String(cString: $0) }), !env.isEmpty { return env }
        return StatePaths.socket
    }

    /// Connects, runs `body`, and turns client errors into the CLI's messages and exit codes:
    /// no kernel → 3 with a hint; an error answer or a broken connection → 1.
    func withClient<T>(_ body: (KernelClient) throws -> T) throws -> T {
        do {
            let client = try KernelClient(socketPath: socketPath)
            defer { client.close() }
            return try body(client)
        } catch let error as ClientError {
            throw ClientOptions.report(error)
        }
    }

    /// Says on stderr what went wrong; returns the exit code docs/promises.md §1 gives it.
    static func report(_ error: ClientError) -> ExitCode {
        switch error {
        case .noKernel(let path, let reason):
            Output.error(
                "no kernel answers at \(path) (\(reason)); start one with `jobkernel serve` "
                    + "(or set JOBKERNEL_SOCKET / --socket)")
            return .noKernel
        case .rpc, .io, .protocolError:
            Output.error(error.description)
            return .kernelError
        }
    }
}

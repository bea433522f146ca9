import ArgumentParser
import Glibc
import JobKernelIO
import JobKernelServer

/// `jobkernel`: the kernel (`serve`) and its command-line client (docs/promises.md §1).
@main
struct JobKernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobkernel",
        abstract: "A local job-dispatch kernel and its client.",
        discussion: """
            Client commands find the kernel by --socket, $JOBKERNEL_SOCKET, or the default socket \
            ($JOBKERNEL_HOME/kernel.sock, else ~/.local/state/jobkernel/kernel.sock).
            Exit codes: 0 done; 1 the kernel answered with an error, or a waited-for job did not end \
            in success; 2 usage; 3 no kernel answers (`run` exits with its command's code).
            Shell completions: `jobkernel --generate-completion-script bash|zsh|fish`.
            """,
        version: jobkernelVersion,
        subcommands: [
            ServeCommand.self, EnqueueCommand.self, RunCommand.self, StatusCommand.self,
            WatchCommand.self, LogsCommand.self, CancelCommand.self, RetryCommand.self,
            SettingsCommand.self, CallCommand.self, WorkerCommand.self, WebCommand.self, WaitCommand.self,
            ItemsCommand.self, RemoveCommand.self, CleanCommand.self, PauseCommand.self, ResumeCommand.self,
            ParallelCommand.self, RestartCommand.self, WorkersCommand.self,
        ])

    /// Parses and runs like `ParsableCommand.main()`, except that usage errors exit 2 (docs/promises.md §1)
    /// rather than ArgumentParser's 64.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                StandardStream.error.write(fullMessage(for: error) + "\n")
                Glibc.exit(ExitCode.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}

extension ExitCode {
    /// The kernel answered with an error, or a waited-for job did not end in `success`.
    static let kernelError = ExitCode(1)
    /// The command line was wrong.
    static let usage = ExitCode(2)
    /// No kernel answers at the socket.
    static let noKernel = ExitCode(3)
}

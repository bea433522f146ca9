import Glibc
import JobKernelClient
import JobKernelCore
import JobKernelIO

/// Writing to stdout and stderr, flushed at once so that output interleaves as it happens.
enum Output {
    static var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    static func line(_ text: String) {
        StandardStream.output.write(text + "\n")
    }

    static func errorLine(_ text: String) {
        StandardStream.error.write(text + "\n")
    }

    /// `jobkernel: <message>` on stderr.
    static func error(_ message: String) {
        errorLine("jobkernel: " + message)
    }

    /// JSON on stdout: indented on a terminal, one compact line otherwise (or as `pretty` says).
    static func json(_ value: JSON, pretty: Bool? = nil) {
        line((pretty ?? stdoutIsTerminal) ? value.prettyString : value.compactString)
    }

    /// The terminal's width in columns (TIOCGWINSZ on `fd`), else `$COLUMNS`, else nil.
    static func terminalSize(_ fd: Int32 = STDOUT_FILENO) -> (columns: Int, rows: Int)? {
        var size = winsize()
        if ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
            return (Int(size.ws_col), Int(size.ws_row))
        }
        if let env = getenv("COLUMNS").map({ String(cString: $0) }), let columns = Int(env), columns > 0 {
            return (columns, 24)
        }
        return nil
    }
}

import Glibc

/// The process's standard output or error, written unbuffered with `write(2)`.
///
/// C's `stdout` and `stderr` are mutable globals that Swift 6 will not share across threads; the
/// descriptors are not, and one `write` per message is what `fputs` and `fflush` did anyway.
public struct StandardStream: Sendable {
    /// File descriptor 1.
    public static let output = StandardStream(fd: STDOUT_FILENO)
    /// File descriptor 2.
    public static let error = StandardStream(fd: STDERR_FILENO)

    private let fd: Int32

    /// Writes `text` whole (retrying short writes and EINTR); errors are dropped, as there is
    /// nowhere left to report them.
    public func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}

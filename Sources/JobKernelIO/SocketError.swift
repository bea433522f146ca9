import Glibc

/// Why a Unix socket server could not start, phrased for the person running the kernel.
public enum SocketError: Error, Equatable, CustomStringConvertible {
    /// A live server already answers on this path.
    case alreadyServed(String)
    /// Something other than a socket sits at the path; it is left alone.
    case notASocket(String)
    /// The path does not fit in `sockaddr_un.sun_path` (limit in bytes, without the NUL).
    case pathTooLong(String, limit: Int)
    /// The directory that should hold the socket does not exist (or is not a directory).
    case directoryMissing(String)
    /// The socket or its directory is not accessible to this user.
    case permissionDenied(String)
    /// Any other system call failure, with its errno.
    case system(operation: String, path: String, errno: Int32)

    /// What went wrong and what to do about it.
    public var description: String {
        switch self {
        case .alreadyServed(let path):
            return "another jobkernel is already serving \(path); stop it first or pass a different --socket path"
        case .notASocket(let path):
            return "\(path) exists and is not a socket; refusing to replace it. Remove it or pass a different --socket path"
        case .pathTooLong(let path, let limit):
            return "socket path is \(path.utf8.count) bytes, over the \(limit)-byte limit of Unix socket addresses: \(path). "
                + "Use a shorter --socket path (or a shorter JOBKERNEL_HOME)"
        case .directoryMissing(let directory):
            return "the socket's directory \(directory) does not exist or is not a directory; create it or pass a different --socket path"
        case .permissionDenied(let path):
            return "permission denied for \(path); check the permissions of the socket file and its directory"
        case .system(let operation, let path, let code):
            return "\(operation) \(path) failed: \(String(cString: strerror(code)))"
        }
    }
}

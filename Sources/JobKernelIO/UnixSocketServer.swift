import CLibUV
import Glibc

/// A listening Unix stream socket (`uv_pipe_t`) that hands each accepted client over as a `Stream`.
///
/// Start-up follows docs/promises.md §1/§10: a live server at the path is an error, a stale socket file is
/// replaced, anything else at the path is left alone; the socket gets `mode` before `listen`.
public final class UnixSocketServer: LoopHandle {
    /// Longest path `sockaddr_un.sun_path` holds, without the terminating NUL.
    public static let maxPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// The socket file's path.
    public let path: String
    /// Called with each accepted client; the stream is not reading yet. Unset: clients are closed.
    public var onConnection: ((Stream) -> Void)?
    /// Called when accepting fails (e.g. EMFILE); the server keeps listening.
    public var onAcceptError: ((UVError) -> Void)?
    /// Device and inode of the file we bound, so `close()` does not unlink a successor's socket
    /// (best effort: a freed inode number can be reused).
    private var boundFile: (dev: UInt, ino: UInt)?

    /// Binds `path` with permissions `mode` and starts listening.
    public init(loop: EventLoop, path: String, mode: mode_t = 0o600, backlog: Int32 = 511) throws(SocketError) {
        self.path = path
        try UnixSocketServer.clearPath(path)
        let raw = LoopHandle.allocate(UV_NAMED_PIPE, on: loop)
        uv_pipe_init(loop.uv, raw.assumingMemoryBound(to: uv_pipe_t.self), 0)
        super.init(loop: loop, raw: raw)

        let bound = uv_pipe_bind(raw.assumingMemoryBound(to: uv_pipe_t.self), path)
        if bound < 0 {
            close()
            switch -bound {
            case EADDRINUSE: throw .alreadyServed(path)
            case EACCES, EPERM: throw .permissionDenied(path)
            case ENOENT, ENOTDIR: throw .directoryMissing(UnixSocketServer.parent(of: path))
            default: throw .system(operation: "bind", path: path, errno: -bound)
            }
        }
        // libuv would unlink `pipe_fname` on close whatever file is there by then; we unlink
        // ourselves, only if it is still our file. (libuv strdup'ed it with the default malloc.)
        let pipe = raw.assumingMemoryBound(to: uv_pipe_t.self)
        free(UnsafeMutableRawPointer(mutating: pipe.pointee.pipe_fname))
        pipe.pointee.pipe_fname = nil
        var info = stat()
        if lstat(path, &info) == 0 { boundFile = (UInt(info.st_dev), UInt(info.st_ino)) }
        // Before listen(), connects are refused, so the default-umask mode is never usable by others.
        if chmod(path, mode) != 0 {
            let code = errno
            close()
            throw .system(operation: "chmod", path: path, errno: code)
        }
        try startListening(backlog: backlog)
    }

    /// Serves a listening socket handed over by a service manager (systemd socket activation,
    /// `LISTEN_FDS`). The manager owns the socket file: `close()` leaves it in place.
    public init(loop: EventLoop, inheritedFD fd: Int32, path: String, backlog: Int32 = 511) throws(SocketError) {
        self.path = path
        let raw = LoopHandle.allocate(UV_NAMED_PIPE, on: loop)
        uv_pipe_init(loop.uv, raw.assumingMemoryBound(to: uv_pipe_t.self), 0)
        super.init(loop: loop, raw: raw)
        let opened = uv_pipe_open(raw.assumingMemoryBound(to: uv_pipe_t.self), fd)
        if opened < 0 {
            close()
            throw .system(operation: "open inherited socket", path: path, errno: -opened)
        }
        try startListening(backlog: backlog)
    }

    private func startListening(backlog: Int32) throws(SocketError) {
        let listening = uv_listen(raw.assumingMemoryBound(to: uv_stream_t.self), backlog) { server, status in
            guard let server, let data = server.pointee.data else { return }
            Unmanaged<UnixSocketServer>.fromOpaque(data).takeUnretainedValue().accept(status)
        }
        if listening < 0 {
            close()
            throw .system(operation: "listen", path: path, errno: -listening)
        }
    }

    private func accept(_ status: Int32) {
        guard !isClosed else { return }
        if status < 0 {
            onAcceptError?(UVError(status, "accept"))
            return
        }
        let raw = LoopHandle.allocate(UV_NAMED_PIPE, on: loop)
        uv_pipe_init(loop.uv, raw.assumingMemoryBound(to: uv_pipe_t.self), 0)
        let accepted = uv_accept(self.raw.assumingMemoryBound(to: uv_stream_t.self),
                                 raw.assumingMemoryBound(to: uv_stream_t.self))
        if accepted < 0 {
            LoopHandle.discard(raw)
            onAcceptError?(UVError(accepted, "accept"))
            return
        }
        let client = Stream(loop: loop, stream: raw)
        if let onConnection {
            onConnection(client)
        } else {
            client.close()
        }
    }

    /// Stops listening and removes the socket file (if it is still the one we bound).
    override func willClose() {
        guard let bound = boundFile else { return }
        boundFile = nil
        var info = stat()
        if lstat(path, &info) == 0 && UInt(info.st_dev) == bound.dev && UInt(info.st_ino) == bound.ino {
            unlink(path)
        }
    }

    override func didClose() {
        onConnection = nil
        onAcceptError = nil
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Validates the path and removes a stale socket file; throws if a live server answers there.
    static func clearPath(_ path: String) throws(SocketError) {
        if path.isEmpty || path.utf8.contains(0) {
            throw .system(operation: "bind", path: path, errno: EINVAL)
        }
        if path.utf8.count > maxPathBytes { throw .pathTooLong(path, limit: maxPathBytes) }

        var info = stat()
        if lstat(path, &info) != 0 {
            let code = errno
            switch code {
            case ENOENT, ENOTDIR:
                var parentInfo = stat()
                let directory = parent(of: path)
                if stat(directory, &parentInfo) != 0 || (parentInfo.st_mode & S_IFMT) != S_IFDIR {
                    throw .directoryMissing(directory)
                }
                return
            case EACCES: throw .permissionDenied(path)
            default: throw .system(operation: "stat", path: path, errno: code)
            }
        }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else { throw .notASocket(path) }

        switch probe(path) {
        case 0, EAGAIN, EINPROGRESS:
            throw .alreadyServed(path)
        case ECONNREFUSED:
            if unlink(path) != 0 && errno != ENOENT {
                let code = errno
                throw code == EACCES || code == EPERM
                    ? .permissionDenied(path)
                    : .system(operation: "unlink stale socket", path: path, errno: code)
            }
        case ENOENT:
            return
        case EACCES, EPERM:
            throw .permissionDenied(path)
        case let code:
            throw .system(operation: "connect", path: path, errno: code)
        }
    }

    /// Tries a non-blocking connect; returns 0 or the errno (EAGAIN: live but its backlog is full).
    static func probe(_ path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return errno }
        defer { Glibc.close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
            sunPath.copyBytes(from: path.utf8.prefix(sunPath.count - 1))
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0 ? 0 : errno
    }
}

import Glibc

/// Connecting to a kernel's Unix socket, shared by `KernelClient` and `StdioBridge`.
enum UnixSocket {
    /// A connected, blocking, close-on-exec stream socket to `path`.
    /// Throws `.noKernel` when nothing accepts there (no file, a stale file, no permission).
    static func connect(path: String) throws(ClientError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !pathBytes.isEmpty, pathBytes.count < capacity else {
            throw .noKernel(path: path, reason: "a socket path must be 1 to \(capacity - 1) bytes long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .io("socket(): \(KernelClient.lastError())") }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + 1)
        var result: Int32
        repeat {
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
            }
        } while result != 0 && errno == EINTR
        if result != 0 {
            let reason = KernelClient.lastError()
            Glibc.close(fd)
            throw .noKernel(path: path, reason: reason)
        }
        return fd
    }
}

import Glibc
import Testing
@testable import JobKernelIO

/// Runs `loop` until it stops by itself or `timeoutMs` passes; returns false on timeout.
@discardableResult
func runBounded(_ loop: EventLoop, timeoutMs: UInt64 = 5000) -> Bool {
    var timedOut = false
    let guardTimer = LoopTimer(loop: loop)
    guardTimer.unref()
    guardTimer.start(afterMs: timeoutMs) {
        timedOut = true
        loop.stop()
    }
    loop.run()
    guardTimer.close()
    return !timedOut
}

/// A fresh short directory under /tmp (socket paths must stay under 108 bytes), removed by `remove()`.
struct TempDir {
    let path: String

    init() {
        var template = Array("/tmp/jkio-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: template)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name != "." && name != ".." { unlink(file(name)) }
            }
            closedir(dir)
        }
        rmdir(path)
    }
}

/// A connected pair of Unix stream sockets.
func socketPair() -> (Int32, Int32) {
    var fds: [Int32] = [-1, -1]
    let status = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0, &fds)
    precondition(status == 0, "socketpair failed")
    return (fds[0], fds[1])
}

/// A pipe as (read end, write end).
func makePipe() -> (Int32, Int32) {
    var fds: [Int32] = [-1, -1]
    precondition(pipe(&fds) == 0, "pipe failed")
    return (fds[0], fds[1])
}

/// A blocking client connected to the Unix socket at `path`, or -1 with errno.
func connectUnix(_ path: String) -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8.prefix($0.count - 1)) }
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    if result != 0 {
        let code = errno
        close(fd)
        errno = code
        return -1
    }
    return fd
}

/// Writes all of `bytes` to a blocking descriptor.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
        if n <= 0 { return }
        offset += n
    }
}

/// Reads a blocking descriptor until EOF (or error).
func readAll(_ fd: Int32) -> [UInt8] {
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, 4096) }
        if n <= 0 { return result }
        result += chunk[0..<n]
    }
}

/// File mode bits (permissions only) of `path`.
func permissions(_ path: String) -> mode_t {
    var info = stat()
    precondition(lstat(path, &info) == 0)
    return info.st_mode & 0o7777
}

/// Runs `body` on a new thread; `join()` waits for it.
final class BackgroundThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: () -> Void

    init(_ body: @escaping () -> Void) {
        self.body = body
        let context = Unmanaged.passRetained(self).toOpaque()
        let status = pthread_create(&thread, nil, { context in
            let me = Unmanaged<BackgroundThread>.fromOpaque(context!).takeRetainedValue()
            me.body()
            return nil
        }, context)
        precondition(status == 0)
    }

    func join() { pthread_join(thread, nil) }
}

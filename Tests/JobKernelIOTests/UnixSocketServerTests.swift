import Glibc
import Testing
@testable import JobKernelIO

@Suite struct UnixSocketServerTests {
    /// An echo server that answers once the client half-closes (docs/promises.md §3).
    private func startEchoServer(_ loop: EventLoop, path: String) throws -> UnixSocketServer {
        let server = try UnixSocketServer(loop: loop, path: path)
        server.onConnection = { client in
            var request: [UInt8] = []
            client.onRead = { request += $0 }
            client.onEOF = {
                client.write("echo:" + String(decoding: request, as: UTF8.self))
                client.shutdownWrite {
                    client.close()
                    server.close()
                }
            }
            client.startReading()
        }
        return server
    }

    @Test func echoRoundTripWithBlockingClientThatHalfCloses() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let path = dir.file("k.sock")
        let loop = try EventLoop()
        _ = try startEchoServer(loop, path: path)

        final class Result: @unchecked Sendable { var reply: [UInt8] = [] }
        let result = Result()
        let client = BackgroundThread {
            let fd = connectUnix(path)
            guard fd >= 0 else { return }
            writeAll(fd, Array("hi there".utf8))
            shutdown(fd, Int32(SHUT_WR))
            result.reply = readAll(fd)
            close(fd)
        }
        #expect(runBounded(loop))
        client.join()
        #expect(String(decoding: result.reply, as: UTF8.self) == "echo:hi there")
        #expect(access(path, F_OK) != 0, "close() removes the socket file")
        loop.close()
    }

    @Test func acceptedStreamReportsPeerUID() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let loop = try EventLoop()
        let server = try UnixSocketServer(loop: loop, path: dir.file("k.sock"))
        var uid: UInt32?
        var pid: Int32?
        server.onConnection = { client in
            uid = client.peerUID
            pid = client.peerPID
            client.close()
            server.close()
        }
        let fd = connectUnix(server.path)   // the backlog accepts before the loop runs
        defer { close(fd) }
        #expect(fd >= 0)
        #expect(runBounded(loop))
        #expect(uid == getuid())
        #expect(pid == getpid())
        loop.close()
    }

    @Test(arguments: [mode_t(0o600), mode_t(0o660)])
    func socketFileGetsRequestedMode(mode: mode_t) throws {
        let dir = TempDir()
        defer { dir.remove() }
        let loop = try EventLoop()
        let path = dir.file("k.sock")
        let server = try UnixSocketServer(loop: loop, path: path, mode: mode)
        #expect(permissions(path) == mode)
        server.close()
        #expect(access(path, F_OK) != 0)
        loop.close()
    }

    @Test func defaultModeIs0600() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let loop = try EventLoop()
        let path = dir.file("k.sock")
        _ = try UnixSocketServer(loop: loop, path: path)
        #expect(permissions(path) == 0o600)
        loop.close()
    }

    /// docs/promises.md §1: a second kernel on a path a live kernel serves fails with a clear message.
    @Test func secondServerOnLivePathThrowsAlreadyServed() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let loop = try EventLoop()
        let path = dir.file("k.sock")
        let first = try UnixSocketServer(loop: loop, path: path)
        #expect(throws: SocketError.alreadyServed(path)) {
            try UnixSocketServer(loop: loop, path: path)
        }
        #expect(access(path, F_OK) == 0, "the live server's socket survives")
        #expect(SocketError.alreadyServed(path).description.contains("already serving"))
        first.close()
        loop.close()
    }

    /// docs/promises.md §1: a stale socket file is replaced.
    @Test func staleSocketFileIsReplaced() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let path = dir.file("k.sock")
        // A socket file nobody listens on, as left by a crashed kernel.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        close(fd)
        #expect(bound == 0)

        let loop = try EventLoop()
        let server = try UnixSocketServer(loop: loop, path: path)
        var connected = false
        server.onConnection = { client in
            connected = true
            client.close()
            server.close()
        }
        let client = connectUnix(path)
        defer { close(client) }
        #expect(client >= 0)
        #expect(runBounded(loop))
        #expect(connected)
        loop.close()
    }

    @Test func fileThatIsNotASocketIsLeftAlone() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let path = dir.file("k.sock")
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        close(fd)
        let loop = try EventLoop()
        #expect(throws: SocketError.notASocket(path)) {
            try UnixSocketServer(loop: loop, path: path)
        }
        #expect(access(path, F_OK) == 0)
        loop.close()
    }

    @Test func missingDirectoryIsReported() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let loop = try EventLoop()
        let missing = dir.file("nope")
        #expect(throws: SocketError.directoryMissing(missing)) {
            try UnixSocketServer(loop: loop, path: missing + "/k.sock")
        }
        loop.close()
    }

    @Test func tooLongPathIsReported() throws {
        let loop = try EventLoop()
        let path = "/tmp/" + String(repeating: "x", count: 120) + ".sock"
        #expect(throws: SocketError.pathTooLong(path, limit: 107)) {
            try UnixSocketServer(loop: loop, path: path)
        }
        #expect(UnixSocketServer.maxPathBytes == 107)
        loop.close()
    }

    @Test func closeDoesNotUnlinkASuccessorsSocket() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let loop = try EventLoop()
        let path = dir.file("k.sock")
        let first = try UnixSocketServer(loop: loop, path: path)
        // Someone removes our file and a successor binds the path; the extra hard link keeps the
        // old inode alive so the successor's file gets a different inode number.
        #expect(link(path, dir.file("old.sock")) == 0)
        unlink(path)
        let second = try UnixSocketServer(loop: loop, path: path)
        first.close()
        #expect(access(path, F_OK) == 0)
        second.close()
        #expect(access(path, F_OK) != 0)
        loop.close()
    }
}

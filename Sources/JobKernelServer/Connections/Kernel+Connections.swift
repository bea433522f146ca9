import Glibc
import JobKernelCore
import JobKernelIO

/// Serving peers: the socket and stdio, each accepted connection, what it reads and its close.
extension Kernel {
    /// Serves the Unix socket at `path`, or the listening socket `inheritedFD` that a service
    /// manager bound there (socket activation).
    public func listen(path: String, mode: mode_t, inheritedFD: Int32? = nil) throws {
        let server: UnixSocketServer
        if let fd = inheritedFD {
            server = try UnixSocketServer(loop: loop, inheritedFD: fd, path: path)
        } else {
            server = try UnixSocketServer(loop: loop, path: path, mode: mode)
        }
        server.onConnection = { [unowned self] stream in self.accept(stream) }
        self.server = server
    }

    /// Serves one client on stdin/stdout; the kernel shuts down when stdin closes.
    public func serveStdio() throws {
        serve(try Stdio(loop: loop), kind: .stdio)
    }

    /// Installs SIGTERM and SIGINT handlers for a graceful shutdown.
    public func handleSignals() {
        for sig in [SIGTERM, SIGINT] {
            guard let w = try? SignalWatcher(loop: loop, signal: sig, { [unowned self] in self.shutdown() }) else { continue }
            w.unref()
            signalWatchers.append(w)
        }
    }

    /// Runs until shutdown. Returns the process exit code.
    public func run() -> Int32 {
        loop.run()
        return exitCode
    }

    private func accept(_ stream: Stream) {
        if let uid = stream.peerUID, uid != getuid(), uid != 0, !config.security.allowUIDs.contains(uid) {
            stream.close()
            return
        }
        serve(stream, kind: .socket)
    }

    @discardableResult
    func serve(_ channel: DuplexStream, kind: Connection.Kind) -> Connection {
        let conn = Connection(id: connections.newID(), kind: kind, channel: channel,
                              maxMessageBytes: config.limits.maxMessageBytes)
        connections.opened(conn)
        channel.onRead = { [unowned self, unowned conn] bytes in self.received(bytes, on: conn) }
        channel.onEOF = { [unowned self, unowned conn] in self.receivedEOF(on: conn) }
        channel.onClose = { [unowned self, unowned conn] in self.closed(conn) }
        channel.startReading()
        return conn
    }

    static func executablePath() -> String {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { readlink("/proc/self/exe", $0.baseAddress!, $0.count - 1) }
        }
        return n > 0 ? String(decoding: buf[..<n], as: UTF8.self) : CommandLine.arguments[0]
    }

    private func received(_ bytes: UnsafeRawBufferPointer, on conn: Connection) {
        conn.feed(bytes)
        while let frame = conn.nextFrame() { handle(frame, on: conn) }
    }

    private func receivedEOF(on conn: Connection) {
        if let frame = conn.finalFrame() { handle(frame, on: conn) }
        conn.readEOF = true
        markDirty(conn)
    }

    private func closed(_ conn: Connection) {
        guard !conn.isClosed else { return }
        conn.isClosed = true
        connections.closed(conn)
        events.connectionClosed(conn.id)
        for lease in broker.connectionClosed(conn.id) {
            try? apply(lease.jobID, unit: lease.index, .unitLost(index: lease.index, reason: "lease expired"))
        }
        if conn.kind == .stdio { shutdown() }
    }

    /// Queues the connection for this turn's flush, once however many messages it got.
    func markDirty(_ conn: Connection) { connections.markDirty(conn) }
}

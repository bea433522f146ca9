import Glibc

/// Set by SIGTERM/SIGINT while a bridge runs; its poll loop then ends (`.interrupted`).
/// `nonisolated(unsafe)`: a `sig_atomic_t` written only by the signal handler and read only by
/// the bridge's one thread, as C allows for signal handlers.
nonisolated(unsafe) private var bridgeInterrupted: sig_atomic_t = 0

/// Relays bytes between this process's stdin/stdout and a kernel's Unix socket, both ways, until
/// one side ends (docs/promises.md §1: `serve --stdio` attaching to the kernel that owns the database).
///
/// The relay is byte-transparent: the kernel detects the framing (NDJSON or Content-Length) from
/// the first bytes the client sends and answers in it, batches included, exactly as if the client
/// were connected to the socket itself. When stdin reaches EOF the bridge half-closes the socket;
/// the kernel answers every request it already received, then closes, and the bridge returns
/// `.clientClosed` once those answers are written. When the kernel closes first, `.kernelClosed`.
///
/// One thread, `poll(2)`, bounded buffers in both directions (a side that does not read slows the
/// other down instead of growing memory). Descriptors that are not terminals are switched to
/// non-blocking for the relay and restored afterwards.
public final class StdioBridge {
    /// How a relay ended.
    public enum Outcome: Equatable, Sendable {
        /// stdin reached EOF and every answer the kernel sent afterwards reached stdout.
        case clientClosed
        /// stdout can no longer be written (the client went away).
        case clientGone
        /// The kernel closed the connection (or reset it) while the client was still there.
        case kernelClosed
        /// SIGTERM or SIGINT asked the bridge to stop.
        case interrupted
        /// Reading or writing failed for another reason.
        case failed(String)
    }

    /// The socket path the bridge is connected to.
    public let socketPath: String

    private let input: Int32
    private let output: Int32
    private var socket: Int32
    private static let chunk = 65536
    private static let bufferLimit = 1 << 20

    /// Connects to the kernel at `socketPath`; throws `.noKernel` when nothing accepts there.
    public init(socketPath: String, input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) throws(ClientError) {
        self.socketPath = socketPath
        self.input = input
        self.output = output
        socket = try UnixSocket.connect(path: socketPath)
    }

    deinit {
        if socket >= 0 { Glibc.close(socket) }
    }

    /// Relays until one side ends; see `Outcome`.
    public func run() -> Outcome {
        signal(SIGPIPE, SIG_IGN)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in bridgeInterrupted = 1 }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0  // no SA_RESTART: poll returns EINTR
        sigaction(SIGTERM, &action, nil)
        sigaction(SIGINT, &action, nil)
        let restoreInput = StdioBridge.makeNonBlocking(input)
        let restoreOutput = StdioBridge.makeNonBlocking(output)
        let restoreSocket = StdioBridge.makeNonBlocking(socket)
        defer {
            restoreInput()
            restoreOutput()
            restoreSocket()
        }
        var toKernel = ByteQueue()
        var toClient = ByteQueue()
        var inputEOF = false
        var kernelEOF = false
        var halfClosed = false
        var kernelGone = false  // writing to the kernel failed: nothing more goes to it

        while true {
            if inputEOF && toKernel.isEmpty && !halfClosed && !kernelEOF && !kernelGone {
                _ = shutdown(socket, Int32(SHUT_WR))
                halfClosed = true
            }
            if kernelEOF && toClient.isEmpty {
                return inputEOF ? .clientClosed : .kernelClosed
            }
            // poll ignores negative descriptors: a side that has ended is left out
            var fds = [
                pollfd(fd: inputEOF ? -1 : input,
                       events: toKernel.count < StdioBridge.bufferLimit ? Int16(POLLIN) : 0, revents: 0),
                pollfd(fd: kernelEOF ? -1 : socket,
                       events: (toClient.count < StdioBridge.bufferLimit ? Int16(POLLIN) : 0)
                           | (toKernel.isEmpty || kernelGone ? 0 : Int16(POLLOUT)),
                       revents: 0),
                pollfd(fd: output, events: toClient.isEmpty ? 0 : Int16(POLLOUT), revents: 0),
            ]
            if bridgeInterrupted != 0 { return .interrupted }
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if bridgeInterrupted != 0 { return .interrupted }
            if ready < 0 {
                if errno == EINTR { continue }
                return .failed("poll: \(KernelClient.lastError())")
            }
            let (inEvents, kernelEvents, outEvents) = (fds[0].revents, fds[1].revents, fds[2].revents)
            // stdin → kernel
            if inEvents & Int16(POLLNVAL) != 0 {
                inputEOF = true  // a closed stdin reads as EOF
            } else if inEvents != 0 {
                switch StdioBridge.read(input, into: &toKernel) {
                case .data, .again: break
                case .eof: inputEOF = true
                case .error(let code): return .failed("cannot read stdin: \(String(cString: strerror(code)))")
                }
            }
            if kernelEvents & Int16(POLLOUT | POLLERR | POLLHUP) != 0 && !toKernel.isEmpty {
                switch StdioBridge.write(socket, from: &toKernel) {
                case .ok: break
                case .closed:
                    // the kernel stopped reading: what it already sent is still read below, to EOF
                    kernelGone = true
                case .error(let reason): return .failed("cannot write to the kernel at \(socketPath): \(reason)")
                }
            }
            // kernel → stdout
            if kernelEvents & Int16(POLLIN | POLLHUP | POLLERR) != 0 && !kernelEOF {
                switch StdioBridge.read(socket, into: &toClient) {
                case .data, .again: break
                case .eof: kernelEOF = true
                case .error(let code):
                    guard code == ECONNRESET else {
                        return .failed("cannot read from the kernel at \(socketPath): \(String(cString: strerror(code)))")
                    }
                    kernelEOF = true
                }
            }
            if kernelEOF || kernelGone { toKernel.removeAll() }
            if outEvents & Int16(POLLOUT) != 0 {
                switch StdioBridge.write(output, from: &toClient) {
                case .ok: break
                case .closed: return .clientGone
                case .error(let reason): return .failed("cannot write stdout: \(reason)")
                }
            } else if outEvents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 {
                return .clientGone
            }
        }
    }

    // MARK: - I/O

    private enum ReadResult { case data, eof, again, error(Int32) }
    private enum WriteResult { case ok, closed, error(String) }

    private static func read(_ fd: Int32, into queue: inout ByteQueue) -> ReadResult {
        var buffer = [UInt8](repeating: 0, count: chunk)
        let got = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, chunk) }
        if got > 0 {
            queue.append(buffer[0..<got])
            return .data
        }
        if got == 0 { return .eof }
        if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { return .again }
        return .error(errno)
    }

    private static func write(_ fd: Int32, from queue: inout ByteQueue) -> WriteResult {
        while !queue.isEmpty {
            let written = queue.withPending { raw in
                send(fd, raw.baseAddress!, raw.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if written >= 0 {
                queue.consume(written)
                continue
            }
            if errno == ENOTSOCK {
                // a pipe, a file or a terminal: send(2) does not apply
                let plain = queue.withPending { raw in Glibc.write(fd, raw.baseAddress!, raw.count) }
                if plain >= 0 {
                    queue.consume(plain)
                    continue
                }
            }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .ok }
            if errno == EPIPE || errno == ECONNRESET { return .closed }
            return .error(KernelClient.lastError())
        }
        return .ok
    }

    /// Sets O_NONBLOCK on `fd` unless it is a terminal; returns what restores the old flags.
    private static func makeNonBlocking(_ fd: Int32) -> () -> Void {
        guard isatty(fd) == 0 else { return {} }
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, flags & O_NONBLOCK == 0 else { return {} }
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        return { _ = fcntl(fd, F_SETFL, flags) }
    }
}

/// A FIFO of bytes with cheap removal from the front.
private struct ByteQueue {
    private var bytes: [UInt8] = []
    private var start = 0

    var isEmpty: Bool { start == bytes.count }
    var count: Int { bytes.count - start }

    mutating func append(_ more: ArraySlice<UInt8>) {
        if start > 0 && start == bytes.count {
            bytes.removeAll(keepingCapacity: true)
            start = 0
        }
        bytes.append(contentsOf: more)
    }

    mutating func consume(_ n: Int) {
        start += n
        if start == bytes.count {
            bytes.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 1 << 16 && start > bytes.count / 2 {
            bytes.removeFirst(start)
            start = 0
        }
    }

    mutating func removeAll() {
        bytes.removeAll()
        start = 0
    }

    func withPending<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start...])) }
    }
}

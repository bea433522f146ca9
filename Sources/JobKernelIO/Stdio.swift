import CLibUV
import Glibc

/// One client over the process's stdin (read) and stdout (write), presented as one duplex stream.
///
/// Each side picks its libuv handle with `uv_guess_handle`: pipes and sockets get a `uv_pipe_t`,
/// TTYs a `uv_tty_t`, regular files and character devices (`< requests.jsonl`, `< /dev/null`)
/// are read with `uv_fs_read` and written with plain blocking `write(2)`. A closed descriptor
/// reads as immediate EOF and swallows writes. The object stays alive until `onClose`.
public final class Stdio: DuplexStream {
    private enum Input {
        case stream(Stream)
        case file(FileReader)
        case none
    }

    private enum Output {
        case stream(Stream)
        case file(Int32)
        case none
    }

    /// The loop both sides run on.
    public let loop: EventLoop
    /// Bytes from stdin; the buffer is only valid during the call.
    public var onRead: ((UnsafeRawBufferPointer) -> Void)?
    /// stdin reached EOF; stdout still works.
    public var onEOF: (() -> Void)?
    /// Both sides are closed; fires once, after every other callback.
    public var onClose: (() -> Void)?
    /// Queued stdout writes have all reached the kernel.
    public var onWritesDrained: (() -> Void)?
    /// The error that closed the channel, if any.
    public private(set) var closeError: UVError?
    /// True once `close()` was called or an error closed the channel.
    public private(set) var isClosed = false
    /// Not a socket peer: always nil.
    public var peerUID: UInt32? { nil }
    /// Not a socket peer: always nil.
    public var peerPID: Int32? { nil }

    private var input: Input = .none
    private var output: Output = .none
    private let outputFD: Int32
    private var inputOpen = true
    private var outputOpen = true
    private var writeShut = false
    private var eofReported = false
    private var closeReported = false

    /// Serves stdin/stdout, or other descriptors for tests; descriptors above 2 are owned and closed.
    public init(loop: EventLoop, inputFD: Int32 = 0, outputFD: Int32 = 1) throws(UVError) {
        self.loop = loop
        self.outputFD = outputFD
        switch uv_guess_handle(inputFD) {
        case UV_FILE:
            let reader = FileReader(loop: loop, fd: inputFD)
            input = .file(reader)
        case UV_UNKNOWN_HANDLE:
            input = .none
        default:
            input = .stream(try Stream(loop: loop, fd: inputFD, ttyReadable: true))
        }
        switch uv_guess_handle(outputFD) {
        case UV_FILE:
            output = .file(outputFD)
        case UV_UNKNOWN_HANDLE:
            output = .none
        default:
            do {
                output = .stream(try Stream(loop: loop, fd: outputFD, ttyReadable: false))
            } catch {
                if case .stream(let stream) = input { stream.close() }
                throw error
            }
        }
        wire()
    }

    // Closures capture self strongly on purpose: open handles keep the Stdio alive; the
    // streams drop their callbacks after closing, which ends the cycle.
    private func wire() {
        switch input {
        case .stream(let stream):
            stream.onRead = { self.onRead?($0) }
            stream.onEOF = { self.inputEnded() }
            stream.onClose = {
                self.inputOpen = false
                // A side that closes by itself (an error, EventLoop.close) takes the channel down.
                if let error = stream.closeError { self.fail(error) } else { self.close() }
                self.finishCloseIfDone()
            }
        case .file(let reader):
            reader.onRead = { self.onRead?($0) }
            reader.onEOF = { self.inputEnded() }
            reader.onError = { self.fail($0) }
        case .none:
            break
        }
        if case .stream(let stream) = output {
            stream.onWritesDrained = { self.onWritesDrained?() }
            stream.onClose = {
                self.outputOpen = false
                if let error = stream.closeError {
                    self.fail(error)
                } else if !self.writeShut {
                    self.close()
                }
                self.finishCloseIfDone()
            }
        }
    }

    private func inputEnded() {
        guard !eofReported, !isClosed else { return }
        eofReported = true
        onEOF?()
    }

    /// Bytes accepted by `write` that stdout has not taken yet.
    public var pendingWriteBytes: Int {
        if case .stream(let stream) = output { return stream.pendingWriteBytes }
        return 0
    }

    /// Starts (or resumes) reading stdin.
    public func startReading() {
        guard !isClosed else { return }
        switch input {
        case .stream(let stream): stream.startReading()
        case .file(let reader): reader.start()
        case .none: loop.deferred { self.inputEnded() }
        }
    }

    /// Pauses reading stdin.
    public func stopReading() {
        switch input {
        case .stream(let stream): stream.stopReading()
        case .file(let reader): reader.stop()
        case .none: break
        }
    }

    /// Writes to stdout; dropped after close or `shutdownWrite`.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosed, !writeShut, bytes.count > 0 else { return }
        switch output {
        case .stream(let stream):
            stream.write(bytes)
        case .file(let fd):
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    fail(UVError(-errno, "write"))
                    return
                }
                offset += n
            }
        case .none:
            break
        }
    }

    /// Flushes stdout, then closes our side of it (fds 0–2 are pointed at /dev/null so the reader sees EOF), then calls `then`.
    public func shutdownWrite(then: @escaping () -> Void) {
        guard !isClosed, !writeShut else {
            loop.deferred(then)
            return
        }
        writeShut = true
        guard case .stream(let stream) = output else {
            loop.deferred(then)
            return
        }
        stream.shutdownWrite {
            let previous = stream.onClose
            stream.onClose = {
                self.releaseOutputDescriptor()
                previous?()
                then()
            }
            stream.close()
        }
    }

    /// libuv never closes fds 0–2; replacing stdout with /dev/null ends the pipe for the reader
    /// while keeping descriptor 1 valid (so a stray print cannot land in a reused descriptor).
    private func releaseOutputDescriptor() {
        guard outputFD <= 2 else { return }
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        if null >= 0 {
            dup2(null, outputFD)
            Glibc.close(null)
        }
    }

    /// Closes both sides now, discarding unflushed output; idempotent.
    public func close() {
        if isClosed { return }
        isClosed = true
        switch input {
        case .stream(let stream): stream.close()
        case .file(let reader):
            reader.close()
            if reader.fd > 2 { Glibc.close(reader.fd) }
            inputOpen = false
        case .none: inputOpen = false
        }
        switch output {
        case .stream(let stream): stream.close()
        case .file(let fd):
            if fd > 2 { Glibc.close(fd) }
            outputOpen = false
        case .none: outputOpen = false
        }
        // onClose always arrives on a later turn, as it does for a Stream.
        if loop.isClosed {
            finishCloseIfDone()
        } else {
            loop.deferred { self.finishCloseIfDone() }
        }
    }

    private func fail(_ error: UVError) {
        if closeError == nil { closeError = error }
        close()
    }

    private func finishCloseIfDone() {
        guard isClosed, !inputOpen, !outputOpen, !closeReported else { return }
        closeReported = true
        let onClose = self.onClose
        onRead = nil
        onEOF = nil
        self.onClose = nil
        onWritesDrained = nil
        onClose?()
    }
}

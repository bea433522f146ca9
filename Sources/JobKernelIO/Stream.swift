import CLibUV
import Glibc

/// A duplex byte stream over a `uv_pipe_t` (Unix socket, pipe) or `uv_tty_t`.
///
/// Lifetime: an open stream is retained by its libuv handle until the close callback, so a
/// stream nobody references stays open (and keeps the loop alive while reading) until `close()`.
/// Callbacks are dropped after `onClose`, which breaks cycles through captured references.
public final class Stream: LoopHandle, DuplexStream {
    /// Bytes received; the buffer (shared by the loop's streams) is only valid during the call.
    public var onRead: ((UnsafeRawBufferPointer) -> Void)?
    /// The peer half-closed its write side; reading has stopped, writing still works.
    public var onEOF: (() -> Void)?
    /// The stream is closed and freed; fires once, after every other callback.
    public var onClose: (() -> Void)?
    /// Queued writes have all reached the kernel.
    public var onWritesDrained: (() -> Void)?
    /// The error that closed the stream, if any.
    public private(set) var closeError: UVError?
    /// The peer's uid when the stream is a Unix socket.
    public private(set) var peerUID: UInt32?
    /// The peer's pid when the stream is a Unix socket.
    public private(set) var peerPID: Int32?
    /// True while `onRead` is armed.
    public private(set) var isReading = false
    /// True once the peer's EOF was seen.
    public private(set) var sawEOF = false
    /// True once `shutdownWrite` was called; later writes are dropped.
    public private(set) var isWriteShut = false

    private var shutdownContinuation: (() -> Void)?
    private var drainPending = false

    /// Takes over an initialised pipe or TTY handle.
    init(loop: EventLoop, stream raw: UnsafeMutableRawPointer) {
        super.init(loop: loop, raw: raw)
        readPeerCredentials()
    }

    /// Wraps an open socket, pipe or TTY descriptor and owns it (descriptors above 2 are closed with the stream).
    public convenience init(loop: EventLoop, fd: Int32) throws(UVError) {
        try self.init(loop: loop, fd: fd, ttyReadable: true)
    }

    /// Wraps `fd`; a TTY is either readable or writable in libuv, hence `ttyReadable`.
    convenience init(loop: EventLoop, fd: Int32, ttyReadable: Bool) throws(UVError) {
        let raw: UnsafeMutableRawPointer
        switch uv_guess_handle(fd) {
        case UV_TTY:
            raw = LoopHandle.allocate(UV_TTY, on: loop)
            let status = uv_tty_init(loop.uv, raw.assumingMemoryBound(to: uv_tty_t.self), fd, ttyReadable ? 1 : 0)
            if status < 0 {
                raw.deallocate()
                throw UVError(status, "uv_tty_init(\(fd))")
            }
        case UV_NAMED_PIPE, UV_TCP:
            raw = LoopHandle.allocate(UV_NAMED_PIPE, on: loop)
            uv_pipe_init(loop.uv, raw.assumingMemoryBound(to: uv_pipe_t.self), 0)
            let status = uv_pipe_open(raw.assumingMemoryBound(to: uv_pipe_t.self), fd)
            if status < 0 {
                LoopHandle.discard(raw)
                throw UVError(status, "uv_pipe_open(\(fd))")
            }
        default:
            // Regular files and character devices cannot be polled (epoll refuses them and
            // libuv 1.44 aborts); Stdio reads those with uv_fs_read instead.
            throw UVError(UV_EINVAL.rawValue, "Stream(fd: \(fd)) needs a socket, pipe or TTY")
        }
        self.init(loop: loop, stream: raw)
    }

    private var stream: UnsafeMutablePointer<uv_stream_t> { raw.assumingMemoryBound(to: uv_stream_t.self) }

    /// The underlying descriptor while open.
    public var fileDescriptor: Int32? {
        guard !isClosed else { return nil }
        var fd: uv_os_fd_t = -1
        return uv_fileno(handle, &fd) == 0 ? fd : nil
    }

    private func readPeerCredentials() {
        guard handle.pointee.type == UV_NAMED_PIPE, let fd = fileDescriptor else { return }
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        if jk_peer_credentials(fd, &pid, &uid, &gid) == 0 {
            peerUID = uid
            peerPID = pid
        }
    }

    /// Bytes accepted by `write` that the OS has not taken yet.
    public var pendingWriteBytes: Int {
        isClosed ? 0 : Int(uv_stream_get_write_queue_size(stream))
    }

    /// Starts (or resumes) delivering `onRead`; a no-op after EOF or close.
    public func startReading() {
        guard !isClosed, !sawEOF, !isReading else { return }
        let status = uv_read_start(stream, { handle, _, buf in
            guard let handle, let buf, let data = handle.pointee.data else { return }
            let owner = Unmanaged<Stream>.fromOpaque(data).takeUnretainedValue()
            buf.pointee = uv_buf_init(owner.loop.readBuffer.assumingMemoryBound(to: CChar.self),
                                      UInt32(EventLoop.readBufferSize))
        }, { stream, nread, buf in
            guard let stream, let data = stream.pointee.data else { return }
            Unmanaged<Stream>.fromOpaque(data).takeUnretainedValue().didRead(nread, buf)
        })
        if status < 0 {
            fail(UVError(status, "uv_read_start"))
        } else {
            isReading = true
        }
    }

    private func didRead(_ nread: Int, _ buf: UnsafePointer<uv_buf_t>?) {
        if nread > 0, let base = buf?.pointee.base {
            onRead?(UnsafeRawBufferPointer(start: base, count: nread))
        } else if nread == Int(UV_EOF.rawValue) {
            // libuv has already stopped reading.
            isReading = false
            sawEOF = true
            onEOF?()
        } else if nread < 0 {
            isReading = false
            fail(UVError(Int32(nread), "read"))
        }
        // nread == 0 is EAGAIN: nothing to do.
    }

    /// Pauses `onRead`; no read callback fires until `startReading()`.
    public func stopReading() {
        guard !isClosed, isReading else { return }
        uv_read_stop(stream)
        isReading = false
    }

    /// Writes what the OS takes now (no copy) and queues a copy of the rest; errors close the stream.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosed, !isWriteShut, var base = bytes.baseAddress, bytes.count > 0 else { return }
        var remaining = bytes.count
        // uv_try_write refuses (EAGAIN) while anything is queued, which keeps the order.
        var buf = uv_buf_init(UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: CChar.self)),
                              UInt32(clamping: remaining))
        let written = uv_try_write(stream, &buf, 1)
        if written > 0 {
            base += Int(written)
            remaining -= Int(written)
            if remaining == 0 { return }
        } else if written < 0 && written != UV_EAGAIN.rawValue {
            fail(UVError(written, "write"))
            return
        }
        while remaining > 0 {
            let chunk = min(remaining, Int(UInt32.max / 2))
            if !enqueue(UnsafeRawBufferPointer(start: base, count: chunk)) { return }
            base += chunk
            remaining -= chunk
        }
    }

    /// Copies `bytes` into one allocation holding the `uv_write_t` and the data, freed in the write callback.
    private func enqueue(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let header = (MemoryLayout<uv_write_t>.stride + 15) & ~15
        let block = UnsafeMutableRawPointer.allocate(byteCount: header + bytes.count, alignment: 16)
        let payload = block + header
        payload.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        let request = block.bindMemory(to: uv_write_t.self, capacity: 1)
        var buf = uv_buf_init(payload.assumingMemoryBound(to: CChar.self), UInt32(bytes.count))
        let status = uv_write(request, stream, &buf, 1) { request, status in
            guard let request else { return }
            let handle = request.pointee.handle
            UnsafeMutableRawPointer(request).deallocate()
            guard let data = handle?.pointee.data else { return }
            Unmanaged<Stream>.fromOpaque(data).takeUnretainedValue().didWrite(status)
        }
        if status < 0 {
            block.deallocate()
            fail(UVError(status, "write"))
            return false
        }
        drainPending = true
        return true
    }

    private func didWrite(_ status: Int32) {
        if status == UV_ECANCELED.rawValue { return }
        if status < 0 {
            fail(UVError(status, "write"))
        } else if drainPending && !isClosed && uv_stream_get_write_queue_size(stream) == 0 {
            drainPending = false
            onWritesDrained?()
        }
    }

    /// Half-closes our side (`uv_shutdown`) after queued writes flush, then calls `then` (also on failure).
    /// On pipes, which cannot half-close, the flush still happens and the ENOTSOCK is ignored.
    public func shutdownWrite(then: @escaping () -> Void) {
        guard !isClosed, !isWriteShut else {
            if isClosed { then() } else { chainShutdown(then) }
            return
        }
        isWriteShut = true
        shutdownContinuation = then
        let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
        let status = uv_shutdown(request, stream) { request, _ in
            guard let request else { return }
            let handle = request.pointee.handle
            request.deallocate()
            guard let data = handle?.pointee.data else { return }
            let owner = Unmanaged<Stream>.fromOpaque(data).takeUnretainedValue()
            let continuation = owner.shutdownContinuation
            owner.shutdownContinuation = nil
            continuation?()
        }
        if status < 0 {
            request.deallocate()
            shutdownContinuation = nil
            // Nothing to flush through a shutdown request: the write side is as done as it gets.
            then()
        }
    }

    private func chainShutdown(_ then: @escaping () -> Void) {
        if let previous = shutdownContinuation {
            shutdownContinuation = { previous(); then() }
        } else {
            then()
        }
    }

    private func fail(_ error: UVError) {
        if closeError == nil { closeError = error }
        close()
    }

    override func willClose() {
        isReading = false
    }

    override func didClose() {
        let onClose = self.onClose
        onRead = nil
        onEOF = nil
        self.onClose = nil
        onWritesDrained = nil
        shutdownContinuation = nil
        onClose?()
    }
}

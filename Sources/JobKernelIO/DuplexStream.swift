/// A full-duplex byte channel on the loop: a socket client, stdio, later a worker's pipes.
///
/// All members are used on the loop's thread. Callbacks never fire synchronously from the
/// method that caused them, except `shutdownWrite`'s continuation on an already closed stream.
public protocol DuplexStream: AnyObject {
    /// Bytes received; the buffer is only valid during the call.
    var onRead: ((UnsafeRawBufferPointer) -> Void)? { get set }
    /// The peer half-closed its write side; reading has stopped, writing still works.
    var onEOF: (() -> Void)? { get set }
    /// The stream is closed and its resources freed; fires exactly once, after every other callback.
    var onClose: (() -> Void)? { get set }
    /// Queued writes have all reached the kernel (fires after `pendingWriteBytes` was > 0).
    var onWritesDrained: (() -> Void)? { get set }
    /// True once `close()` was called or an error closed the stream.
    var isClosed: Bool { get }
    /// The error that closed the stream, if one did (read error, write error such as EPIPE).
    var closeError: UVError? { get }
    /// Bytes accepted by `write` that the OS has not taken yet.
    var pendingWriteBytes: Int { get }
    /// The peer's uid (SO_PEERCRED) when the stream is a Unix socket.
    var peerUID: UInt32? { get }
    /// The peer's pid (SO_PEERCRED) when the stream is a Unix socket.
    var peerPID: Int32? { get }
    /// Starts (or resumes) delivering `onRead`.
    func startReading()
    /// Pauses `onRead` (backpressure); no read callback fires until `startReading()`.
    func stopReading()
    /// Queues bytes in order; dropped after close or `shutdownWrite`; an error closes the stream.
    func write(_ bytes: UnsafeRawBufferPointer)
    /// Half-closes our write side once queued writes are flushed, then calls `then`.
    func shutdownWrite(then: @escaping () -> Void)
    /// Closes now, discarding unflushed writes; idempotent. Use `shutdownWrite { close() }` to flush first.
    func close()
}

extension DuplexStream {
    /// Queues a byte array (see `write(_: UnsafeRawBufferPointer)`).
    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Queues the UTF-8 bytes of a string.
    public func write(_ string: String) {
        var string = string
        string.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }
}

import JobKernelIO

/// A worker's stdout (read) and stdin (write) as one duplex channel for its `Connection`.
final class PipePair: DuplexStream {
    let input: Stream
    let output: Stream
    var onRead: ((UnsafeRawBufferPointer) -> Void)? {
        get { input.onRead }
        set { input.onRead = newValue }
    }
    var onEOF: (() -> Void)? {
        get { input.onEOF }
        set { input.onEOF = newValue }
    }
    var onClose: (() -> Void)?
    var onWritesDrained: (() -> Void)?
    var isClosed: Bool { input.isClosed && output.isClosed }
    var closeError: UVError? { input.closeError ?? output.closeError }
    var pendingWriteBytes: Int { output.pendingWriteBytes }
    var peerUID: UInt32? { nil }
    var peerPID: Int32? { nil }

    init(input: Stream, output: Stream) {
        self.input = input
        self.output = output
        input.onClose = { [unowned self] in self.sideClosed() }
        output.onClose = { [unowned self] in self.sideClosed() }
    }

    private var closedSides = 0
    private func sideClosed() {
        closedSides += 1
        if closedSides == 2 { onClose?() }
    }

    func startReading() { input.startReading() }
    func stopReading() { input.stopReading() }
    func write(_ bytes: UnsafeRawBufferPointer) { output.write(bytes) }
    func shutdownWrite(then: @escaping () -> Void) { output.shutdownWrite(then: then) }
    func close() {
        input.close()
        output.close()
    }
}

import NIOCore

/// Splits the kernel's newline-delimited JSON into one buffer per line (without the newline).
///
/// The kernel answers a client in the framing the client used (docs/promises.md §3); the gateway always
/// speaks NDJSON, so every message from the kernel is one line. A line longer than `maxLineBytes`
/// is a broken peer: the decoder throws and the connection closes.
struct LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    let maxLineBytes: Int
    /// Where the search for the next newline resumes, so a long line is scanned once.
    private var scanned = 0

    init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        let start = view.startIndex + scanned
        guard let newline = view[start...].firstIndex(of: 0x0A) else {
            scanned = view.count
            if scanned > maxLineBytes { throw LineTooLong(limit: maxLineBytes) }
            return .needMoreData
        }
        let length = newline - view.startIndex
        let line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        scanned = 0
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            // A last line without its newline is still a message.
            let rest = buffer.readSlice(length: buffer.readableBytes)!
            scanned = 0
            context.fireChannelRead(wrapInboundOut(rest))
        }
        return .needMoreData
    }

    /// The kernel sent a line over the limit.
    struct LineTooLong: Error, CustomStringConvertible {
        let limit: Int
        var description: String { "the kernel sent a line longer than \(limit) bytes" }
    }
}

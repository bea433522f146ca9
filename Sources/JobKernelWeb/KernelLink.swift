import NIOCore
import NIOPosix

/// Connections from the gateway to the kernel's Unix socket, one per browser stream or request.
///
/// Each connection speaks newline-delimited JSON (docs/promises.md §3). Giving every SSE and WebSocket client
/// a connection of its own keeps the kernel's promise about slow readers intact: a browser that
/// stops reading stops the gateway reading its connection, the kernel's outbound buffer for it
/// fills, and the kernel drops that subscriber alone (docs/promises.md §7).
public struct KernelLink: Sendable {
    /// A connection to the kernel: inbound lines, outbound lines.
    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// The kernel's socket.
    public let socketPath: String
    let group: MultiThreadedEventLoopGroup
    /// Matches the kernel's default `limits.max_message_bytes` with room for an event's envelope.
    static let maxLineBytes = 64 << 20

    /// A link to the kernel listening at `socketPath`, on `group`'s event loops.
    public init(socketPath: String, group: MultiThreadedEventLoopGroup = .singleton) {
        self.socketPath = socketPath
        self.group = group
    }

    /// Opens a new connection whose inbound messages are lines. Throws `KernelUnavailable` when no
    /// kernel answers at the socket.
    func connect(halfClosable: Bool = false) async throws -> Connection {
        try await connect(halfClosable: halfClosable) { _ in }
    }

    /// Opens a new connection with `addHandlers` after the line decoder, which turn lines into
    /// `Inbound` messages. Throws `KernelUnavailable` when no kernel answers at the socket.
    func connect<Inbound: Sendable>(
        halfClosable: Bool = false,
        highWatermark: Int = 256,
        addHandlers: @escaping @Sendable (any Channel) throws -> Void
    ) async throws -> NIOAsyncChannel<Inbound, ByteBuffer> {
        do {
            return try await ClientBootstrap(group: group)
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(LineFrameDecoder(maxLineBytes: KernelLink.maxLineBytes)))
                        try addHandlers(channel)
                        return try NIOAsyncChannel<Inbound, ByteBuffer>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(
                                backPressureStrategy: .init(lowWatermark: highWatermark / 4, highWatermark: highWatermark),
                                isOutboundHalfClosureEnabled: halfClosable))
                    }
                }
        } catch {
            throw KernelUnavailable(socketPath: socketPath, reason: "\(error)")
        }
    }

    /// Sends one message as a line; raw newlines become spaces, which changes no valid JSON text
    /// (JSON strings cannot hold a raw newline) and keeps the message one frame.
    static func line(_ bytes: some Collection<UInt8>) -> ByteBuffer {
        var message = Array(bytes)
        message.withUnsafeMutableBufferPointer { raw in
            for index in raw.indices where raw[index] == 0x0A || raw[index] == 0x0D { raw[index] = 0x20 }
        }
        message.append(0x0A)
        return ByteBuffer(bytes: message)
    }
}

/// No kernel answers at the socket (not started, restarting, or the path is wrong).
public struct KernelUnavailable: Error, CustomStringConvertible {
    /// The socket the gateway tried.
    public let socketPath: String
    /// What connect(2) said.
    public let reason: String
    public var description: String {
        "no kernel answers at \(socketPath) (\(reason)); start one with `jobkernel serve` or pass --socket"
    }
}

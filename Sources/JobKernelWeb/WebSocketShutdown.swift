import NIOCore

/// Ends a WebSocket when the gateway stops (SIGTERM). HummingbirdWebSocket sends a close frame
/// (1000) then, but waits for the client's answer, and the process with it: a client that never
/// answers kept the gateway running. This handler closes the connection at once, after a close
/// frame of its own (1001, going away) should it get there first. It sits at the front of the
/// pipeline, below the frame codec, so it writes its frame as raw bytes, between whole frames.
final class WebSocketShutdown: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    /// A server's close frame: FIN + close opcode, unmasked, 2 bytes of payload, code 1001.
    static let goingAway: [UInt8] = [0x88, 0x02, 0x03, 0xE9]

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let frame = context.channel.allocator.buffer(bytes: Self.goingAway)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(NIOAny(frame)).whenComplete { _ in loopBound.value.close(promise: nil) }
    }
}

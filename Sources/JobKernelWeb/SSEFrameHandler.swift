import JobKernelCore
import NIOCore

/// What a kernel connection that serves one `GET /events` stream hands the response writer.
enum StreamMessage: Sendable {
    /// Server-Sent Events text for one or more events, ready to write; `lastSeq` is the last one's.
    case frames(ByteBuffer, lastSeq: Int)
    /// The `subscribe` succeeded; `seq` is the kernel's latest at that moment.
    case subscribed(seq: Int)
    /// The `subscribe` failed with this JSON-RPC error.
    case subscribeFailed(code: Int, error: JSON)
    /// The kernel dropped the subscription for falling behind (docs/promises.md §7).
    case dropped(lastSeq: Int?)
    /// Time for a comment that keeps proxies from closing an idle stream.
    case heartbeat
}

/// Turns the kernel's lines into Server-Sent Events on the event loop (docs/promises.md §14): each event
/// becomes `id: <seq>` and `data: <event object>`.
///
/// Events read in one go from the socket leave as one buffer on `channelReadComplete`, so a burst
/// costs the browser's connection one write, not one per event. A steady stream is written at most
/// once per `coalescing` (5 ms): an event that comes after a quiet spell leaves at once, and the
/// ones that follow it closely wait for the next write. An event at or below the cursor is dropped,
/// so a stream never repeats one, whatever a resume replays.
final class SSEFrameHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = StreamMessage

    /// The last seq passed on (or the point the stream resumes after).
    private var cursor: Int?
    private var pending = ByteBuffer()
    private var pendingLastSeq = 0
    private let heartbeatEvery: TimeAmount
    private var heartbeat: RepeatedTask?
    /// When events last left; nil before the first time.
    private var lastFlush: NIODeadline?
    private var scheduledFlush: Scheduled<Void>?
    /// The shortest time between two writes of a steady stream.
    static let coalescing = TimeAmount.milliseconds(5)
    /// Pending text past this leaves at once.
    static let maxPendingBytes = 64 << 10

    init(cursor: Int?, heartbeatEvery: TimeAmount) {
        self.cursor = cursor
        self.heartbeatEvery = heartbeatEvery
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        heartbeat = context.eventLoop.scheduleRepeatedTask(initialDelay: heartbeatEvery, delay: heartbeatEvery) { _ in
            let context = loopBound.value
            // NIOAsyncChannel hands reads on at read-complete, so a read of our own needs one too.
            context.fireChannelRead(Self.wrapInboundOut(.heartbeat))
            context.fireChannelReadComplete()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        heartbeat?.cancel()
        heartbeat = nil
        scheduledFlush?.cancel()
        scheduledFlush = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        guard line.readableBytes > 0 else { return }
        let message: KernelMessage
        do {
            message = try KernelMessage.classify(line)
        } catch {
            context.fireErrorCaught(error)
            return
        }
        switch message {
        case .event(let seq, let object):
            if let cursor, seq <= cursor { return }
            cursor = seq
            pending.writeString("id: \(seq)\ndata: ")
            pending.writeImmutableBuffer(object)
            pending.writeString("\n\n")
            pendingLastSeq = seq
        case .dropped(let lastSeq):
            flush(context: context)
            context.fireChannelRead(wrapInboundOut(.dropped(lastSeq: lastSeq)))
        case .response(_, let result, let error):
            flush(context: context)
            if let error {
                let code = error["code"]?.intValue ?? 0
                context.fireChannelRead(wrapInboundOut(.subscribeFailed(code: code, error: error)))
            } else {
                let seq = result?["seq"]?.intValue ?? 0
                if cursor == nil { cursor = seq }
                context.fireChannelRead(wrapInboundOut(.subscribed(seq: seq)))
            }
        case .other:
            return
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if pending.readableBytes > 0 {
            let due = (lastFlush ?? context.eventLoop.now) + Self.coalescing
            if lastFlush == nil || pending.readableBytes >= Self.maxPendingBytes || context.eventLoop.now >= due {
                flush(context: context)
            } else if scheduledFlush == nil {
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                scheduledFlush = context.eventLoop.scheduleTask(deadline: due) {
                    let (handler, context) = loopBound.value
                    handler.scheduledFlush = nil
                    handler.flush(context: context)
                    context.fireChannelReadComplete()
                }
            }
        }
        context.fireChannelReadComplete()
    }

    /// Hands the pending events on (before any other message, so the order holds).
    private func flush(context: ChannelHandlerContext) {
        guard pending.readableBytes > 0 else { return }
        scheduledFlush?.cancel()
        scheduledFlush = nil
        lastFlush = context.eventLoop.now
        context.fireChannelRead(wrapInboundOut(.frames(pending, lastSeq: pendingLastSeq)))
        pending = ByteBuffer()
    }
}

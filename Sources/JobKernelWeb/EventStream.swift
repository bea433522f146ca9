import Hummingbird
import JobKernelCore
import NIOCore
import NIOPosix

/// One `GET /events` stream (docs/promises.md §14): a subscription on a kernel connection of its own, written
/// out as Server-Sent Events.
///
/// The stream outlives the kernel: when the kernel goes away (a restart), the gateway reconnects
/// and resubscribes with `since` = the last seq it wrote, so the browser sees no gap and no
/// duplicate and never notices. A subscriber the kernel drops for falling behind is closed
/// instead: the browser's EventSource reconnects by itself with `Last-Event-ID`.
struct EventStream: Sendable {
    let link: KernelLink
    let query: EventQuery
    let heartbeatEvery: Duration
    /// Counts open streams for /metrics.
    let gauge: StreamGauge?

    /// How a kernel connection ended.
    private enum Outcome {
        /// Done: the client must reconnect (dropped) or cannot go on (a bad filter).
        case finish
        /// The kernel went away; connect again and resume.
        case kernelGone
        /// Resubscribe at once, from the new cursor (after a `reset`).
        case resubscribe
    }

    /// The browser went away while the gateway wrote to it.
    private struct ClientGone: Error {}

    /// Writes the stream until the client leaves or must reconnect.
    func run(writer: inout any ResponseBodyWriter) async throws {
        gauge?.add(1)
        defer { gauge?.add(-1) }
        var cursor = query.since
        var failures = 0
        var resets = 0
        do {
            // `retry:` makes a browser reconnect after 1 s rather than its default of a few seconds.
            try await send(": jobkernel events\nretry: 1000\n\n", to: &writer)
            while !Task.isCancelled {
                let connection: NIOAsyncChannel<StreamMessage, ByteBuffer>
                do {
                    connection = try await connect(after: cursor)
                } catch {
                    failures += 1
                    try await send(": waiting for the kernel (\(failures))\n\n", to: &writer)
                    try await Task.sleep(for: backoff(failures))
                    continue
                }
                let outcome = await pump(connection, cursor: &cursor, failures: &failures, writer: &writer)
                switch outcome {
                case .finish:
                    try? await writer.finish(nil)
                    return
                case .resubscribe:
                    // Should even the kernel's own resume point be refused, go on from its present.
                    resets += 1
                    if resets > 1 { cursor = nil }
                    continue
                case .kernelGone:
                    resets = 0
                    failures += 1
                    try await send(": the kernel went away; resuming after \(cursor.map(String.init) ?? "now")\n\n", to: &writer)
                    try await Task.sleep(for: backoff(failures))
                }
            }
        } catch is ClientGone {
            return
        } catch is CancellationError {
            return
        }
        try? await writer.finish(nil)
    }

    private func connect(after cursor: Int?) async throws -> NIOAsyncChannel<StreamMessage, ByteBuffer> {
        let heartbeat = TimeAmount(heartbeatEvery)
        // A few buffers of events at most wait here for a slow browser; past that the kernel keeps
        // the backlog, and drops the subscriber when it grows too long (docs/promises.md §7).
        return try await link.connect(highWatermark: 16) { channel in
            try channel.pipeline.syncOperations.addHandler(SSEFrameHandler(cursor: cursor, heartbeatEvery: heartbeat))
        }
    }

    /// Subscribes on `connection` and writes what comes until the connection or the stream ends.
    private func pump(
        _ connection: NIOAsyncChannel<StreamMessage, ByteBuffer>, cursor: inout Int?, failures: inout Int,
        writer: inout any ResponseBodyWriter
    ) async -> Outcome {
        let subscribe = JSON.object([
            "jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": query.subscribeParams(after: cursor),
        ])
        do {
            return try await connection.executeThenClose { inbound, outbound in
                try await outbound.write(KernelLink.line(subscribe.serialized()))
                for try await message in inbound {
                    switch message {
                    case .frames(let frames, let lastSeq):
                        try await write(frames, to: &writer)
                        cursor = lastSeq
                    case .subscribed(let seq):
                        failures = 0
                        if cursor == nil { cursor = seq }
                        // The id tells the browser where to resume even before the first event.
                        try await send("id: \(cursor!)\nevent: subscribed\ndata: {\"seq\":\(seq)}\n\n", to: &writer)
                    case .subscribeFailed(let code, let error):
                        let data = String(decoding: error.serialized(), as: UTF8.self)
                        if code == -32007 { return .kernelGone }  // shutting down: it comes back
                        if code == -32006 || (code == -32602 && error["data"]?["field"]?.stringValue == "since") {
                            // The kernel no longer has what comes after the cursor: its log was
                            // trimmed (resume from the oldest event it keeps), or it is a new kernel
                            // with a new database (replay all of it). Say so first: the client's
                            // state belongs to a history that is gone.
                            try await send("event: reset\ndata: \(data)\n\n", to: &writer)
                            let oldest = error["data"]?["oldest_seq"]?.intValue ?? 1
                            cursor = code == -32006 ? max(0, oldest - 1) : 0
                            return .resubscribe
                        }
                        try await send("event: error\ndata: \(data)\n\n", to: &writer)
                        return .finish
                    case .dropped(let lastSeq):
                        try await send(
                            ": the kernel dropped this stream for falling behind at \(lastSeq.map(String.init) ?? "?"); "
                                + "reconnect with Last-Event-ID to resume\n\n", to: &writer)
                        return .finish
                    case .heartbeat:
                        try await send(": heartbeat\n\n", to: &writer)
                    }
                }
                return .kernelGone
            }
        } catch is ClientGone {
            return .finish
        } catch {
            return .kernelGone
        }
    }

    private func send(_ text: String, to writer: inout any ResponseBodyWriter) async throws {
        try await write(ByteBuffer(string: text), to: &writer)
    }

    private func write(_ buffer: ByteBuffer, to writer: inout any ResponseBodyWriter) async throws {
        do {
            try await writer.write(buffer)
        } catch {
            throw ClientGone()
        }
    }

    /// 100 ms, 200 ms, 400 ms, … up to 1 s between attempts to reach the kernel.
    private func backoff(_ failures: Int) -> Duration {
        .milliseconds(min(1000, 100 << min(failures - 1, 4)))
    }
}

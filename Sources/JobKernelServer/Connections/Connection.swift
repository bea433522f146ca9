import JobKernelCore
import JobKernelIO

/// One JSON-RPC peer: a socket client, the stdio client, or (later) a worker's pipes.
///
/// Everything the kernel sends goes into `outbox`; only the part that a commit made safe is
/// written out (once per loop turn), so no peer ever sees a change that could still be lost.
final class Connection {
    enum Kind { case socket, stdio, worker }

    let id: UInt64
    let kind: Kind
    let channel: DuplexStream
    private(set) var decoder: FrameDecoder
    /// Framing of our output: the peer's, once detected.
    var framing: Framing { decoder.framing ?? .ndjson }
    /// The `initialize` client name: the default `created_by`.
    var clientName: String?
    var outbox: [UInt8] = []
    /// Requests received but not yet answered (long-polling fetches, unfinished batches).
    var outstanding = 0
    /// The peer half-closed: answer what was received, then close.
    var readEOF = false
    var isClosed = false
    /// Already in the kernel's list of connections to flush at the end of this turn.
    var awaitingFlush = false
    /// For a worker's pipes: the worker, and the job of the run in hand (the default parent of
    /// what it enqueues).
    weak var worker: WorkerProcess?
    var currentJobID: Int64?

    init(id: UInt64, kind: Kind, channel: DuplexStream, maxMessageBytes: Int) {
        self.id = id
        self.kind = kind
        self.channel = channel
        self.decoder = FrameDecoder(maxMessageBytes: maxMessageBytes)
    }

    /// Bytes queued for this peer and not yet taken by the socket.
    var pendingOutboundBytes: Int { outbox.count + channel.pendingWriteBytes }

    func feed(_ bytes: UnsafeRawBufferPointer) { decoder.feed(bytes) }
    func nextFrame() -> Frame? { decoder.next() }
    func finalFrame() -> Frame? { decoder.finish() }

    /// Queues one message in the peer's framing.
    func send(_ message: JSON) {
        guard !isClosed else { return }
        guard framing == .ndjson else { return sendBody(message.serialized()) }
        // Written straight onto the outbox (moved into the writer and back, not copied).
        ByteWriter.appending(to: &outbox) { writer in
            JSONWriter.write(message, into: &writer)
            writer.append(0x0A)
        }
    }

    /// Queues an already serialized message body in the peer's framing.
    func sendBody(_ body: [UInt8]) {
        guard !isClosed else { return }
        frame([body], into: &outbox)
    }

    /// Queues an event notification: its subscription's head and the tail every subscriber
    /// shares (`Kernel.eventHead`, `Kernel.eventTail`), appended as they are for a
    /// newline-delimited peer, the usual case.
    func sendEvent(head: [UInt8], tail: [UInt8]) {
        guard !isClosed else { return }
        guard framing == .ndjson else { return frame([head, tail], into: &outbox) }
        outbox.append(contentsOf: head)
        outbox.append(contentsOf: tail)
        outbox.append(0x0A)
    }

    /// Appends a message body, given in parts, in the peer's framing.
    private func frame(_ parts: [[UInt8]], into out: inout [UInt8]) {
        let length = parts.reduce(0) { $0 + $1.count }
        if framing == .contentLength {
            out.append(contentsOf: Array("Content-Length: \(length)\r\n\r\n".utf8))
        }
        for part in parts { out.append(contentsOf: part) }
        if framing == .ndjson { out.append(0x0A) }
    }

    /// Queues a message that need not wait for a commit (a `run` the kernel sends ahead of its
    /// start's commit): it goes ahead of whatever waits for one, with the next flush.
    func sendUnheld(_ message: JSON) {
        guard !isClosed else { return }
        var framed: [UInt8] = []
        frame([message.serialized()], into: &framed)
        let at = committedBytes
        outbox.insert(contentsOf: framed, at: at)
        committedBytes += framed.count
        if var mark = submitted, mark.bytes >= at {
            mark.bytes += framed.count  // the batch in flight still answers for what it held
            submitted = mark
        }
    }

    /// Writes out what commits made safe to send. Returns false when there was nothing to write.
    @discardableResult
    func flush() -> Bool {
        let n = committedBytes
        committedBytes = 0
        guard n > 0, !isClosed else { return false }
        outbox.withUnsafeBytes { channel.write(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        if n == outbox.count {
            outbox.removeAll(keepingCapacity: true)
        } else {
            outbox.removeSubrange(..<n)
        }
        if var mark = submitted {
            mark.bytes -= n
            submitted = mark
        }
        return true
    }

    /// True when nothing waits in the outbox, committed or not.
    var isDrained: Bool { outbox.isEmpty }

    // MARK: Answers that wait for the turn's commit

    /// The reply to one request: its id, its outcome, and whether it reports a change, which
    /// only a commit makes true (a failed commit turns it into an error).
    struct Reply {
        var id: JSON
        var result: Result<JSON, RPCError>
        var changes: Bool

        /// The reply a failed commit leaves: a change becomes `error`, a read stays as it was.
        func afterFailedCommit(_ error: RPCError) -> Reply {
            changes ? Reply(id: id, result: .failure(error), changes: false) : self
        }

        /// The JSON-RPC response, written straight to bytes (no object is built for it).
        func write(into b: inout ByteWriter) {
            RPCEncoder.writeResponse(id: id, result, into: &b)
        }
    }

    /// One answer queued since the last commit: the reply to a request, or a batch of them.
    enum QueuedAnswer {
        case single(Reply)
        case batch([Reply])

        func write(into b: inout ByteWriter) {
            switch self {
            case .single(let reply):
                reply.write(into: &b)
            case .batch(let replies):
                b.append(UInt8(ascii: "["))
                for (i, reply) in replies.enumerated() {
                    if i > 0 { b.append(UInt8(ascii: ",")) }
                    reply.write(into: &b)
                }
                b.append(UInt8(ascii: "]"))
            }
        }

        func afterFailedCommit(_ error: RPCError) -> QueuedAnswer {
            switch self {
            case .single(let reply): .single(reply.afterFailedCommit(error))
            case .batch(let replies): .batch(replies.map { $0.afterFailedCommit(error) })
            }
        }
    }

    /// Bytes of the outbox that only hold what a commit made safe to send.
    private var committedBytes = 0
    /// Answers queued since the last commit, in order.
    private var uncommitted: [QueuedAnswer] = []

    /// Where the outbox stood when the batch now being committed was handed to the store's
    /// writer: what that batch's commit makes safe to send.
    private struct Mark {
        var bytes: Int
        var answers: Int
    }
    private var submitted: Mark?

    /// Queues the answer to a request (or a batch) in the peer's framing.
    func answer(_ answer: QueuedAnswer) {
        guard !isClosed else { return }
        uncommitted.append(answer)
        guard framing == .ndjson else {
            var b = ByteWriter(capacity: 256)
            answer.write(into: &b)
            return sendBody(b.finish())
        }
        ByteWriter.appending(to: &outbox) { writer in
            answer.write(into: &writer)
            writer.append(0x0A)
        }
    }

    /// Everything queued so far was committed and may be sent.
    func committed() {
        committedBytes = outbox.count
        uncommitted.removeAll()
        submitted = nil
    }

    /// Everything queued so far goes with the batch handed to the writer now.
    func markSubmitted() {
        submitted = Mark(bytes: outbox.count, answers: uncommitted.count)
    }

    /// The batch handed to the writer committed: what was queued before it may be sent.
    func submittedCommitted() {
        guard let mark = submitted else { return }
        committedBytes = max(committedBytes, mark.bytes)
        uncommitted.removeFirst(mark.answers)
        submitted = nil
    }

    /// The turn's commit failed (docs/promises.md §10): nothing queued since the last commit is sent, no
    /// event, no `run`; an answer to a request that changed state becomes `error`, and the
    /// answers of requests that only read go out as they were.
    func commitFailed(_ error: RPCError) {
        submitted = nil
        outbox.removeSubrange(committedBytes...)
        let answers = uncommitted
        uncommitted.removeAll()
        for a in answers {
            answer(a.afterFailedCommit(error))  // queued again, then made sendable at once
        }
        committed()
    }
}

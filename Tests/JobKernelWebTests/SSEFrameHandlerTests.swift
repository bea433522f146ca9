import JobKernelCore
import NIOCore
import NIOEmbedded
import Testing

@testable import JobKernelWeb

/// Kernel lines in, Server-Sent Events out (docs/promises.md §14), on an embedded channel with virtual time.
struct SSEFrameHandlerTests {
    static func event(_ seq: Int, _ message: String = "x") -> String {
        #"{"jsonrpc":"2.0","method":"event","params":{"subscription":"1","seq":\#(seq),"ts":"t","kind":"job.log","job_id":"1","data":{"seq":1,"level":"info","message":"\#(message)"}}}"#
    }

    func makeChannel(cursor: Int?) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLineBytes: 1 << 20)))
        try channel.pipeline.syncOperations.addHandler(SSEFrameHandler(cursor: cursor, heartbeatEvery: .seconds(15)))
        return channel
    }

    func read(_ channel: EmbeddedChannel) throws -> [StreamMessage] {
        var out: [StreamMessage] = []
        while let message = try channel.readInbound(as: StreamMessage.self) { out.append(message) }
        return out
    }

    func text(_ messages: [StreamMessage]) -> String {
        messages.map { message -> String in
            switch message {
            case .frames(let buffer, let lastSeq): return "frames(\(lastSeq)):" + String(buffer: buffer)
            case .subscribed(let seq): return "subscribed(\(seq))"
            case .subscribeFailed(let code, _): return "failed(\(code))"
            case .dropped(let lastSeq): return "dropped(\(lastSeq ?? -1))"
            case .heartbeat: return "heartbeat"
            }
        }.joined(separator: "|")
    }

    @Test func eventsOfOneReadLeaveAsOneBufferWithSeqIDs() throws {
        let channel = try makeChannel(cursor: nil)
        try channel.writeInbound(ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"result":{"subscription":"1","seq":4}}"# + "\n"))
        try channel.writeInbound(ByteBuffer(string: Self.event(5, "a") + "\n" + Self.event(6, "b") + "\n"))
        let out = text(try read(channel))
        #expect(out.hasPrefix("subscribed(4)|frames(6):id: 5\ndata: {\"subscription\":\"1\",\"seq\":5,"))
        #expect(out.contains("\"message\":\"a\"}}\n\nid: 6\ndata: {"))
        #expect(out.hasSuffix("\"message\":\"b\"}}\n\n"))
    }

    @Test func eventsAtOrBelowTheCursorAreNotRepeated() throws {
        let channel = try makeChannel(cursor: 10)
        try channel.writeInbound(ByteBuffer(string: [9, 10, 11, 11, 12].map { Self.event($0) + "\n" }.joined()))
        let out = text(try read(channel))
        #expect(out.components(separatedBy: "id: ").count - 1 == 2)
        #expect(out.contains("id: 11\n") && out.contains("id: 12\n") && out.hasPrefix("frames(12)"))
    }

    @Test func aDropComesAfterTheEventsBeforeIt() throws {
        let channel = try makeChannel(cursor: nil)
        let dropped = #"{"jsonrpc":"2.0","method":"subscription.dropped","params":{"subscription":"1","last_seq":3}}"#
        try channel.writeInbound(ByteBuffer(string: Self.event(2) + "\n" + Self.event(3) + "\n" + dropped + "\n"))
        let out = try read(channel)
        #expect(out.count == 2)
        #expect(text(out).hasPrefix("frames(3):") && text(out).hasSuffix("|dropped(3)"))
    }

    @Test func aSteadyStreamIsWrittenAtMostOncePerCoalescingWindow() throws {
        let channel = try makeChannel(cursor: nil)
        let loop = channel.embeddedEventLoop
        loop.advanceTime(by: .seconds(1))
        try channel.writeInbound(ByteBuffer(string: Self.event(1) + "\n"))
        #expect(text(try read(channel)).hasPrefix("frames(1)"), "after a quiet spell an event leaves at once")
        loop.advanceTime(by: .milliseconds(1))
        try channel.writeInbound(ByteBuffer(string: Self.event(2) + "\n"))
        loop.advanceTime(by: .milliseconds(1))
        try channel.writeInbound(ByteBuffer(string: Self.event(3) + "\n"))
        #expect(try read(channel).isEmpty, "within the window the events wait")
        loop.advanceTime(by: SSEFrameHandler.coalescing)
        let out = try read(channel)
        #expect(out.count == 1 && text(out).hasPrefix("frames(3):id: 2\n"))
    }

    @Test func aHeartbeatComesWhenNothingElseDoes() throws {
        let channel = try makeChannel(cursor: nil)
        channel.embeddedEventLoop.advanceTime(by: .seconds(15))
        #expect(text(try read(channel)) == "heartbeat")
    }

    @Test func aFailedSubscribeCarriesTheKernelsCode() throws {
        let channel = try makeChannel(cursor: 99)
        try channel.writeInbound(ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"no","data":{"field":"since"}}}"# + "\n"))
        #expect(text(try read(channel)) == "failed(-32602)")
    }
}

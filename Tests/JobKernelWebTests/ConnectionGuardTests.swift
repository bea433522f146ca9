import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import JobKernelWeb

/// Each connection's guard (docs/web.md, "Limits"): deadlines on virtual time, the WebSocket
/// handshake's door and stream cap, the headers on every answer.
struct ConnectionGuardTests {
    static let token = String(repeating: "ab", count: 32)
    let limits = GatewayLimits(maxStreams: 1, maxBodyBytesInFlight: 1 << 20)

    func connection() throws -> EmbeddedChannel {
        let policy = AccessPolicy(token: Self.token, listenHost: "127.0.0.1", port: BoundPort(8080))
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ConnectionGuard(deadlines: .init(), policy: policy, limits: limits))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    func head(_ uri: String = "/metrics", _ headers: [(String, String)] = [], method: HTTPMethod = .GET) -> HTTPServerRequestPart {
        .head(HTTPRequestHead(
            version: .http1_1, method: method, uri: uri,
            headers: HTTPHeaders([("Host", "127.0.0.1:8080"), ("Authorization", "Bearer \(Self.token)")] + headers)))
    }

    func handshake(_ extra: [(String, String)] = []) -> HTTPServerRequestPart {
        head("/ws", [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"), ("Origin", "http://127.0.0.1:8080"),
        ] + extra)
    }

    func respond(_ channel: EmbeddedChannel) throws {
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
    }

    func advance(_ channel: EmbeddedChannel, _ seconds: Double) {
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(Int64(seconds * 1000)))
    }

    @Test(arguments: [0.0, 3, 9.5])
    func aConnectionThatSendsNoWholeHeadIsClosedAt10Seconds(bytesAt: Double) throws {
        let channel = try connection()
        advance(channel, bytesAt)  // bytes of a head may come; the decoder passes nothing on until it is whole
        advance(channel, 9.9 - bytesAt)
        #expect(channel.isActive)
        advance(channel, 0.2)
        #expect(!channel.isActive)
    }

    @Test func theHeadDeadlineStartsAgainWhenAResponseEnds() throws {
        let channel = try connection()
        advance(channel, 5)
        try channel.writeInbound(head())
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        advance(channel, 3600)  // a response may take its time: an event stream runs for days
        #expect(channel.isActive)
        try respond(channel)
        advance(channel, 9.9)
        #expect(channel.isActive)
        advance(channel, 0.2)
        #expect(!channel.isActive, "an idle keep-alive connection waits for its next head under the same deadline")
    }

    @Test func aBodyMayTrickleButNotStopFor30Seconds() throws {
        let channel = try connection()
        try channel.writeInbound(head("/rpc", [("Content-Length", "100")], method: .POST))
        for _ in 0..<5 {
            advance(channel, 29)
            #expect(channel.isActive)
            try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "x")))
        }
        advance(channel, 29.9)
        #expect(channel.isActive)
        advance(channel, 0.2)
        #expect(!channel.isActive)
    }

    @Test func aShutdownClosesIdleConnectionsAndEventStreamsButLetsAnAnswerFinish() throws {
        let idle = try connection()
        idle.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(!idle.isActive)

        let stream = try connection()
        try stream.writeInbound(head("/events"))
        try stream.writeInbound(HTTPServerRequestPart.end(nil))
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/event-stream")
        try stream.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)))
        stream.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(!stream.isActive, "an event stream never ends by itself")

        let answering = try connection()
        try answering.writeInbound(head("/rpc", method: .POST))
        try answering.writeInbound(HTTPServerRequestPart.end(nil))
        answering.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(answering.isActive, "the answer is written first")
    }

    @Test func everyAnswerGetsTheSecurityHeadersUnlessItSaysItsOwn() throws {
        let channel = try connection()
        var headers = HTTPHeaders()
        headers.add(name: "Referrer-Policy", value: "same-origin")
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .notFound, headers: headers)))
        guard case .head(let written) = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("no head")
            return
        }
        #expect(written.headers["X-Content-Type-Options"] == ["nosniff"])
        #expect(written.headers["X-Frame-Options"] == ["DENY"])
        #expect(written.headers["Referrer-Policy"] == ["same-origin"])
        #expect(written.headers.first(name: "Content-Security-Policy")?.contains("frame-ancestors 'none'") == true)
    }

    func refusal(of part: HTTPServerRequestPart) throws -> (status: HTTPResponseStatus, body: String, closed: Bool)? {
        let channel = try connection()
        try channel.writeInbound(part)
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == nil, "a refused head goes no further")
        guard case .head(let head) = try channel.readOutbound(as: HTTPServerResponsePart.self),
            case .body(.byteBuffer(let body)) = try channel.readOutbound(as: HTTPServerResponsePart.self)
        else { return nil }
        #expect(head.headers["X-Content-Type-Options"] == ["nosniff"] && head.headers["Connection"] == ["close"])
        return (head.status, String(buffer: body), !channel.isActive)
    }

    @Test(arguments: [
        ([("Origin", "http://127.0.0.1")], 403), ([("Origin", "null")], 403), ([("Origin", "https://localhost:8080")], 403),
        ([("Host", "evil.example")], 421), ([("Authorization", "Bearer nope")], 401),
    ])
    func aRefusedHandshakeGetsItsStatusAndReason(extra: [(String, String)], status: Int) throws {
        var part = handshake()
        if case .head(var head) = part {
            for (name, value) in extra { head.headers.replaceOrAdd(name: name, value: value) }
            part = .head(head)
        }
        let refused = try #require(try refusal(of: part))
        #expect(refused.status.code == status && refused.body.hasPrefix("refused:") && refused.closed)
    }

    @Test func aHandshakeElsewhereOrMalformedIsRefused() throws {
        let elsewhere = try #require(try refusal(of: head("/events", [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "a"), ("Sec-WebSocket-Version", "13"),
        ])))
        #expect(elsewhere.status == .notFound)
        let noKey = try #require(try refusal(of: head("/ws", [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13")])))
        #expect(noKey.status == .badRequest && noKey.body.contains("Sec-WebSocket-Key"))
    }

    @Test func anotherUpgradeIsAnsweredAsHTTPAndHoldsNoSlot() throws {
        let channel = try connection()
        try channel.writeInbound(head("/metrics", [("Upgrade", "h2c"), ("Connection", "Upgrade")]))
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) != nil)
        #expect(limits.openStreams(for: Self.token) == 0)
        let foreign = try #require(try refusal(of: head("/metrics", [("Upgrade", "h2c"), ("Origin", "http://127.0.0.1")])))
        #expect(foreign.status == .forbidden, "it still meets the door as a request that can change state")
    }

    @Test func anAcceptedHandshakeHoldsAStreamSlotUntilItsConnectionCloses() throws {
        let first = try connection()
        try first.writeInbound(handshake())
        #expect(try first.readInbound(as: HTTPServerRequestPart.self) != nil, "passed on to the upgrade")
        #expect(limits.openStreams(for: Self.token) == 1)
        let second = try #require(try refusal(of: handshake()))
        #expect(second.status == .tooManyRequests && second.body.contains("--max-streams"))
        _ = try first.finish()
        #expect(limits.openStreams(for: Self.token) == 0)
        let third = try connection()
        try third.writeInbound(handshake())
        #expect(try third.readInbound(as: HTTPServerRequestPart.self) != nil)
    }
}

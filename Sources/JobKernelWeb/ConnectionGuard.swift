import NIOCore
import NIOHTTP1

/// Each connection's guard (docs/web.md, "Limits"), in the HTTP/1 pipeline just after the request
/// decoder, so that it sees every request head, body part and response of the connection, the
/// first request and the WebSocket handshake included:
///
/// - **Head deadline**: from the moment a connection waits for a request (it was accepted, or the
///   last response ended), the whole request head must arrive within `headTimeout`, or the
///   connection is closed. A client that sends nothing, or a byte a second, holds no connection
///   for long, and neither does an idle keep-alive connection.
/// - **Idle deadline**: a request body that stops arriving for `idleTimeout` closes the connection.
/// - **The WebSocket handshake** meets `AccessPolicy` and the stream cap here, so that a refusal
///   is a documented status with a reason (the upgrade machinery behind would answer a bare 400).
/// - **Security headers** go on every answer, whoever wrote it (404s, parse errors, refusals).
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    struct Deadlines: Sendable {
        var head: TimeAmount = .seconds(10)
        var idle: TimeAmount = .seconds(30)
    }

    private let deadlines: Deadlines
    private let policy: AccessPolicy
    private let limits: GatewayLimits

    private enum Waiting { case nothing, head, body }
    private var waiting = Waiting.nothing
    private var timer: Scheduled<Void>?
    /// Heads read minus responses ended: 0 when the connection waits for a request.
    private var open = 0
    /// Heads read in all.
    private var heads = 0
    private var readingBody = false
    /// A refused handshake: what else comes on the connection is dropped while it closes.
    private var refused = false
    /// The stream slot a WebSocket holds for as long as its connection lives.
    private var lease: StreamLease?
    /// An event stream is being written: it never ends by itself, so a shutdown closes it.
    private var streaming = false

    init(deadlines: Deadlines, policy: AccessPolicy, limits: GatewayLimits) {
        self.deadlines = deadlines
        self.policy = policy
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { update(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        update(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        lease = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            open += 1
            heads += 1
            readingBody = true
            if head.headers.contains(name: "upgrade") {
                if let refusal = handshakeRefusal(head) {
                    refuse(context, head: head, status: refusal.status, message: refusal.message)
                    return
                }
                if Self.isWebSocket(head) {
                    // A WebSocket from here on, if the upgrade handler agrees: no HTTP parts will
                    // pass this way any more. The slot is held for as long as the connection lives.
                    timer?.cancel()
                    timer = nil
                    let lease = self.lease
                    context.channel.closeFuture.whenComplete { _ in withExtendedLifetime(lease) {} }
                    try? context.pipeline.syncOperations.addHandler(WebSocketShutdown(), position: .first)
                    context.fireChannelRead(data)
                    context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                    return
                }
            }
            update(context, restartIdle: true)
        case .body:
            update(context, restartIdle: true)
        case .end:
            readingBody = false
            update(context)
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The gateway is stopping (SIGTERM): a connection between requests, or one that carries an
        // event stream, closes now; one whose request is being answered finishes it first.
        if event is ChannelShouldQuiesceEvent, open == 0 || streaming {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A first request that does not parse reaches the upgrade handler, which would close the
        // connection without a word; later ones are Hummingbird's, which answers 400 itself.
        if error is HTTPParserError, heads == 0, !refused {
            refuse(context, head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"), status: .badRequest,
                   message: "refused: the request does not parse as HTTP/1.1")
            return
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head):
            streaming = head.headers.first(name: "content-type")?.hasPrefix("text/event-stream") ?? false
            for (name, value) in AccessPolicy.securityHeaders where !head.headers.contains(name: name) {
                head.headers.add(name: name, value: value)
            }
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            open = max(0, open - 1)
            streaming = false
            context.write(data, promise: promise)
            update(context)
        }
    }

    /// Arms the deadline the connection's state calls for: the idle one while a body arrives
    /// (restarted by each part), the head one while no request is open, none while a response is
    /// being written (an event stream may run for days).
    private func update(_ context: ChannelHandlerContext, restartIdle: Bool = false) {
        let next: Waiting = readingBody ? .body : (open == 0 ? .head : .nothing)
        guard next != waiting || (next == .body && restartIdle) else { return }
        waiting = next
        timer?.cancel()
        timer = nil
        let delay: TimeAmount
        switch next {
        case .nothing: return
        case .head: delay = deadlines.head
        case .body: delay = deadlines.idle
        }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) {
            loopBound.value.close(promise: nil)
        }
    }

    private func handshakeRefusal(_ head: HTTPRequestHead) -> (status: HTTPResponseStatus, message: String)? {
        let uri = head.uri
        let query = uri.firstIndex(of: "?").map { String(uri[uri.index(after: $0)...]) }
        let path = uri.firstIndex(of: "?").map { String(uri[..<$0]) } ?? uri
        let facts = AccessPolicy.Request(
            method: head.method.rawValue, path: path, query: query, host: head.headers.first(name: "host"),
            origin: head.headers.first(name: "origin"), referer: head.headers.first(name: "referer"),
            secFetchSite: head.headers.first(name: "sec-fetch-site"), secFetchMode: head.headers.first(name: "sec-fetch-mode"),
            upgrade: head.headers.first(name: "upgrade"), authorization: head.headers.first(name: "authorization"),
            cookies: head.headers["cookie"])
        switch policy.decide(facts) {
        case .refuse(let status, let message):
            return (HTTPResponseStatus(statusCode: status.code), message)
        case .login:
            return (.unauthorized, "refused: a login link does not open a WebSocket")
        case .allow:
            // Another protocol (h2c, say) is not upgraded to: the request is answered as HTTP.
            guard Self.isWebSocket(head) else { return nil }
            guard path == "/ws" else { return (.notFound, "refused: no WebSocket at \(path); it is at /ws") }
            let key = head.headers.first(name: "sec-websocket-key") ?? ""
            let connection = head.headers["connection"].joined(separator: ",").lowercased()
            guard head.method == .GET, !key.isEmpty, head.headers.first(name: "sec-websocket-version") == "13",
                connection.contains("upgrade")
            else {
                return (
                    .badRequest,
                    "refused: a WebSocket handshake is a GET with Connection: Upgrade, Sec-WebSocket-Key and "
                        + "Sec-WebSocket-Version: 13")
            }
            guard let lease = limits.openStream(for: policy.token) else {
                return (
                    .tooManyRequests,
                    "refused: \(limits.maxStreams) event streams and WebSockets are open with this token already; "
                        + "close one, or start the gateway with a higher --max-streams")
            }
            self.lease = lease
            return nil
        }
    }

    private static func isWebSocket(_ head: HTTPRequestHead) -> Bool {
        head.headers["upgrade"].contains { $0.lowercased().contains("websocket") }
    }

    private func refuse(_ context: ChannelHandlerContext, head request: HTTPRequestHead, status: HTTPResponseStatus, message: String) {
        refused = true
        timer?.cancel()
        timer = nil
        let body = context.channel.allocator.buffer(string: message + "\n")
        var headers = HTTPHeaders([
            ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", String(body.readableBytes)),
            ("Cache-Control", "no-store"), ("Connection", "close"),
        ])
        for (name, value) in AccessPolicy.securityHeaders { headers.add(name: name, value: value) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in loopBound.value.close(promise: nil) }
    }
}

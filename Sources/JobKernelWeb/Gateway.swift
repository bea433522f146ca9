import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import JobKernelCore
import Logging
import NIOCore
import NIOPosix

/// The HTTP gateway (docs/web.md): a client of the kernel's socket that serves `/rpc`, `/events`,
/// `/ws`, `/metrics` and the dashboard to a browser.
public struct Gateway: Sendable {
    /// How to start the gateway.
    public struct Configuration: Sendable {
        /// The address to listen on (an IP address or `localhost`).
        public var host: String
        /// The port; 0 picks a free one (the printed URL says which).
        public var port: Int
        /// The kernel's socket.
        public var socketPath: String
        /// Further `Host` names the gateway answers to (a reverse proxy's, the machine's).
        public var extraHosts: [String]
        /// How often an idle event stream gets a comment.
        public var heartbeat: Duration
        /// The largest `POST /rpc` body taken.
        public var maxBodyBytes: Int
        /// The most request-body bytes received at once, all requests together.
        public var maxBodyBytesInFlight: Int
        /// The most `/events` streams and WebSockets open at once per token.
        public var maxStreams: Int
        /// How long a connection may take to send a whole request head, counted from when it
        /// waits for one (accepted, or its last response ended).
        public var headTimeout: Duration
        /// How long a request body may pause before the connection is closed.
        public var idleTimeout: Duration
        /// The access token; `jobkernel web` draws a fresh one at every start unless given a file.
        public var token: String

        /// A configuration with the defaults of `jobkernel web`.
        public init(
            host: String = "127.0.0.1", port: Int = 8080, socketPath: String, extraHosts: [String] = [],
            heartbeat: Duration = .seconds(15), maxBodyBytes: Int = 16 << 20, maxBodyBytesInFlight: Int = 64 << 20,
            maxStreams: Int = 256, headTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(30),
            token: String = AccessPolicy.makeToken()
        ) {
            self.host = host
            self.port = port
            self.socketPath = socketPath
            self.extraHosts = extraHosts
            self.heartbeat = heartbeat
            self.maxBodyBytes = maxBodyBytes
            self.maxBodyBytesInFlight = maxBodyBytesInFlight
            self.maxStreams = maxStreams
            self.headTimeout = headTimeout
            self.idleTimeout = idleTimeout
            self.token = token
        }
    }

    let configuration: Configuration
    let boundPort: BoundPort
    let policy: AccessPolicy
    let limits: GatewayLimits

    /// A gateway with `configuration`.
    public init(configuration: Configuration) {
        self.configuration = configuration
        self.boundPort = BoundPort(configuration.port)
        self.policy = AccessPolicy(
            token: configuration.token, listenHost: configuration.host, port: boundPort, extraHosts: configuration.extraHosts)
        self.limits = GatewayLimits(maxStreams: configuration.maxStreams, maxBodyBytesInFlight: configuration.maxBodyBytesInFlight)
    }

    /// The one-time login code of the printed URL, until a browser uses it.
    public var loginCode: String? { policy.sessions.loginCode }

    /// Whether a kernel answers at the socket now (the gateway serves either way, and finds the
    /// kernel when it comes).
    public func kernelAnswers() async -> Bool {
        guard let connection = try? await KernelLink(socketPath: configuration.socketPath).connect() else { return false }
        try? await connection.executeThenClose { _, _ in }
        return true
    }

    /// Serves until SIGINT or SIGTERM. `onListening` gets the bound port once the server runs.
    public func run(onListening: @escaping @Sendable (Int) -> Void) async throws {
        let link = KernelLink(socketPath: configuration.socketPath)
        let metrics = GatewayMetrics(link: link)
        var logger = Logger(label: "jobkernel-web")
        // Hummingbird logs every connection closed before its first request (a deadline, a refused
        // WebSocket) as an error: that is a client's doing, not the gateway's.
        logger.logLevel = .critical
        let webSocketResponder = makeWebSocketRouter(link: link).buildResponder()
        let channelConfiguration = HTTP1WebSocketUpgradeChannel.Configuration(
            // Deadlines are ConnectionGuard's.
            http1: .init(idleTimeout: nil),
            ws: .init(maxFrameSize: WebSocketBridge.maxMessageBytes))
        let deadlines = ConnectionGuard.Deadlines(head: TimeAmount(configuration.headTimeout), idle: TimeAmount(configuration.idleTimeout))
        let server = HTTPServerBuilder { [policy, limits] responder in
            GatewayChannel(
                inner: HTTP1WebSocketUpgradeChannel(
                    responder: responder, webSocketResponder: webSocketResponder, configuration: channelConfiguration),
                makeGuard: { ConnectionGuard(deadlines: deadlines, policy: policy, limits: limits) })
        }
        let application = Application(
            router: makeRouter(link: link, metrics: metrics),
            server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { [boundPort] channel in
                boundPort.set(channel.localAddress?.port ?? 0)
                onListening(boundPort.value)
            },
            logger: logger)
        let watcher = Task { await metrics.watch() }
        defer { watcher.cancel() }
        try await application.runService()
    }

    func makeRouter(link: KernelLink, metrics: GatewayMetrics) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.middlewares.add(AccessGuard(policy: policy))
        let forwarder = RPCForwarder(link: link)
        let maxBody = configuration.maxBodyBytes
        let heartbeat = configuration.heartbeat
        let policy = self.policy
        let limits = self.limits

        router.post("/login") { request, _ -> Response in
            var request = request
            let body = (try? await request.collectBody(upTo: 4096)).map { String(buffer: $0) } ?? ""
            let offered = body.split(separator: "&").first { $0.hasPrefix("token=") }
                .flatMap { String($0.dropFirst(6)).removingPercentEncoding } ?? ""
            guard let session = policy.login(token: offered.trimmingSpaces) else {
                return AccessGuard<BasicRequestContext>.loginPage(
                    status: .unauthorized, message: "refused: that is not this gateway's token; paste the token `jobkernel web` printed")
            }
            return Response(
                status: .seeOther, headers: [.location: "/", .setCookie: policy.cookie(session: session), .cacheControl: "no-store"])
        }

        router.post("/rpc") { request, _ -> Response in
            let declared = request.headers[.contentLength].flatMap { Int($0) }
            if let declared, declared > maxBody {
                return Self.text(.contentTooLarge, "the request body is over \(maxBody) bytes; send less, or split a batch")
            }
            // A body of unknown length may grow to the largest one taken.
            let reserved = declared ?? maxBody
            guard limits.reserveBody(reserved) else {
                var answer = Self.text(
                    .serviceUnavailable,
                    "the gateway is receiving \(limits.maxBodyBytesInFlight) bytes of request bodies already; try again shortly")
                answer.headers[.retryAfter] = "1"
                return answer
            }
            defer { limits.releaseBody(reserved) }
            let body: ByteBuffer
            do {
                body = try await Self.collect(request, upTo: maxBody)
            } catch is NIOTooManyBytesError {
                return Self.text(.contentTooLarge, "the request body is over \(maxBody) bytes; send less, or split a batch")
            }
            do {
                // The forwarder turns the only reference to the body into a line in place.
                guard let answer = try await forwarder.forward(consume body) else { return Response(status: .noContent) }
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: answer))
            } catch let error as KernelUnavailable {
                return Self.text(.serviceUnavailable, error.description)
            }
        }

        router.get("/events") { request, _ -> Response in
            let query: EventQuery
            do {
                query = try EventQuery(
                    query: request.uri.queryParameters.map { (String($0.key), String($0.value)) },
                    lastEventID: request.headers[HTTPField.Name("Last-Event-ID")!])
            } catch let error as EventQueryError {
                return Self.text(.badRequest, error.message)
            }
            guard let lease = limits.openStream(for: policy.token) else {
                return Self.text(
                    .tooManyRequests,
                    "refused: \(limits.maxStreams) event streams and WebSockets are open with this token already; "
                        + "close one, or start the gateway with a higher --max-streams")
            }
            let stream = EventStream(link: link, query: query, heartbeatEvery: heartbeat, gauge: metrics.streams)
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/event-stream", .cacheControl: "no-store",
                    // nginx and some other proxies buffer responses unless told not to.
                    HTTPField.Name("X-Accel-Buffering")!: "no",
                ],
                body: ResponseBody { writer in
                    // The slot is given back when the stream ends, however it ends.
                    defer { withExtendedLifetime(lease) {} }
                    try await stream.run(writer: &writer)
                })
        }

        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: await metrics.scrape()))
        }

        for asset in Dashboard.assets {
            router.get(RouterPath(stringLiteral: asset.path)) { _, _ -> Response in
                Response(
                    status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "no-cache"],
                    body: .init(byteBuffer: ByteBuffer(string: asset.body)))
            }
        }
        return router
    }

    func makeWebSocketRouter(link: KernelLink) -> Router<BasicWebSocketRequestContext> {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.middlewares.add(AccessGuard(policy: policy))
        let bridge = WebSocketBridge(link: link)
        router.ws("/ws") { inbound, outbound, _ in
            try await bridge.run(inbound: inbound, outbound: outbound)
        }
        return router
    }

    /// The whole body of `request`, held by nothing else once this returns (a collected request
    /// keeps a reference to its body, which would make the forwarder copy it).
    static func collect(_ request: Request, upTo maxBytes: Int) async throws -> ByteBuffer {
        var request = request
        return try await request.collectBody(upTo: maxBytes)
    }

    static func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }
}

import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import JobKernelCore
import Logging
import NIOCore
import NIOPosix

/// The HTTP gateway (SPEC §14): a client of the kernel's socket that serves `/rpc`, `/events`,
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
        /// The access token; `jobkernel web` draws a fresh one at every start.
        public var token: String

        /// A configuration with the defaults of `jobkernel web`.
        public init(
            host: String = "127.0.0.1", port: Int = 8080, socketPath: String, extraHosts: [String] = [],
            heartbeat: Duration = .seconds(15), maxBodyBytes: Int = 16 << 20, token: String = AccessPolicy.makeToken()
        ) {
            self.host = host
            self.port = port
            self.socketPath = socketPath
            self.extraHosts = extraHosts
            self.heartbeat = heartbeat
            self.maxBodyBytes = maxBodyBytes
            self.token = token
        }
    }

    let configuration: Configuration
    let boundPort: BoundPort

    /// A gateway with `configuration`.
    public init(configuration: Configuration) {
        self.configuration = configuration
        self.boundPort = BoundPort(configuration.port)
    }

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
        logger.logLevel = .warning
        let application = Application(
            router: makeRouter(link: link, metrics: metrics),
            server: .http1WebSocketUpgrade(
                webSocketRouter: makeWebSocketRouter(link: link),
                configuration: .init(
                    // A client that sends nothing whole for 30 s (a slow-loris) is cut off.
                    http1: .init(idleTimeout: .seconds(30)),
                    ws: .init(maxFrameSize: WebSocketBridge.maxMessageBytes))),
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

    private var policy: AccessPolicy {
        AccessPolicy(token: configuration.token, listenHost: configuration.host, port: boundPort, extraHosts: configuration.extraHosts)
    }

    func makeRouter(link: KernelLink, metrics: GatewayMetrics) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.middlewares.add(AccessGuard(policy: policy))
        let forwarder = RPCForwarder(link: link)
        let maxBody = configuration.maxBodyBytes
        let heartbeat = configuration.heartbeat

        router.post("/rpc") { request, _ -> Response in
            var request = request
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: maxBody)
            } catch is NIOTooManyBytesError {
                return Self.text(.contentTooLarge, "the request body is over \(maxBody) bytes; send less, or split a batch")
            }
            do {
                guard let answer = try await forwarder.forward(body) else { return Response(status: .noContent) }
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
            let stream = EventStream(link: link, query: query, heartbeatEvery: heartbeat, gauge: metrics.streams)
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/event-stream", .cacheControl: "no-store",
                    // nginx and some other proxies buffer responses unless told not to.
                    HTTPField.Name("X-Accel-Buffering")!: "no",
                ],
                body: ResponseBody { writer in try await stream.run(writer: &writer) })
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

    static func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }
}

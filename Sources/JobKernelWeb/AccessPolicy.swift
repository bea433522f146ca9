import HTTPTypes
import Hummingbird

/// The rules of the gateway's door (docs/web.md, "Security"), apart from HTTP plumbing so that
/// tests can read them as a table: which `Host`, which `Origin`, which credential.
public struct AccessPolicy: Sendable {
    /// The token: printed at start (32 random bytes in hex) or read from `--token-file`.
    public let token: String
    /// The port the gateway listens on, known once it is bound (`--listen …:0` picks one).
    let boundPort: BoundPort
    /// The gateway's own names: loopback's and the listen address, lowercased, IPv6 in brackets.
    let ownNames: Set<String>
    /// `--allow-host` names given without a port (a reverse proxy's, the machine's).
    let extraNames: Set<String>
    /// `--allow-host` names given with a port (`proxy.example:8443`), lowercased.
    let extraNamesWithPort: Set<String>
    /// The browser sessions and the one-time login code.
    public let sessions: SessionTable

    /// The rules for a gateway listening on `listenHost`; `extraHosts` are further names the
    /// gateway is reached by (a reverse proxy's, the machine's), each with or without a port.
    public init(token: String, listenHost: String, port: BoundPort, extraHosts: [String] = [], sessions: SessionTable = SessionTable()) {
        self.token = token
        self.boundPort = port
        self.sessions = sessions
        let listen = listenHost.contains(":") && !listenHost.hasPrefix("[") ? "[\(listenHost)]" : listenHost
        self.ownNames = Set(["localhost", "127.0.0.1", "[::1]", listen.lowercased()])
        var names = Set<String>()
        var namesWithPort = Set<String>()
        for host in extraHosts.map({ $0.lowercased() }) {
            if let (name, port) = WebOrigin.splitAuthority(Substring(host)), let port {
                namesWithPort.insert("\(name):\(port)")
            } else {
                names.insert(host)
            }
        }
        self.extraNames = names
        self.extraNamesWithPort = namesWithPort
    }

    /// The port the gateway listens on.
    public var port: Int { boundPort.value }

    /// Whether `authority` (a `Host` value) names this gateway: one of its names with its port or
    /// bare, or an `--allow-host NAME:PORT` as given. This is the DNS-rebinding check.
    func accepts(authority: String) -> Bool {
        let authority = authority.lowercased()
        if extraNamesWithPort.contains(authority) { return true }
        guard let (host, port) = WebOrigin.splitAuthority(Substring(authority)) else { return false }
        guard ownNames.contains(host) || extraNames.contains(host) else { return false }
        return port == nil || port == self.port
    }

    /// Whether `origin` is one of this gateway's own pages, compared exactly: scheme, host and
    /// port. Its own names count over `http` on its port only; a bare `--allow-host NAME` also
    /// counts as `https://NAME` (a TLS proxy on 443); `NAME:PORT` counts on that port.
    /// `http://127.0.0.1` is port 80: another server, refused.
    func accepts(origin: WebOrigin) -> Bool {
        if ownNames.contains(origin.host) || extraNames.contains(origin.host) {
            if origin.scheme == "http" && origin.port == port { return true }
        }
        if extraNames.contains(origin.host), origin.scheme == "https", origin.port == 443 { return true }
        return extraNamesWithPort.contains("\(origin.host):\(origin.port)")
    }

    /// A fresh random value: 32 bytes from the system's random source, in hex.
    public static func makeToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in
            let byte = UInt8.random(in: 0...255, using: &generator)
            return String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
        }.joined()
    }

    /// The session cookie's name: it carries the port, so that gateways on other ports of the same
    /// host (which a browser sends every cookie of the host) keep cookies of their own.
    public var cookieName: String { "jobkernel_session_\(port)" }

    /// What the door sees of a request.
    struct Request {
        var method = "GET"
        var path = "/"
        var query: String?
        var host: String?
        var origin: String?
        var referer: String?
        var secFetchSite: String?
        var secFetchMode: String?
        var upgrade: String?
        var authorization: String?
        var cookies: [String] = []
    }

    /// What to do with a request.
    enum Decision: Equatable {
        case allow
        /// A login link: set the cookie for `session` and redirect to `location` (the URL without the code).
        case login(location: String, session: String)
        case refuse(HTTPResponse.Status, String)
    }

    func decide(_ request: Request, now: ContinuousClock.Instant = .now) -> Decision {
        guard let host = request.host, accepts(authority: host) else {
            return .refuse(
                .misdirectedRequest,
                "refused: Host \"\(request.host ?? "")\" is not an address this gateway listens as; open it as "
                    + "http://127.0.0.1:\(port)/ or http://localhost:\(port)/ (or start it with --allow-host NAME)")
        }
        let isUpgrade = request.upgrade != nil
        let changesState = !["GET", "HEAD", "OPTIONS"].contains(request.method) || isUpgrade
        if let refusal = crossSiteRefusal(request, changesState: changesState, viaCookie: request.authorization == nil) {
            return refusal
        }
        if let query = request.query {
            if let code = Self.queryValue("login", in: query) {
                guard request.method == "GET", !isUpgrade, let session = sessions.redeem(loginCode: code, now: now) else {
                    return .refuse(
                        .unauthorized,
                        "refused: this login link was used already (it works once) or is not this gateway's; "
                            + "paste the token below, or restart `jobkernel web` for a new link")
                }
                let rest = Self.removing("login", from: query)
                return .login(location: rest.isEmpty ? request.path : "\(request.path)?\(rest)", session: session)
            }
            if Self.queryValue("token", in: query) != nil {
                return .refuse(
                    .unauthorized,
                    "refused: the token is not taken in a URL, where it would stay in the browser's history; "
                        + "paste it below, or send Authorization: Bearer <token>")
            }
        }
        if request.method == "POST" && request.path == "/login" { return .allow }  // the token comes in the body
        if let authorization = request.authorization {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer", Self.same(String(parts[1]), token) else {
                return .refuse(.unauthorized, "refused: the Authorization header does not carry this gateway's token (Bearer <token>)")
            }
            return .allow
        }
        if let session = sessionCookie(in: request.cookies) {
            guard sessions.isValid(session, now: now) else {
                return .refuse(
                    .unauthorized,
                    "refused: this browser session has expired or belongs to an earlier start of the gateway; "
                        + "paste the token below to open a new one")
            }
            return .allow
        }
        return .refuse(
            .unauthorized,
            "refused: no access token; open the login link `jobkernel web` printed at start, paste the token below, "
                + "or send Authorization: Bearer <token>")
    }

    /// CSRF: a request that changes state, or rides on the cookie, must come from no other site.
    /// With an `Origin`, that origin must be exactly the gateway's. Without one (older browsers,
    /// some navigations), `Sec-Fetch-Site: cross-site` or `same-site` (another port of the host is
    /// same-site) and a foreign `Referer` are refused. A cookie-borne `GET` navigation passes: a
    /// link from elsewhere only opens a page, which cannot be framed.
    private func crossSiteRefusal(_ request: Request, changesState: Bool, viaCookie: Bool) -> Decision? {
        guard changesState || viaCookie else { return nil }
        let what = request.upgrade != nil ? "WebSocket" : request.method
        if let origin = request.origin {
            if let parsed = WebOrigin(header: origin), accepts(origin: parsed) { return nil }
            return .refuse(
                .forbidden,
                "refused: a \(what) request from the page of another site (Origin \(origin)); only this gateway's "
                    + "own pages, http://127.0.0.1:\(port) and the like, may use it")
        }
        if !changesState && request.secFetchMode?.lowercased() == "navigate" { return nil }
        if let site = request.secFetchSite?.lowercased(), site == "cross-site" || site == "same-site" {
            return .refuse(.forbidden, "refused: a \(what) request from the page of another site (Sec-Fetch-Site: \(site))")
        }
        if let referer = request.referer, WebOrigin(url: referer).map(accepts(origin:)) != true {
            return .refuse(.forbidden, "refused: a \(what) request from the page of another site (Referer \(referer))")
        }
        return nil
    }

    /// The session value in the `Cookie` headers, if any.
    func sessionCookie(in headers: [String]) -> String? {
        for header in headers {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop(while: { $0 == " " })
                if trimmed.hasPrefix(cookieName + "=") { return String(trimmed.dropFirst(cookieName.count + 1)) }
            }
        }
        return nil
    }

    /// A session for whoever presents the token (the login form); nil when it is not the token.
    func login(token offered: String, now: ContinuousClock.Instant = .now) -> String? {
        Self.same(offered, token) ? sessions.open(now: now) : nil
    }

    /// `Set-Cookie` for a session: HttpOnly (no script reads it), SameSite=Strict (no other site's
    /// request carries it), for the whole gateway, for as long as the session lasts.
    func cookie(session: String) -> String {
        "\(cookieName)=\(session); Path=/; Max-Age=\(Int(sessions.lifetime.components.seconds)); HttpOnly; SameSite=Strict"
    }

    /// Headers every answer carries, refusals and 404s included: no sniffing, no framing
    /// (clickjacking), no referrer, and a content policy that allows only the gateway's own files.
    static let securityHeaders: [(String, String)] = [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        (
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        ),
    ]

    /// Compares in time that does not depend on where the strings differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }

    static func queryValue(_ key: String, in query: String) -> String? {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.first == Substring(key) { return parts.count > 1 ? String(parts[1]).removingPercentEncoding : "" }
        }
        return nil
    }

    static func removing(_ key: String, from query: String) -> String {
        query.split(separator: "&").filter { !$0.hasPrefix(key + "=") && $0 != Substring(key) }.joined(separator: "&")
    }
}

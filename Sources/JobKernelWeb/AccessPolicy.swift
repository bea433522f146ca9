import HTTPTypes
import Hummingbird

/// The rules of `AccessGuard`, apart from HTTP plumbing so that tests can read them as a table.
public struct AccessPolicy: Sendable {
    /// The token printed at start; 32 random bytes in hex.
    public let token: String
    /// The port the gateway listens on, known once it is bound (`--listen …:0` picks one).
    let boundPort: BoundPort
    /// Names accepted in `Host` and `Origin`, lowercased: with the listening port, or bare.
    let names: Set<String>
    /// Extra names given with a port of their own (`proxy.example:8443`), accepted as they are.
    let namesWithPort: Set<String>

    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!

    /// The rules for a gateway listening on `listenHost`; `extraHosts` are further names the
    /// gateway is reached by (a reverse proxy's, the machine's), each with or without a port.
    public init(token: String, listenHost: String, port: BoundPort, extraHosts: [String] = []) {
        self.token = token
        self.boundPort = port
        var names = Set(["localhost", "127.0.0.1", "[::1]"])
        names.insert(listenHost.contains(":") && !listenHost.hasPrefix("[") ? "[\(listenHost)]" : listenHost)
        var namesWithPort = Set<String>()
        for host in extraHosts.map({ $0.lowercased() }) {
            if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]"), Int(host[host.index(after: colon)...]) != nil {
                namesWithPort.insert(host)
            } else {
                names.insert(host)
            }
        }
        self.names = Set(names.map { $0.lowercased() })
        self.namesWithPort = namesWithPort
    }

    /// The port the gateway listens on.
    public var port: Int { boundPort.value }

    /// Whether `authority` (a `Host` value, or an origin without its scheme) names this gateway.
    func accepts(authority: String) -> Bool {
        let authority = authority.lowercased()
        if names.contains(authority) || namesWithPort.contains(authority) { return true }
        guard let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]"),
            Int(authority[authority.index(after: colon)...]) == port
        else { return false }
        return names.contains(String(authority[..<colon]))
    }

    /// Whether `origin` (`scheme://host[:port]`) is one of this gateway's own pages.
    func accepts(origin: String) -> Bool {
        for scheme in ["http://", "https://"] where origin.lowercased().hasPrefix(scheme) {
            return accepts(authority: String(origin.dropFirst(scheme.count)))
        }
        return false
    }

    /// A fresh token: 32 bytes from the system's random source, in hex.
    public static func makeToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in
            let byte = UInt8.random(in: 0...255, using: &generator)
            return String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
        }.joined()
    }

    /// The cookie that carries the token.
    public var cookieName: String { "jobkernel_token_\(port)" }

    /// What to do with a request.
    enum Decision: Equatable {
        case allow
        /// The token came in the query: set the cookie and redirect to `location` (the URL without it).
        case setCookie(location: String)
        case refuse(HTTPResponse.Status, String)
    }

    func decide(
        method: String, path: String, query: String?, host: String?, origin: String?, secFetchSite: String?,
        upgrade: String?, authorization: String?, cookies: [String]
    ) -> Decision {
        guard let host, accepts(authority: host) else {
            return .refuse(
                .misdirectedRequest,
                "refused: Host \"\(host ?? "")\" is not an address this gateway listens as; open it as "
                    + "http://127.0.0.1:\(port)/ or http://localhost:\(port)/ (or start it with --allow-host NAME)")
        }
        let isUpgrade = upgrade?.lowercased().contains("websocket") ?? false
        let changesState = !["GET", "HEAD", "OPTIONS"].contains(method) || isUpgrade
        if changesState {
            if let origin, !accepts(origin: origin) {
                return .refuse(
                    .forbidden,
                    "refused: a \(isUpgrade ? "WebSocket" : method) request from the page of another site "
                        + "(Origin \(origin)); only this gateway's own pages may change state")
            }
            if origin == nil, let secFetchSite, secFetchSite == "cross-site" || secFetchSite == "same-site" {
                return .refuse(.forbidden, "refused: a \(method) request from the page of another site (Sec-Fetch-Site: \(secFetchSite))")
            }
        }
        if let query, let offered = Self.queryValue("token", in: query) {
            guard method == "GET", !isUpgrade, Self.same(offered, token) else {
                return .refuse(.unauthorized, "refused: the ?token= in the URL is wrong; open the URL `jobkernel web` printed at start")
            }
            let rest = Self.removing("token", from: query)
            return .setCookie(location: rest.isEmpty ? path : "\(path)?\(rest)")
        }
        if let authorization {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer", Self.same(String(parts[1]), token) else {
                return .refuse(.unauthorized, "refused: the Authorization header does not carry this gateway's token (Bearer <token>, printed at start)")
            }
            return .allow
        }
        for header in cookies {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop(while: { $0 == " " })
                guard trimmed.hasPrefix(cookieName + "=") else { continue }
                if Self.same(String(trimmed.dropFirst(cookieName.count + 1)), token) { return .allow }
            }
        }
        return .refuse(
            .unauthorized,
            "refused: no access token; open the URL `jobkernel web` printed at start (it carries ?token=), "
                + "or send Authorization: Bearer <token>")
    }

    /// `Set-Cookie` for the token: HttpOnly (no script reads it), SameSite=Strict (no other site
    /// sends it), for the whole gateway.
    func cookie() -> String {
        "\(cookieName)=\(token); Path=/; HttpOnly; SameSite=Strict"
    }

    /// Headers every answer carries: no sniffing, no framing (clickjacking), no referrer (the token
    /// must not leak), and a content policy that allows only the gateway's own files.
    func addSecurityHeaders(to headers: inout HTTPFields) {
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[.contentSecurityPolicy] =
            "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    }

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

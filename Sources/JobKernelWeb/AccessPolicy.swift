import HTTPTypes
import Hummingbird

/// The rules of `AccessGuard`, apart from HTTP plumbing so that tests can read them as a table.
public struct AccessPolicy: Sendable {
    /// The token printed at start; 32 random bytes in hex.
    public let token: String
    /// The port the gateway listens on; part of the cookie's name, since cookies ignore ports
    /// and two gateways on one host must not overwrite each other's.
    public let port: Int
    /// `Host` values accepted, lowercased, each with and without the port.
    let hosts: Set<String>
    /// `Origin` values accepted for state-changing requests.
    let origins: Set<String>

    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!

    /// The rules for a gateway listening on `listenHost`:`port`; `extraHosts` are further names
    /// the gateway is reached by (a reverse proxy's, the machine's).
    public init(token: String, listenHost: String, port: Int, extraHosts: [String] = []) {
        self.token = token
        self.port = port
        var names = Set(["localhost", "127.0.0.1", "[::1]"])
        names.insert(listenHost.contains(":") && !listenHost.hasPrefix("[") ? "[\(listenHost)]" : listenHost)
        for host in extraHosts { names.insert(host) }
        var hosts = Set<String>()
        var origins = Set<String>()
        for name in names.map({ $0.lowercased() }) {
            if name.contains(":") && !name.hasPrefix("[") {
                // An extra host given with its port ("proxy.example:443").
                hosts.insert(name)
                origins.insert("http://\(name)")
                origins.insert("https://\(name)")
                continue
            }
            hosts.insert(name)
            hosts.insert("\(name):\(port)")
            for scheme in ["http", "https"] {
                origins.insert("\(scheme)://\(name):\(port)")
                origins.insert("\(scheme)://\(name)")
            }
        }
        self.hosts = hosts
        self.origins = origins
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
        guard let host, hosts.contains(host.lowercased()) else {
            return .refuse(
                .misdirectedRequest,
                "refused: Host \"\(host ?? "")\" is not an address this gateway listens as; open it as "
                    + "http://127.0.0.1:\(port)/ or http://localhost:\(port)/ (or start it with --allow-host NAME)")
        }
        let isUpgrade = upgrade?.lowercased().contains("websocket") ?? false
        let changesState = !["GET", "HEAD", "OPTIONS"].contains(method) || isUpgrade
        if changesState {
            if let origin, !origins.contains(origin.lowercased()) {
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

extension String {
    /// Decodes `%XX` escapes (and `+` as a space, as forms send it); nil when an escape is broken.
    var removingPercentEncoding: String? {
        var bytes: [UInt8] = []
        var iterator = Array(utf8).makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "%"):
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

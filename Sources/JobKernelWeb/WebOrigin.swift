/// A web origin, `scheme://host:port`, as browsers compare them: the port is always explicit (a
/// missing one is the scheme's default, 80 for `http` and 443 for `https`), and the host is
/// lowercased. `http://127.0.0.1` is therefore port 80, another server than a gateway on 8080.
public struct WebOrigin: Hashable, Sendable, CustomStringConvertible {
    /// `http` or `https`.
    public let scheme: String
    /// The host, lowercased; an IPv6 address keeps its brackets (`[::1]`).
    public let host: String
    /// The port, the scheme's default when the text names none.
    public let port: Int

    /// An origin from its parts.
    public init(scheme: String, host: String, port: Int) {
        self.scheme = scheme.lowercased()
        self.host = host.lowercased()
        self.port = port
    }

    /// Parses an `Origin` header: exactly `scheme://host[:port]`, nothing after. `null`, other
    /// schemes, user info and paths are not origins.
    public init?(header: String) {
        guard let (origin, rest) = Self.parse(header), rest.isEmpty else { return nil }
        self = origin
    }

    /// The origin of a URL such as a `Referer`: `scheme://host[:port]` followed by anything
    /// that starts with `/`, `?` or `#`.
    public init?(url: String) {
        guard let (origin, _) = Self.parse(url) else { return nil }
        self = origin
    }

    public var description: String { "\(scheme)://\(host):\(port)" }

    private static func parse(_ text: String) -> (WebOrigin, Substring)? {
        guard let separator = text.range(of: "://") else { return nil }
        let scheme = text[..<separator.lowerBound].lowercased()
        let defaultPort: Int
        switch scheme {
        case "http": defaultPort = 80
        case "https": defaultPort = 443
        default: return nil
        }
        let afterScheme = text[separator.upperBound...]
        let end = afterScheme.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterScheme.endIndex
        let authority = afterScheme[..<end]
        guard let (host, port) = splitAuthority(authority), !authority.contains("@") else { return nil }
        return (WebOrigin(scheme: scheme, host: host, port: port ?? defaultPort), afterScheme[end...])
    }

    /// Splits `host[:port]` (a bracketed IPv6 host keeps its brackets); nil when it is not one.
    /// The port is nil when the text names none.
    static func splitAuthority(_ authority: Substring) -> (host: String, port: Int?)? {
        var host = authority
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[...close]
            let rest = authority[authority.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                portText = rest.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(":") || host.hasPrefix("[") else { return nil }
        guard let portText else { return (host.lowercased(), nil) }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(portText), (1...65535).contains(port)
        else { return nil }
        return (host.lowercased(), port)
    }
}

import Glibc

/// A `--listen` value: `HOST:PORT`, `[IPv6]:PORT`, or a bare port (on 127.0.0.1).
public struct ListenAddress: Equatable, Sendable {
    /// The host as given, without IPv6 brackets.
    public let host: String
    /// The port; 0 picks a free one.
    public let port: Int

    /// Parses `text`; nil when it is not `HOST:PORT` with a port in 0...65535.
    public init?(_ text: String) {
        if let port = Int(text), (0...65535).contains(port) {
            self.host = "127.0.0.1"
            self.port = port
            return
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }

    /// Whether the address is loopback: an IP literal in 127.0.0.0/8, `::1`, or the name
    /// `localhost`. Any other name is not, whatever it starts with (`127.evil.example` is a name a
    /// DNS server may point anywhere).
    public var isLoopback: Bool { Self.isLoopback(host) }

    /// See `isLoopback`.
    public static func isLoopback(_ host: String) -> Bool {
        if host.lowercased() == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { bytes in bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1 }
        }
        return false
    }
}

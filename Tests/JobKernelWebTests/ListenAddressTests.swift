import Testing

@testable import JobKernelWeb

/// `--listen` (docs/web.md, "Security"): loopback is an IP literal in 127.0.0.0/8, `::1`, or
/// the name `localhost`; nothing else, whatever it looks like.
struct ListenAddressTests {
    @Test(arguments: [
        ("127.0.0.1:8080", "127.0.0.1", 8080, true), ("127.1.2.3:0", "127.1.2.3", 0, true), ("127.255.255.255:1", "127.255.255.255", 1, true),
        ("[::1]:8080", "::1", 8080, true), ("localhost:80", "localhost", 80, true), ("LOCALHOST:80", "LOCALHOST", 80, true),
        ("9000", "127.0.0.1", 9000, true),
        ("127.evil.example:8080", "127.evil.example", 8080, false), ("127.0.0.1.nip.io:8080", "127.0.0.1.nip.io", 8080, false),
        ("localhost.evil.example:1", "localhost.evil.example", 1, false), ("0.0.0.0:8080", "0.0.0.0", 8080, false),
        ("128.0.0.1:1", "128.0.0.1", 1, false), ("[::]:1", "::", 1, false), ("[::2]:1", "::2", 1, false),
        ("[::ffff:127.0.0.1]:1", "::ffff:127.0.0.1", 1, false), ("127.1:8080", "127.1", 8080, false),
        ("10.0.0.1:8080", "10.0.0.1", 8080, false), ("example.org:8080", "example.org", 8080, false),
    ])
    func loopbackIsExact(text: String, host: String, port: Int, loopback: Bool) throws {
        let address = try #require(ListenAddress(text))
        #expect(address.host == host && address.port == port)
        #expect(address.isLoopback == loopback)
    }

    @Test(arguments: ["", ":8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "[]:1", "host:port"])
    func whatIsNotAListenAddress(text: String) {
        #expect(ListenAddress(text) == nil)
    }
}

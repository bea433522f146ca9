import Testing

@testable import JobKernelWeb

/// Origins as browsers compare them (docs/web.md, "Security").
struct WebOriginTests {
    @Test(arguments: [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"), ("http://127.0.0.1", "http://127.0.0.1:80"),
        ("https://localhost", "https://localhost:443"), ("HTTP://LocalHost:8080", "http://localhost:8080"),
        ("http://[::1]", "http://[::1]:80"), ("http://[::1]:9", "http://[::1]:9"), ("https://a.example:8443", "https://a.example:8443"),
    ])
    func anOriginHasAnExplicitPort(header: String, expected: String) {
        #expect(WebOrigin(header: header)?.description == expected)
    }

    @Test(arguments: [
        "null", "", "http://", "http://:80", "ftp://a.example", "file:///etc/passwd", "http://a.example/", "http://a.example:0",
        "http://a.example:65536", "http://a.example:8o", "http://u:p@a.example", "http://::1", "http://[::1", "http://a.example:",
        "//a.example", "a.example:80",
    ])
    func whatIsNotAnOrigin(header: String) {
        #expect(WebOrigin(header: header) == nil)
    }

    @Test(arguments: [
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"), ("http://127.0.0.1:8080/#/job/1", "http://127.0.0.1:8080"),
        ("http://127.0.0.1?x=1", "http://127.0.0.1:80"), ("https://jobs.example/a/b", "https://jobs.example:443"),
    ])
    func aRefererHasTheOriginOfItsURL(url: String, expected: String) {
        #expect(WebOrigin(url: url)?.description == expected)
    }
}

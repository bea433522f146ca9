import Testing

@testable import JobKernelWeb

/// The gateway's door (SPEC §14) as a table: token, Host, Origin.
struct AccessPolicyTests {
    static let token = String(repeating: "ab", count: 32)
    let policy = AccessPolicy(token: token, listenHost: "127.0.0.1", port: BoundPort(8080), extraHosts: ["jobs.example", "proxy.example:8443"])

    func decide(
        _ method: String = "GET", path: String = "/", query: String? = nil, host: String? = "127.0.0.1:8080",
        origin: String? = nil, site: String? = nil, upgrade: String? = nil, authorization: String? = nil, cookies: [String] = []
    ) -> AccessPolicy.Decision {
        policy.decide(
            method: method, path: path, query: query, host: host, origin: origin, secFetchSite: site, upgrade: upgrade,
            authorization: authorization, cookies: cookies)
    }

    var bearer: String { "Bearer \(Self.token)" }

    @Test(arguments: ["127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]:8080", "jobs.example", "jobs.example:8080", "proxy.example:8443"])
    func theListenAddressLocalhostAndNamedHostsAreAccepted(host: String) {
        #expect(decide(host: host, authorization: bearer) == .allow)
    }

    @Test(arguments: ["evil.example", "evil.example:8080", "127.0.0.1:8081", "proxy.example", "localhost.evil:8080", ""])
    func anyOtherHostIsRefused(host: String) {
        guard case .refuse(let status, _) = decide(host: host, authorization: bearer) else {
            Issue.record("\(host) was let in")
            return
        }
        #expect(status == .misdirectedRequest)
    }

    @Test func noHostIsRefused() {
        guard case .refuse = decide(host: nil, authorization: bearer) else {
            Issue.record("a request without Host was let in")
            return
        }
    }

    @Test func theTokenComesAsBearerOrCookie() {
        #expect(decide(authorization: bearer) == .allow)
        #expect(decide(cookies: ["a=b; jobkernel_token_8080=\(Self.token)"]) == .allow)
        for refused in [decide(), decide(authorization: "Bearer nope"), decide(authorization: "Basic \(Self.token)"),
                        decide(cookies: ["jobkernel_token_9090=\(Self.token)"])] {
            guard case .refuse(.unauthorized, let message) = refused else {
                Issue.record("let in: \(refused)")
                continue
            }
            #expect(message.contains("token"))
        }
    }

    @Test func aURLTokenSetsTheCookieAndIsRemovedFromTheURL() {
        #expect(decide(path: "/", query: "token=\(Self.token)") == .setCookie(location: "/"))
        #expect(decide(path: "/x", query: "a=1&token=\(Self.token)&b=2") == .setCookie(location: "/x?a=1&b=2"))
        #expect(policy.cookie() == "jobkernel_token_8080=\(Self.token); Path=/; HttpOnly; SameSite=Strict")
        guard case .refuse(.unauthorized, _) = decide(query: "token=wrong") else {
            Issue.record("a wrong URL token was let in")
            return
        }
        guard case .refuse(.unauthorized, _) = decide("POST", path: "/rpc", query: "token=\(Self.token)") else {
            Issue.record("a URL token authorized a POST")
            return
        }
    }

    @Test(arguments: ["POST", "PUT", "DELETE", "PATCH"])
    func aStateChangingRequestFromAForeignOriginIsRefused(method: String) {
        for origin in ["http://evil.example", "null", "http://127.0.0.1:9999", "https://evil.example:8080"] {
            guard case .refuse(.forbidden, _) = decide(method, origin: origin, authorization: bearer) else {
                Issue.record("\(method) from \(origin) was let in")
                continue
            }
        }
        #expect(decide(method, origin: "http://127.0.0.1:8080", authorization: bearer) == .allow)
        #expect(decide(method, origin: "http://localhost:8080", authorization: bearer) == .allow)
        #expect(decide(method, authorization: bearer) == .allow)  // curl and scripts send no Origin
        guard case .refuse(.forbidden, _) = decide(method, site: "cross-site", authorization: bearer) else {
            Issue.record("a cross-site \(method) without Origin was let in")
            return
        }
    }

    @Test func aWebSocketUpgradeCountsAsStateChanging() {
        guard case .refuse(.forbidden, _) = decide(origin: "http://evil.example", upgrade: "websocket", authorization: bearer) else {
            Issue.record("a cross-site WebSocket was let in")
            return
        }
        #expect(decide(origin: "http://evil.example", authorization: bearer) == .allow)  // a plain GET reads only
    }

    @Test func tokensAreFreshAndLong() {
        let a = AccessPolicy.makeToken(), b = AccessPolicy.makeToken()
        #expect(a != b)
        #expect(a.count == 64 && a.allSatisfy { $0.isHexDigit })
    }
}

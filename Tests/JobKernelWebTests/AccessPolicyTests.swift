import Testing

@testable import JobKernelWeb

/// The gateway's door (docs/web.md, "Security") as tables: Host, Origin, Sec-Fetch-Site, Referer,
/// the credential, the login link.
struct AccessPolicyTests {
    static let token = String(repeating: "ab", count: 32)
    let sessions = SessionTable(loginCode: String(repeating: "cd", count: 32))
    var policy: AccessPolicy {
        AccessPolicy(
            token: Self.token, listenHost: "127.0.0.1", port: BoundPort(8080), extraHosts: ["jobs.example", "proxy.example:8443"],
            sessions: sessions)
    }
    var bearer: String { "Bearer \(Self.token)" }

    func decide(_ request: AccessPolicy.Request, now: ContinuousClock.Instant = .now) -> AccessPolicy.Decision {
        var request = request
        if request.host == nil { request.host = "127.0.0.1:8080" }
        return policy.decide(request, now: now)
    }

    func status(_ decision: AccessPolicy.Decision) -> Int? {
        if case .refuse(let status, _) = decision { return status.code }
        return nil
    }

    @Test(arguments: ["127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]:8080", "jobs.example", "jobs.example:8080", "proxy.example:8443"])
    func theListenAddressLocalhostAndNamedHostsAreAccepted(host: String) {
        #expect(decide(.init(host: host, authorization: bearer)) == .allow)
    }

    @Test(arguments: ["evil.example", "evil.example:8080", "127.0.0.1:8081", "proxy.example", "localhost.evil:8080", "127.0.0.1:x", "[::1"])
    func anyOtherHostIsRefused(host: String) {
        #expect(status(decide(.init(host: host, authorization: bearer))) == 421)
    }

    /// Origins compared exactly: scheme, host, port; a missing port is 80 or 443, not the gateway's.
    @Test(arguments: [
        ("http://127.0.0.1:8080", true), ("http://localhost:8080", true), ("http://[::1]:8080", true),
        ("HTTP://LOCALHOST:8080", true), ("http://jobs.example:8080", true), ("https://jobs.example", true),
        ("https://jobs.example:443", true), ("http://proxy.example:8443", true), ("https://proxy.example:8443", true),
        // The holes of the first gateway: a default port is another server.
        ("http://127.0.0.1", false), ("http://localhost", false), ("https://localhost", false), ("http://[::1]", false),
        ("http://127.0.0.1:80", false), ("https://127.0.0.1:8080", false), ("http://jobs.example", false),
        ("https://proxy.example", false), ("http://127.0.0.1:9999", false), ("http://evil.example:8080", false),
        ("null", false), ("", false), ("file://", false), ("http://127.0.0.1:8080/", false),
        ("http://user@127.0.0.1:8080", false), ("http://127.0.0.1:08080x", false), ("ws://127.0.0.1:8080", false),
    ])
    func anOriginIsTheGatewaysOnlyWhenSchemeHostAndPortAre(origin: String, accepted: Bool) {
        for method in ["POST", "PUT", "DELETE"] {
            let decision = decide(.init(method: method, path: "/rpc", origin: origin, authorization: bearer))
            #expect(accepted ? decision == .allow : status(decision) == 403, "\(method) from \(origin)")
        }
        let handshake = decide(.init(path: "/ws", origin: origin, upgrade: "websocket", authorization: bearer))
        #expect(accepted ? handshake == .allow : status(handshake) == 403, "WebSocket from \(origin)")
    }

    @Test func aCookieRequestFromAnotherSiteIsRefusedWithoutAnOriginToo() {
        let session = sessions.open(now: .now)
        let cookie = ["jobkernel_session_8080=\(session)"]
        #expect(decide(.init(path: "/metrics", cookies: cookie)) == .allow)  // curl, scripts: no Sec-Fetch-*
        #expect(decide(.init(path: "/events", secFetchSite: "same-origin", secFetchMode: "cors", cookies: cookie)) == .allow)
        #expect(decide(.init(path: "/", secFetchSite: "none", secFetchMode: "navigate", cookies: cookie)) == .allow)
        // A link from elsewhere only opens a page (which cannot be framed).
        #expect(decide(.init(path: "/", secFetchSite: "same-site", secFetchMode: "navigate", cookies: cookie)) == .allow)
        for site in ["cross-site", "same-site", "Same-Site"] {
            #expect(status(decide(.init(path: "/metrics", secFetchSite: site, secFetchMode: "no-cors", cookies: cookie))) == 403)
            #expect(status(decide(.init(method: "POST", path: "/rpc", secFetchSite: site, secFetchMode: "navigate", cookies: cookie))) == 403)
        }
        for referer in ["http://127.0.0.1/", "http://127.0.0.1:9999/x", "https://127.0.0.1:8080/", "null", "garbage"] {
            #expect(status(decide(.init(method: "POST", path: "/rpc", referer: referer, cookies: cookie))) == 403, "\(referer)")
            #expect(status(decide(.init(path: "/metrics", referer: referer, cookies: cookie))) == 403, "\(referer)")
        }
        #expect(decide(.init(method: "POST", path: "/rpc", referer: "http://127.0.0.1:8080/#/job/3", cookies: cookie)) == .allow)
        // With the bearer token a plain GET from a foreign page reads only what it could fetch anyway.
        #expect(decide(.init(path: "/metrics", origin: "http://evil.example", authorization: bearer)) == .allow)
        #expect(status(decide(.init(path: "/metrics", origin: "http://evil.example", cookies: cookie))) == 403)
    }

    @Test func theCookieCarriesASessionNeverTheToken() {
        let session = sessions.open(now: .now)
        #expect(session != Self.token && session.count == 64)
        #expect(policy.cookie(session: session) == "jobkernel_session_8080=\(session); Path=/; Max-Age=43200; HttpOnly; SameSite=Strict")
        #expect(decide(.init(cookies: ["a=b; jobkernel_session_8080=\(session)"])) == .allow)
        for refused in [
            decide(.init()), decide(.init(authorization: "Bearer nope")), decide(.init(authorization: "Basic \(Self.token)")),
            decide(.init(cookies: ["jobkernel_session_8080=\(Self.token)"])),  // the token is not a session
            decide(.init(cookies: ["jobkernel_session_9090=\(session)"])),  // another port's cookie
            decide(.init(authorization: "Bearer \(session)")),  // a session is not a token
        ] {
            guard case .refuse(.unauthorized, let message) = refused else {
                Issue.record("let in: \(refused)")
                continue
            }
            #expect(message.contains("token") || message.contains("session"))
        }
    }

    @Test func theLoginLinkWorksOnceAndLeavesTheURL() throws {
        let code = try #require(sessions.loginCode)
        guard case .login(let location, let session) = decide(.init(path: "/x", query: "a=1&login=\(code)&b=2")) else {
            Issue.record("the login link was refused")
            return
        }
        #expect(location == "/x?a=1&b=2")
        #expect(decide(.init(cookies: ["jobkernel_session_8080=\(session)"])) == .allow)
        #expect(status(decide(.init(query: "login=\(code)"))) == 401, "spent")
        #expect(sessions.loginCode == nil)
    }

    @Test func aLoginLinkIsAGetNavigationOnly() throws {
        let code = try #require(sessions.loginCode)
        #expect(status(decide(.init(method: "POST", path: "/rpc", query: "login=\(code)", origin: "http://127.0.0.1:8080"))) == 401)
        #expect(status(decide(.init(path: "/ws", query: "login=\(code)", origin: "http://127.0.0.1:8080", upgrade: "websocket"))) == 401)
        #expect(status(decide(.init(query: "login=wrong"))) == 401)
        #expect(sessions.loginCode == code, "none of these spent it")
    }

    @Test func theTokenIsNotTakenInAURL() {
        guard case .refuse(.unauthorized, let message) = decide(.init(query: "token=\(Self.token)")) else {
            Issue.record("a URL token was let in")
            return
        }
        #expect(message.contains("history"))
    }

    @Test func theLoginFormTakesTheTokenOnly() {
        #expect(decide(.init(method: "POST", path: "/login", origin: "http://127.0.0.1:8080")) == .allow)
        #expect(status(decide(.init(method: "POST", path: "/login", origin: "http://127.0.0.1"))) == 403)
        #expect(policy.login(token: "nope") == nil)
        let session = policy.login(token: Self.token)
        #expect(session.map { sessions.isValid($0, now: .now) } == true)
    }

    @Test func tokensAreFreshAndLong() {
        let a = AccessPolicy.makeToken(), b = AccessPolicy.makeToken()
        #expect(a != b)
        #expect(a.count == 64 && a.allSatisfy { $0.isHexDigit })
    }
}

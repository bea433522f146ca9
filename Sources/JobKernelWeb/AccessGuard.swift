import HTTPTypes
import Hummingbird

/// The gateway's door (docs/web.md, "Security"): every request needs a credential, comes for a
/// known `Host`, and, when it can change something or rides on the cookie, from no other site.
/// The rules are `AccessPolicy`'s; this middleware only reads the request and writes the answer.
///
/// - The credential is `Authorization: Bearer <token>`, or the session cookie this guard sets when
///   the one-time login link is opened (answered `303` to the same URL without the code) or the
///   login form is posted the token.
/// - `Host` must be one the gateway listens as (DNS rebinding).
/// - `Origin`, or without it `Sec-Fetch-Site` and `Referer`, must be the gateway's own (CSRF).
///
/// The WebSocket handshake meets the same rules in `ConnectionGuard`, before the upgrade.
struct AccessGuard<Context: RequestContext>: RouterMiddleware {
    let policy: AccessPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        switch policy.decide(Self.facts(of: request)) {
        case .allow:
            return try await next(request, context)
        case .login(let location, let session):
            return Response(
                status: .seeOther,
                headers: [.location: location, .setCookie: policy.cookie(session: session), .cacheControl: "no-store"])
        case .refuse(let status, let message):
            let wantsPage = request.method == .get && request.uri.path == "/"
            return wantsPage ? Self.loginPage(status: status, message: message) : Self.refusal(status: status, message: message)
        }
    }

    static func facts(of request: Request) -> AccessPolicy.Request {
        AccessPolicy.Request(
            method: request.method.rawValue, path: request.uri.path, query: request.uri.query,
            host: request.head.authority, origin: request.headers[.origin], referer: request.headers[.referer],
            secFetchSite: request.headers[HTTPField.Name("Sec-Fetch-Site")!],
            secFetchMode: request.headers[HTTPField.Name("Sec-Fetch-Mode")!],
            upgrade: request.headers[.upgrade], authorization: request.headers[.authorization],
            cookies: request.headers[values: .cookie])
    }

    /// A refusal as plain text (the security headers come from `ConnectionGuard`).
    static func refusal(status: HTTPResponse.Status, message: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }

    /// The page `/` shows without a credential: why, and a form that takes the token (posted, so
    /// that it never sits in a URL or the browser's history). No script, nothing of the kernel's.
    static func loginPage(status: HTTPResponse.Status, message: String) -> Response {
        let escaped = message.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;")
        let page = """
            <!doctype html><html lang="en"><meta charset="utf-8"><title>jobkernel — access refused</title>
            <h1>Access refused</h1><p id="refused">\(escaped)</p>
            <form method="post" action="/login"><label>Access token <input id="token" name="token" type="password" \
            autocomplete="off" required></label> <button type="submit">Open the dashboard</button></form></html>
            """
        // With `no-referrer`, Chromium sends `Origin: null` with a form post, which the door
        // refuses; `same-origin` sends the page's own origin, and no referrer to anyone else.
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                HTTPField.Name("Referrer-Policy")!: "same-origin",
            ],
            body: .init(byteBuffer: ByteBuffer(string: page)))
    }
}

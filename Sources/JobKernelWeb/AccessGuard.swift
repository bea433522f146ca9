import HTTPTypes
import Hummingbird

/// The gateway's door (SPEC §14): every request needs the token, comes for a known `Host`, and,
/// when it can change something, from no foreign `Origin`.
///
/// - The token comes as `Authorization: Bearer <token>`, or as the cookie this guard sets when a
///   page is opened once with `?token=<token>`: that request is answered with a redirect to the
///   same URL without the token, so the token leaves the address bar and the history.
/// - `Host` must be one the gateway listens as (DNS rebinding: a foreign name that resolves to
///   127.0.0.1 must not reach the kernel with the user's cookie).
/// - A request that can change state (any method but GET/HEAD/OPTIONS, and the WebSocket
///   upgrade, which carries JSON-RPC) with an `Origin` of another site is refused (CSRF).
struct AccessGuard<Context: RequestContext>: RouterMiddleware {
    let policy: AccessPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        switch policy.decide(
            method: request.method.rawValue, path: request.uri.path, query: request.uri.query,
            host: request.head.authority, origin: request.headers[.origin],
            secFetchSite: request.headers[AccessPolicy.secFetchSite],
            upgrade: request.headers[.upgrade], authorization: request.headers[.authorization],
            cookies: request.headers[values: .cookie])
        {
        case .allow:
            var response = try await next(request, context)
            policy.addSecurityHeaders(to: &response.headers)
            return response
        case .setCookie(let location):
            var headers: HTTPFields = [.location: location, .setCookie: policy.cookie(), .cacheControl: "no-store"]
            policy.addSecurityHeaders(to: &headers)
            return Response(status: .seeOther, headers: headers)
        case .refuse(let status, let message):
            return refusal(status: status, message: message, wantsHTML: request.method == .get && request.uri.path == "/")
        }
    }

    private func refusal(status: HTTPResponse.Status, message: String, wantsHTML: Bool) -> Response {
        var headers: HTTPFields = [.cacheControl: "no-store"]
        policy.addSecurityHeaders(to: &headers)
        if wantsHTML {
            headers[.contentType] = "text/html; charset=utf-8"
            let escaped = message.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;")
            let page = """
                <!doctype html><html lang="en"><meta charset="utf-8"><title>jobkernel — access refused</title>
                <h1>Access refused</h1><p id="refused">\(escaped)</p></html>
                """
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page)))
        }
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }
}

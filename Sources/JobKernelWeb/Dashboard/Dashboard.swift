/// The dashboard at `/` (SPEC §14): plain HTML, CSS and JavaScript kept in the binary, with no
/// build step and nothing fetched from elsewhere, so it works offline.
enum Dashboard {
    /// One file the gateway serves.
    struct Asset: Sendable {
        let path: String
        let contentType: String
        let body: String
    }

    static let assets: [Asset] = [
        Asset(path: "/", contentType: "text/html; charset=utf-8", body: html),
        Asset(path: "/app.css", contentType: "text/css; charset=utf-8", body: css),
        Asset(path: "/app.js", contentType: "text/javascript; charset=utf-8", body: script),
    ]
}

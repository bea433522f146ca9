/// The dashboard at `/` (docs/web.md, "The dashboard"): plain HTML, CSS and JavaScript with no
/// build step and nothing fetched from elsewhere, so it works offline.
///
/// The files beside this one (`index.html`, `style.css`, `app.js`) are the source; the binary
/// serves the copy that `scripts/embed-dashboard` writes into `Dashboard+Embedded.swift`, so that
/// jobkernel-web stays one file. `DashboardTests` fails while the copy and the files differ.
enum Dashboard {
    /// One file the gateway serves.
    struct Asset: Sendable {
        let path: String
        let contentType: String
        let body: String
    }

    static let assets: [Asset] = [
        Asset(path: "/", contentType: "text/html; charset=utf-8", body: indexHTML),
        Asset(path: "/style.css", contentType: "text/css; charset=utf-8", body: styleCSS),
        Asset(path: "/app.js", contentType: "text/javascript; charset=utf-8", body: appJS),
    ]
}

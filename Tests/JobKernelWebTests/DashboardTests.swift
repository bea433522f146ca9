import Foundation
import Testing

@testable import JobKernelWeb

/// The dashboard's files (docs/web.md, "The dashboard") are what the binary serves: the copy
/// `scripts/embed-dashboard` writes into `Dashboard+Embedded.swift` matches them byte for byte, and
/// every file the page loads is served with its type.
struct DashboardTests {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/JobKernelWeb/Dashboard")

    static let files: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { [".html", ".css", ".js"].contains(where: $0.hasSuffix) }.sorted()
    }()

    static func asset(_ path: String) -> Dashboard.Asset? {
        Dashboard.assets.first { $0.path == path }
    }

    @Test func everyFileIsEmbeddedAndNothingElse() {
        #expect(Self.files.contains("index.html"), "read from \(Self.folder.path)")
        #expect(Dashboard.embeddedFiles.keys.sorted() == Self.files, "run scripts/embed-dashboard")
    }

    @Test(arguments: files)
    func theEmbeddedCopyIsTheFileByteForByte(name: String) throws {
        let onDisk = try Data(contentsOf: Self.folder.appendingPathComponent(name))
        let embedded = try #require(Dashboard.embeddedFiles[name], "\(name) is not embedded: run scripts/embed-dashboard")
        let copy = Array(embedded.utf8), file = Array(onDisk)
        let same = copy == file
        // Where they part, as a line of the file: the bytes themselves would fill the screen.
        let shorter = min(copy.count, file.count)
        let parting = (0..<shorter).first { copy[$0] != file[$0] } ?? shorter
        let line = file[..<parting].filter { $0 == UInt8(ascii: "\n") }.count + 1
        #expect(same, "\(name) differs from its embedded copy from line \(line) on: run scripts/embed-dashboard")
    }

    @Test(arguments: [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/style.css", "style.css", "text/css; charset=utf-8"),
        ("/app.js", "app.js", "text/javascript; charset=utf-8"),
    ])
    func eachFileIsServedWithItsType(path: String, name: String, contentType: String) throws {
        let served = try #require(Self.asset(path))
        #expect(served.contentType == contentType)
        #expect(served.body == Dashboard.embeddedFiles[name])
    }

    /// The page loads its script and style from the gateway itself (the content policy allows only
    /// `'self'`), and only what the gateway serves; it has no inline script or style to allow.
    @Test func thePageLoadsOnlyServedFilesAndNothingInline() throws {
        let page = try #require(Self.asset("/")).body
        let references = page.matches(of: #/(?:src|href)="(/[^"]*)"/#).map { String($0.1) }
        #expect(Set(references) == ["/style.css", "/app.js"])
        for path in references { #expect(Self.asset(path) != nil, "\(path) is not served") }
        #expect(page.matches(of: #/<script(?![^>]*\ssrc=)/#).isEmpty, "an inline script")
        #expect(!page.contains("<style") && page.matches(of: #/\s(?:style|on[a-z]+)=/#).isEmpty, "an inline style or handler")
    }
}

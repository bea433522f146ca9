import Foundation
import Testing
@testable import JobKernelCore

/// docs/configuration.md documents every key the config parser accepts, in the section of its
/// table, and documents no key the parser would refuse (docs/promises.md §2; the repository is self-contained).
struct ConfigDocumentationTests {
    static let doc: String = {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: repo.appendingPathComponent("docs/configuration.md"), encoding: .utf8)) ?? ""
    }()

    /// Each table's heading in the document and the keys the parser takes there.
    static let sections: [(heading: String, keys: [String])] = [
        ("## `[pipeline]`", KernelConfig.pipelineKeys),
        ("## `[pools]`", KernelConfig.poolKeys),
        ("## `[types.NAME]`", KernelConfig.typeKeys),
        ("### `next` entries", KernelConfig.nextKeys),
        ("## `[[schedules]]`", KernelConfig.scheduleKeys),
        ("## `[storage]`", KernelConfig.storageKeys),
        ("## `[limits]`", KernelConfig.limitKeys),
        ("## `[broker]`", KernelConfig.brokerKeys),
        ("## `[security]`", KernelConfig.securityKeys),
    ]

    /// The text of a section: from its heading to the next heading.
    static func section(_ heading: String) -> String? {
        guard let start = doc.range(of: heading + "\n") else { return nil }
        let rest = doc[start.upperBound...]
        let end = rest.range(of: "\n#")?.lowerBound ?? rest.endIndex
        return String(rest[..<end])
    }

    /// The keys of a section's table: the first column's code spans.
    static func documentedKeys(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `") else { return nil }
            let cell = line.dropFirst(3).prefix { $0 != "`" }
            return String(cell)
        }
    }

    @Test func theDocumentExists() {
        #expect(Self.doc.count > 1000, "docs/configuration.md is missing or empty")
    }

    @Test func everyTopLevelTableHasASection() {
        for table in KernelConfig.topLevelKeys {
            let found = Self.doc.contains("## `[\(table)]`") || Self.doc.contains("## `[[\(table)]]`")
                || Self.doc.contains("## `[\(table).NAME]`")
            #expect(found, "docs/configuration.md has no section for [\(table)]")
        }
    }

    @Test(arguments: sections.map(\.heading))
    func everyKeyIsDocumentedAndNoOther(_ heading: String) throws {
        let keys = Self.sections.first { $0.heading == heading }!.keys
        let text = try #require(Self.section(heading), "docs/configuration.md has no section \(heading)")
        let documented = Self.documentedKeys(text)
        for key in keys {
            #expect(documented.contains(key), "\(heading): the parser takes `\(key)`, which is not documented")
        }
        for key in documented {
            #expect(keys.contains(key), "\(heading): `\(key)` is documented, but the parser refuses it")
        }
        // Every row gives type, default, range, example and meaning.
        for line in text.split(separator: "\n") where line.hasPrefix("| `") {
            #expect(line.split(separator: "|", omittingEmptySubsequences: false).count >= 8, "incomplete row: \(line)")
        }
    }
}

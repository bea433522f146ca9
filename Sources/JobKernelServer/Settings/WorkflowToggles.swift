import JobKernelCore

/// The workflow toggles a kernel knows: exactly those `[workflow]` declares (docs/promises.md
/// §8.3). `settings.get` and `settings.set` take only their keys, `workflow.<name>`; any other
/// key is refused with the closest declared name, so a typo does not create a toggle that
/// nothing reads (protocol/protocol.md, Settings).
struct WorkflowToggles: Sendable {
    /// The declared names, sorted.
    let names: [String]

    init(declared: some Sequence<String>) {
        names = Array(Set(declared)).sorted()
    }

    /// Whether `key` is `workflow.<name>` for a declared name.
    func declares(_ key: String) -> Bool {
        guard let name = WorkflowToggles.name(of: key) else { return false }
        return names.contains(name)
    }

    /// Nil when `key` is a declared toggle's; else the -32602 that refuses it, naming `key`.
    func refusal(of key: String) -> RPCError? {
        if declares(key) { return nil }
        let declared = names.isEmpty
            ? "the config's [workflow] declares no toggles"
            : "the config's [workflow] declares " + names.map { "workflow." + $0 }.joined(separator: ", ")
        guard let name = WorkflowToggles.name(of: key) else {
            return .invalidParams(
                "unknown setting \"\(key)\": keys are workflow.<name> for a declared toggle, or paused.<type> / "
                    + "paused.*; \(declared)",
                field: "key")
        }
        let hint = closest(to: name).map { "did you mean workflow.\($0)? " } ?? ""
        return .invalidParams("unknown setting \"\(key)\": \(hint)\(declared)", field: "key")
    }

    /// The declared name nearest to `name` by edit distance (a swap of two neighbours counts
    /// once, case is ignored), when it is close: at most a third of its length, and fewer edits
    /// than it has characters. Ties go to the first in sorted order.
    func closest(to name: String) -> String? {
        var best: (name: String, distance: Int)?
        for candidate in names {
            let d = WorkflowToggles.distance(name.lowercased(), candidate.lowercased())
            guard d <= max(1, candidate.count / 3), d < candidate.count else { continue }
            if best == nil || d < best!.distance { best = (candidate, d) }
        }
        return best?.name
    }

    /// `<name>` of `workflow.<name>`, when it is 1–64 characters of `A–Z a–z 0–9 _ -`.
    static func name(of key: String) -> String? {
        guard key.hasPrefix("workflow.") else { return nil }
        let name = key.dropFirst("workflow.".count)
        guard (1...64).contains(name.utf8.count),
              name.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 || $0 == 45 })
        else { return nil }
        return String(name)
    }

    /// Edit distance with insertions, deletions, substitutions and swaps of two neighbours (the
    /// optimal string alignment distance).
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var before = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], before[j - 2] + 1)
                }
            }
            (before, previous, current) = (previous, current, before)
        }
        return previous[b.count]
    }
}

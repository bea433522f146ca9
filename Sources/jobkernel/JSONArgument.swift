import ArgumentParser
import JobKernelCore

/// Reads a command-line argument as JSON; a bad one is a usage error naming the problem
/// (ArgumentParser adds which argument it was).
enum JSONArgument {
    static func parse(_ text: String) throws -> JSON {
        do {
            return try JSONParser.parse(text)
        } catch {
            throw ValidationError("not valid JSON: \(describe(error))")
        }
    }

    /// A JSON array, for `--items`.
    static func parseArray(_ text: String) throws -> [JSON] {
        guard case .array(let elements) = try parse(text) else {
            throw ValidationError("expected a JSON array such as [1,2,3]")
        }
        return elements
    }

    static func describe(_ error: JSONParseError) -> String {
        switch error {
        case .syntax(let offset, let message): return "\(message) at byte \(offset)"
        case .tooDeep: return "nested too deep"
        case .invalidUTF8(let offset): return "invalid UTF-8 at byte \(offset)"
        }
    }
}

/// Why a byte sequence is not a JSON text. Offsets are byte offsets into the input.
public enum JSONParseError: Error, Hashable, Sendable {
    /// The bytes do not follow the RFC 8259 grammar (or a number does not fit a Double).
    case syntax(offset: Int, message: String)
    /// More nested arrays/objects than `maxDepth`.
    case tooDeep
    /// A byte sequence that is not well-formed UTF-8.
    case invalidUTF8(offset: Int)
}

extension JSONParseError: CustomStringConvertible {
    /// A sentence for error messages, such as "unexpected character `x` at byte 12".
    public var description: String {
        switch self {
        case .syntax(let offset, let message): return "\(message) at byte \(offset)"
        case .tooDeep: return "nested too deeply"
        case .invalidUTF8(let offset): return "invalid UTF-8 at byte \(offset)"
        }
    }
}

/// A strict RFC 8259 parser working directly on UTF-8 bytes.
///
/// - Integer literals that fit `Int` become `.int`; longer ones `.rawNumber` (verbatim). Anything
///   with a fraction or an exponent becomes `.double`. A number whose magnitude overflows `Double`
///   (`1e400`) is a syntax error rather than infinity, since infinity cannot be written back as JSON.
///   Underflow (`1e-400`) rounds to zero as usual.
/// - Depth counts arrays and objects: the outermost container is level 1, and a container that
///   would be level `maxDepth + 1` is `.tooDeep`. Scalars do not add a level.
/// - The parser is iterative (an explicit stack of open containers), so deep input cannot
///   exhaust the thread's stack whatever `maxDepth` is.
/// - A repeated object key keeps its first position and its last value (as JavaScript does).
/// - No byte-order mark, comments, trailing commas, leading zeros, NaN or Infinity.
public struct JSONParser {
    private let bytes: UnsafeRawBufferPointer
    private let maxDepth: Int
    private var index = 0
    /// Reused for strings that contain escapes.
    private var scratch: [UInt8] = []

    private init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Parses one JSON text (leading and trailing whitespace allowed, nothing else after it).
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 64) throws(JSONParseError) -> JSON {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        return try parser.parseDocument()
    }

    /// Parses one JSON text from an array of bytes.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 64) throws(JSONParseError) -> JSON {
        let result: Result<JSON, JSONParseError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(JSONParseError) -> JSON in try parse(buffer, maxDepth: maxDepth) }
        }
        return try result.get()
    }

    /// Parses one JSON text from a string (its UTF-8 bytes).
    public static func parse(_ text: String, maxDepth: Int = 64) throws(JSONParseError) -> JSON {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }

    // MARK: - Structure

    /// An open array or object: where its elements (and, for objects, its keys) start on the stacks.
    private struct OpenContainer {
        var isObject: Bool
        var valueStart: Int
        var keyStart: Int
    }

    private mutating func parseDocument() throws(JSONParseError) -> JSON {
        let value = try parseValue()
        skipWhitespace()
        if index < bytes.count { throw unexpected("after the end of the JSON value") }
        return value
    }

    private mutating func parseValue() throws(JSONParseError) -> JSON {
        // Finished elements of all open containers, in order; keys of all open objects likewise.
        // Room for a typical request up front: growing these from empty, one doubling at a
        // time, cost more than parsing the bytes.
        var values: [JSON] = []
        values.reserveCapacity(16)
        var keys: [String] = []
        keys.reserveCapacity(16)
        var open: [OpenContainer] = []
        open.reserveCapacity(4)

        expectingValue: while true {
            skipWhitespace()
            guard index < bytes.count else { throw syntax("unexpected end of input, expected a value") }
            var value: JSON
            switch bytes[index] {
            case UInt8(ascii: "{"):
                guard open.count < maxDepth else { throw .tooDeep }
                index += 1
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    value = .object(JSONObject())
                } else {
                    open.append(OpenContainer(isObject: true, valueStart: values.count, keyStart: keys.count))
                    keys.append(try parseKeyAndColon())
                    continue expectingValue
                }
            case UInt8(ascii: "["):
                guard open.count < maxDepth else { throw .tooDeep }
                index += 1
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    value = .array([])
                } else {
                    open.append(OpenContainer(isObject: false, valueStart: values.count, keyStart: keys.count))
                    continue expectingValue
                }
            case UInt8(ascii: "\""):
                value = .string(try parseString())
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                value = .bool(true)
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                value = .bool(false)
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                value = .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = try parseNumber()
            default:
                throw unexpected("where a value was expected")
            }

            // A value is complete: hand it to its container, closing containers as they end.
            while let container = open.last {
                values.append(value)
                skipWhitespace()
                guard index < bytes.count else {
                    throw syntax("unexpected end of input inside \(container.isObject ? "an object" : "an array")")
                }
                let byte = bytes[index]
                if byte == UInt8(ascii: ",") {
                    index += 1
                    if container.isObject {
                        skipWhitespace()
                        keys.append(try parseKeyAndColon())
                    }
                    continue expectingValue
                }
                if container.isObject {
                    guard byte == UInt8(ascii: "}") else { throw unexpected("in an object, expected `,` or `}`") }
                    var object = JSONObject(minimumCapacity: keys.count - container.keyStart)
                    for offset in 0..<(keys.count - container.keyStart) {
                        object[keys[container.keyStart + offset]] = values[container.valueStart + offset]
                    }
                    keys.removeSubrange(container.keyStart...)
                    value = .object(object)
                } else {
                    guard byte == UInt8(ascii: "]") else { throw unexpected("in an array, expected `,` or `]`") }
                    value = .array(Array(values[container.valueStart...]))
                }
                index += 1
                values.removeSubrange(container.valueStart...)
                open.removeLast()
            }
            return value
        }
    }

    /// Parses `"key"` `:` with the whitespace around the colon.
    private mutating func parseKeyAndColon() throws(JSONParseError) -> String {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
            throw unexpected("where an object key (a string) was expected")
        }
        let key = try parseString()
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
            throw unexpected("after an object key, expected `:`")
        }
        index += 1
        return key
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let length = literal.utf8CodeUnitCount
        let start = literal.utf8Start
        for offset in 0..<length {
            guard index + offset < bytes.count, bytes[index + offset] == start[offset] else {
                index += offset
                if index >= bytes.count { throw syntax("unexpected end of input in `\(literal)`") }
                throw unexpected("in what looks like `\(literal)`")
            }
        }
        index += length
    }

    // MARK: - Strings

    private mutating func parseString() throws(JSONParseError) -> String {
        let quote = index
        index += 1
        let start = index
        // Fast path: no escapes, so the bytes between the quotes are the string.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                index += 1
                return JSONParser.known(text) ?? String(decoding: text, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") { return try parseEscapedString(from: start) }
            if byte < 0x20 { throw syntax("unescaped control character 0x\(hex2(byte)) in a string") }
            if byte < 0x80 { index += 1 } else { try skipUTF8Sequence() }
        }
        throw syntax("unterminated string starting", at: quote)
    }

    /// The member names of the requests sent most (enqueue, fetch, ack and the rest of a
    /// worker's calls), by length: a name found here is a comparison of its bytes, not a new
    /// string checked for valid UTF-8 once more.
    private static let knownStrings: [[(bytes: [UInt8], string: String)]] = {
        let names = ["type", "types", "payload", "items", "priority", "idempotency_key", "created_by",
                     "run_at", "delay_s", "max_attempts", "timeout_s", "parent_id", "manual", "after",
                     "max", "wait_s", "lease", "lease_s", "result", "error", "message", "code", "data",
                     "current", "total", "phase", "level", "job_id", "id", "jsonrpc", "method", "params"]
        var table = [[(bytes: [UInt8], string: String)]](repeating: [], count: 16)
        for name in names { table[name.utf8.count].append((Array(name.utf8), name)) }
        return table
    }()

    @inline(__always)
    private static func known(_ text: UnsafeRawBufferPointer) -> String? {
        guard text.count < knownStrings.count else { return nil }
        for candidate in knownStrings[text.count] where candidate.bytes.elementsEqual(text) {
            return candidate.string
        }
        return nil
    }

    /// The slow path: copies into `scratch`, decoding escapes. `index` is at the first backslash.
    private mutating func parseEscapedString(from start: Int) throws(JSONParseError) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: scratch, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try parseEscape()
            case 0..<0x20:
                throw syntax("unescaped control character 0x\(hex2(byte)) in a string")
            case 0x20..<0x80:
                scratch.append(byte)
                index += 1
            default:
                let sequenceStart = index
                try skipUTF8Sequence()
                scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[sequenceStart..<index]))
            }
        }
        throw syntax("unterminated string starting", at: start - 1)
    }

    /// Decodes one escape at `index` (a backslash) into `scratch`.
    private mutating func parseEscape() throws(JSONParseError) {
        let escapeStart = index
        guard index + 1 < bytes.count else { throw syntax("unterminated string") }
        let code = bytes[index + 1]
        index += 2
        switch code {
        case UInt8(ascii: "\""): scratch.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): scratch.append(UInt8(ascii: "\\"))
        case UInt8(ascii: "/"): scratch.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try parseHex4()
            if (0xDC00...0xDFFF).contains(scalar) {
                throw syntax("lone low surrogate \\u\(hex4(scalar))", at: escapeStart)
            }
            if (0xD800...0xDBFF).contains(scalar) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw syntax("lone high surrogate \\u\(hex4(scalar))", at: escapeStart)
                }
                index += 2
                let low = try parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw syntax("high surrogate \\u\(hex4(scalar)) not followed by a low surrogate", at: escapeStart)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            appendUTF8(scalar)
        default:
            throw syntax("invalid escape `\\\(Unicode.Scalar(code).escaped(asASCII: true))` in a string", at: escapeStart)
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw syntax("unterminated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw unexpected("in a \\u escape, expected a hex digit")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Steps over one well-formed multi-byte UTF-8 sequence (RFC 3629: no overlong forms, no
    /// surrogates, nothing above U+10FFFF) or throws `.invalidUTF8` at its first byte.
    private mutating func skipUTF8Sequence() throws(JSONParseError) {
        let length = utf8SequenceLength(at: index)
        guard length > 0 else { throw .invalidUTF8(offset: index) }
        index += length
    }

    /// The length of the well-formed multi-byte sequence at `position`, or 0 when there is none.
    private func utf8SequenceLength(at position: Int) -> Int {
        let lead = bytes[position]
        var length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return 0
        }
        guard position + length <= bytes.count else { return 0 }
        let second = bytes[position + 1]
        guard second >= low, second <= high else { return 0 }
        var offset = 2
        while offset < length {
            guard bytes[position + offset] & 0xC0 == 0x80 else { return 0 }
            offset += 1
        }
        return length
    }

    // MARK: - Numbers

    private mutating func parseNumber() throws(JSONParseError) -> JSON {
        let start = index
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else {
            if index >= bytes.count { throw syntax("unexpected end of input in a number") }
            throw unexpected("in a number, expected a digit")
        }
        // Accumulate negatively so that Int.min fits.
        var accumulator = 0
        var overflow = false
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) { throw syntax("leading zeros are not allowed in a number", at: start) }
        } else {
            while index < bytes.count, isDigit(bytes[index]) {
                let digit = Int(bytes[index] &- UInt8(ascii: "0"))
                let (times10, o1) = accumulator.multipliedReportingOverflow(by: 10)
                let (next, o2) = times10.subtractingReportingOverflow(digit)
                overflow = overflow || o1 || o2
                accumulator = next
                index += 1
            }
        }
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            try expectDigits(after: "`.`")
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            try expectDigits(after: "the exponent")
        }
        let literal = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
        if isInteger {
            if !overflow {
                if negative { return .int(accumulator) }
                if accumulator != Int.min { return .int(-accumulator) }
            }
            return .rawNumber(String(decoding: literal, as: UTF8.self))
        }
        guard let double = Double(String(decoding: literal, as: UTF8.self)), double.isFinite else {
            throw syntax("number out of range for a double", at: start)
        }
        return .double(double)
    }

    private mutating func expectDigits(after what: String) throws(JSONParseError) {
        guard index < bytes.count, isDigit(bytes[index]) else {
            if index >= bytes.count { throw syntax("unexpected end of input in a number") }
            throw unexpected("in a number, expected a digit after \(what)")
        }
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    @inline(__always)
    private func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    // MARK: - Errors

    private func syntax(_ message: String, at offset: Int? = nil) -> JSONParseError {
        .syntax(offset: offset ?? index, message: message)
    }

    /// An error for the byte at `index`, which is not allowed there. A non-ASCII byte that does not
    /// start well-formed UTF-8 is reported as invalid UTF-8 first.
    private func unexpected(_ context: String) -> JSONParseError {
        guard index < bytes.count else { return syntax("unexpected end of input \(context)") }
        let byte = bytes[index]
        if byte >= 0x80 {
            if utf8SequenceLength(at: index) == 0 { return .invalidUTF8(offset: index) }
            return syntax("unexpected non-ASCII character \(context)")
        }
        if byte < 0x20 || byte == 0x7F { return syntax("unexpected control character 0x\(hex2(byte)) \(context)") }
        return syntax("unexpected character `\(Character(Unicode.Scalar(byte)))` \(context)")
    }
}

private let hexDigits: [Character] = Array("0123456789abcdef")

private func hex2(_ byte: UInt8) -> String {
    String([hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]])
}

private func hex4(_ value: UInt32) -> String {
    String((0..<4).reversed().map { hexDigits[Int(value >> (UInt32($0) * 4) & 0xF)] })
}

/// Why a text is not the JSON the kernel accepts.
public enum JSONParseError: Error, Hashable, Sendable {
    case syntax(offset: Int, message: String)
    /// Nested deeper than the limit.
    case tooDeep
    case invalidUTF8(offset: Int)
}

/// A strict RFC 8259 parser over bytes, with a nesting limit checked before each descent so deep
/// input cannot exhaust the stack.
public struct JSONParser {
    private let p: UnsafeRawBufferPointer
    private var i = 0
    private let maxDepth: Int

    private init(_ p: UnsafeRawBufferPointer, maxDepth: Int) {
        self.p = p
        self.maxDepth = maxDepth
    }

    /// Parses one JSON value (surrounding whitespace allowed). The top-level value is depth 1.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 64) throws(JSONParseError) -> JSON {
        var parser = JSONParser(bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.value(depth: 1)
        parser.skipWhitespace()
        guard parser.i == bytes.count else { throw parser.error("unexpected text after the value") }
        return value
    }

    public static func parse(_ bytes: [UInt8], maxDepth: Int = 64) throws(JSONParseError) -> JSON {
        do {
            return try bytes.withUnsafeBytes { try parse($0, maxDepth: maxDepth) }
        } catch let e as JSONParseError {
            throw e
        } catch {
            fatalError("unreachable")
        }
    }

    public static func parse(_ text: String, maxDepth: Int = 64) throws(JSONParseError) -> JSON {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }

    private func error(_ message: String) -> JSONParseError { .syntax(offset: i, message: message) }

    private mutating func skipWhitespace() {
        while i < p.count {
            let c = p[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    private mutating func value(depth: Int) throws(JSONParseError) -> JSON {
        guard i < p.count else { throw error("unexpected end of input") }
        switch p[i] {
        case UInt8(ascii: "{"):
            guard depth <= maxDepth else { throw .tooDeep }
            return try object(depth: depth)
        case UInt8(ascii: "["):
            guard depth <= maxDepth else { throw .tooDeep }
            return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= p.count else { throw error("unexpected end of input") }
        let w = word.utf8Start
        for k in 0..<n where p[i + k] != w[k] { throw error("invalid literal") }
        i += n
    }

    private mutating func object(depth: Int) throws(JSONParseError) -> JSON {
        i += 1
        var o = JSONObject()
        skipWhitespace()
        if i < p.count, p[i] == UInt8(ascii: "}") {
            i += 1
            return .object(o)
        }
        while true {
            skipWhitespace()
            guard i < p.count, p[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try string()
            skipWhitespace()
            guard i < p.count, p[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
            i += 1
            skipWhitespace()
            o[key] = try value(depth: depth + 1)
            skipWhitespace()
            guard i < p.count else { throw error("unexpected end of input") }
            if p[i] == UInt8(ascii: ",") { i += 1; continue }
            if p[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func array(depth: Int) throws(JSONParseError) -> JSON {
        i += 1
        var a: [JSON] = []
        skipWhitespace()
        if i < p.count, p[i] == UInt8(ascii: "]") {
            i += 1
            return .array(a)
        }
        while true {
            skipWhitespace()
            a.append(try value(depth: depth + 1))
            skipWhitespace()
            guard i < p.count else { throw error("unexpected end of input") }
            if p[i] == UInt8(ascii: ",") { i += 1; continue }
            if p[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
            throw error("expected ',' or ']'")
        }
    }

    private mutating func number() throws(JSONParseError) -> JSON {
        let start = i
        var isInteger = true
        if p[i] == UInt8(ascii: "-") { i += 1 }
        guard i < p.count, isDigit(p[i]) else { throw error("invalid number") }
        if p[i] == UInt8(ascii: "0") {
            i += 1
            if i < p.count, isDigit(p[i]) { throw error("leading zeros are not allowed") }
        } else {
            while i < p.count, isDigit(p[i]) { i += 1 }
        }
        if i < p.count, p[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            guard i < p.count, isDigit(p[i]) else { throw error("invalid number") }
            while i < p.count, isDigit(p[i]) { i += 1 }
        }
        if i < p.count, p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if i < p.count, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") { i += 1 }
            guard i < p.count, isDigit(p[i]) else { throw error("invalid number") }
            while i < p.count, isDigit(p[i]) { i += 1 }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: p[start..<i]), as: UTF8.self)
        if isInteger {
            if let v = Int(text) { return .int(v) }
            return .rawNumber(text)
        }
        guard let d = Double(text), d.isFinite else { return .rawNumber(text) }
        return .double(d)
    }

    private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    private mutating func string() throws(JSONParseError) -> String {
        i += 1
        let start = i
        // Fast path: no escapes, ASCII only.
        while i < p.count {
            let c = p[i]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeRawBufferPointer(rebasing: p[start..<i]), as: UTF8.self)
                i += 1
                return s
            }
            if c == UInt8(ascii: "\\") || c >= 0x80 { break }
            if c < 0x20 { throw error("control character in string") }
            i += 1
        }
        var out = [UInt8](UnsafeRawBufferPointer(rebasing: p[start..<i]))
        while i < p.count {
            let c = p[i]
            switch c {
            case UInt8(ascii: "\""):
                i += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                i += 1
                guard i < p.count else { throw error("unexpected end of input") }
                let e = p[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard i + 1 < p.count, p[i] == UInt8(ascii: "\\"), p[i + 1] == UInt8(ascii: "u") else {
                            throw error("lone surrogate")
                        }
                        i += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw error("lone surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw error("lone surrogate")
                    }
                    appendUTF8(scalar, to: &out)
                default: throw error("invalid escape")
                }
            case 0..<0x20:
                throw error("control character in string")
            case 0..<0x80:
                out.append(c)
                i += 1
            default:
                let n = try utf8Sequence()
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[i..<(i + n)]))
                i += n
            }
        }
        throw error("unterminated string")
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard i + 4 <= p.count else { throw error("invalid \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = p[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// Validates the multi-byte UTF-8 sequence at `i`; returns its length.
    private func utf8Sequence() throws(JSONParseError) -> Int {
        let c = p[i]
        let n: Int
        var minScalar: UInt32
        var scalar: UInt32
        switch c {
        case 0xC2...0xDF: n = 2; minScalar = 0x80; scalar = UInt32(c & 0x1F)
        case 0xE0...0xEF: n = 3; minScalar = 0x800; scalar = UInt32(c & 0x0F)
        case 0xF0...0xF4: n = 4; minScalar = 0x10000; scalar = UInt32(c & 0x07)
        default: throw JSONParseError.invalidUTF8(offset: i)
        }
        guard i + n <= p.count else { throw JSONParseError.invalidUTF8(offset: i) }
        for k in 1..<n {
            let b = p[i + k]
            guard b & 0xC0 == 0x80 else { throw JSONParseError.invalidUTF8(offset: i) }
            scalar = scalar << 6 | UInt32(b & 0x3F)
        }
        guard scalar >= minScalar, scalar <= 0x10FFFF, !(scalar >= 0xD800 && scalar < 0xE000) else {
            throw JSONParseError.invalidUTF8(offset: i)
        }
        return n
    }

    private func appendUTF8(_ s: UInt32, to out: inout [UInt8]) {
        switch s {
        case 0..<0x80: out.append(UInt8(s))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | s >> 6)); out.append(UInt8(0x80 | s & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | s >> 12)); out.append(UInt8(0x80 | s >> 6 & 0x3F)); out.append(UInt8(0x80 | s & 0x3F))
        default:
            out.append(UInt8(0xF0 | s >> 18)); out.append(UInt8(0x80 | s >> 12 & 0x3F))
            out.append(UInt8(0x80 | s >> 6 & 0x3F)); out.append(UInt8(0x80 | s & 0x3F))
        }
    }
}

/// The usual request read straight from its bytes: `{"jsonrpc":"2.0","id":…,"method":"…",
/// "params":{…}}`, its members in any order; and the usual response, `{"jsonrpc":"2.0","id":…,
/// "result":{…}}` (a persistent worker's answer to `run`). Only `params` or `result` goes through
/// the JSON parser; the envelope builds no JSON object of its own.
///
/// Anything out of the ordinary (an escape in the method name, a fractional or negative id, a
/// duplicate or unknown member, a result that is not an object or array, an error response, a
/// batch, bad syntax) returns nil, and the frame takes
/// the general path, which gives every error. So the result is always what the general path
/// gives (the fuzzer's `decode(bytes) == decode(parse(bytes))` holds it to that).
extension RPCDecoder {
    static func envelope(_ b: UnsafeRawBufferPointer, maxDepth: Int) -> RPCEntry? {
        var i = 0
        func skipSpace() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }
        func expect(_ byte: UInt8) -> Bool {
            skipSpace()
            guard i < b.count, b[i] == byte else { return false }
            i += 1
            return true
        }
        /// The bytes of a string of printable ASCII without escapes, the opening quote at `i`.
        func plainBytes() -> Range<Int>? {
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
            let start = i + 1
            var j = start
            while j < b.count {
                let c = b[j]
                if c == UInt8(ascii: "\"") {
                    i = j + 1
                    return start..<j
                }
                guard c >= 0x20, c < 0x7F, c != UInt8(ascii: "\\") else { return nil }
                j += 1
            }
            return nil
        }
        func plainString() -> String? {
            plainBytes().map { String(decoding: UnsafeRawBufferPointer(rebasing: b[$0]), as: UTF8.self) }
        }
        /// Whether the bytes in `range` are `text` (member names compared without making strings).
        func matches(_ range: Range<Int>, _ text: StaticString) -> Bool {
            guard range.count == text.utf8CodeUnitCount else { return false }
            for k in 0..<range.count where b[range.lowerBound + k] != text.utf8Start[k] { return false }
            return true
        }
        /// `0` or a positive integer of at most 18 digits.
        func plainInt() -> Int? {
            guard i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") else { return nil }
            if b[i] == UInt8(ascii: "0") {
                i += 1
                return 0
            }
            var n = 0
            var digits = 0
            while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") {
                digits += 1
                guard digits <= 18 else { return nil }
                n = n * 10 + Int(b[i] - UInt8(ascii: "0"))
                i += 1
            }
            return n
        }
        /// The extent of the object or array at `i`, found by its brackets outside strings.
        func container() -> Range<Int>? {
            guard i < b.count, b[i] == UInt8(ascii: "{") || b[i] == UInt8(ascii: "[") else { return nil }
            let start = i
            var depth = 0
            var inString = false
            while i < b.count {
                let c = b[i]
                i += 1
                if inString {
                    if c == UInt8(ascii: "\\") { i += 1 } else if c == UInt8(ascii: "\"") { inString = false }
                    continue
                }
                switch c {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return start..<i }
                default: break
                }
            }
            return nil
        }

        guard maxDepth >= 1, expect(UInt8(ascii: "{")) else { return nil }
        var version = false
        var id: JSON?
        var method: String?
        var params: Range<Int>?
        var result: Range<Int>?
        while true {
            skipSpace()
            guard let key = plainBytes(), expect(UInt8(ascii: ":")) else { return nil }
            skipSpace()
            if matches(key, "jsonrpc") {
                guard !version, let value = plainBytes(), matches(value, "2.0") else { return nil }
                version = true
            } else if matches(key, "id") {
                guard id == nil, i < b.count else { return nil }
                if b[i] == UInt8(ascii: "\"") {
                    guard let s = plainString() else { return nil }
                    id = .string(s)
                } else if b[i] == UInt8(ascii: "n") {
                    guard i + 4 <= b.count, b[i + 1] == UInt8(ascii: "u"), b[i + 2] == UInt8(ascii: "l"),
                          b[i + 3] == UInt8(ascii: "l") else { return nil }
                    i += 4
                    id = .null
                } else {
                    guard let n = plainInt() else { return nil }
                    id = .int(n)
                }
            } else if matches(key, "method") {
                guard method == nil, let name = plainString() else { return nil }
                method = name
            } else if matches(key, "params") {
                guard params == nil, let range = container() else { return nil }
                params = range
            } else if matches(key, "result") {
                guard result == nil, let range = container() else { return nil }
                result = range
            } else {
                return nil
            }
            skipSpace()
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard b[i] == UInt8(ascii: "}") else { return nil }
            i += 1
            break
        }
        skipSpace()
        guard i == b.count, version else { return nil }
        if let result {
            guard method == nil, params == nil, let id,
                  let value = try? JSONParser.parse(UnsafeRawBufferPointer(rebasing: b[result]), maxDepth: maxDepth - 1)
            else { return nil }
            return .message(.response(id: id, result: .success(value)))
        }
        guard let method else { return nil }
        var value: JSON?
        if let params {
            guard let parsed = try? JSONParser.parse(UnsafeRawBufferPointer(rebasing: b[params]), maxDepth: maxDepth - 1)
            else { return nil }
            value = parsed
        }
        guard let id else { return .message(.notification(method: method, params: value)) }
        return .message(.request(id: id, method: method, params: value))
    }
}

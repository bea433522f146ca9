/// Writes JSON values as compact UTF-8 into a byte buffer.
///
/// Keys come out in `JSONObject` order. Strings escape `"`, `\` and control characters
/// (`\b \f \n \r \t` in their short forms, others as `\u00XX`); everything else, non-ASCII included,
/// is written as-is. Doubles use Swift's shortest round-trip form (`30.0`, `0.1`, `1e-07`);
/// infinities and NaN, which JSON cannot express, are written as `null`. `rawNumber` is verbatim.
public enum JSONWriter {
    /// Appends the compact form of `value` to `buffer`.
    public static func write(_ value: JSON, into buffer: inout ByteWriter) {
        switch value {
        case .null: buffer.append("null")
        case .bool(let flag): buffer.append(flag ? "true" : "false")
        case .int(let number): writeInt(number, into: &buffer)
        case .double(let number): writeDouble(number, into: &buffer)
        case .rawNumber(let literal): buffer.append(utf8: literal)
        case .serialized(let s): buffer.append(s.bytes)
        case .string(let string): writeString(string, into: &buffer)
        case .array(let elements):
            buffer.append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { buffer.append(UInt8(ascii: ",")) }
                first = false
                write(element, into: &buffer)
            }
            buffer.append(UInt8(ascii: "]"))
        case .object(let object):
            buffer.append(UInt8(ascii: "{"))
            var first = true
            // Walk the pairs in order: no array of keys, no lookup per key.
            for (key, member) in object {
                if !first { buffer.append(UInt8(ascii: ",")) }
                first = false
                writeString(key, into: &buffer)
                buffer.append(UInt8(ascii: ":"))
                write(member, into: &buffer)
            }
            buffer.append(UInt8(ascii: "}"))
        }
    }

    /// Appends `string` as a quoted, escaped JSON string.
    public static func writeString(_ string: String, into buffer: inout ByteWriter) {
        buffer.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            // Copy runs of bytes that need no escaping in one go. Eight bytes at a time while
            // none of them needs it: most strings have no byte to escape at all.
            var runStart = 0
            var clean = 0
            let raw = UnsafeRawBufferPointer(utf8)
            while clean + 8 <= utf8.count, !needsEscape(raw.loadUnaligned(fromByteOffset: clean, as: UInt64.self)) {
                clean += 8
            }
            for position in clean..<utf8.count {
                let byte = utf8[position]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if runStart < position { buffer.append(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: utf8[runStart..<position]))) }
                runStart = position + 1
                buffer.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): buffer.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): buffer.append(UInt8(ascii: "\\"))
                case 0x08: buffer.append(UInt8(ascii: "b"))
                case 0x0C: buffer.append(UInt8(ascii: "f"))
                case 0x0A: buffer.append(UInt8(ascii: "n"))
                case 0x0D: buffer.append(UInt8(ascii: "r"))
                case 0x09: buffer.append(UInt8(ascii: "t"))
                default:
                    buffer.append("u00")
                    buffer.append(hexDigit(byte >> 4))
                    buffer.append(hexDigit(byte & 0xF))
                }
            }
            if runStart < utf8.count { buffer.append(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: utf8[runStart...]))) }
        }
        buffer.append(UInt8(ascii: "\""))
    }

    /// Appends the decimal digits of `number` without going through `String`.
    public static func writeInt(_ number: Int, into buffer: inout ByteWriter) {
        if number >= 0, number < 10 {
            buffer.append(UInt8(ascii: "0") + UInt8(number))
            return
        }
        buffer.write(atMost: 20) { out in
            let p = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let magnitude = number.magnitude
            let sign = number < 0 ? 1 : 0
            if sign == 1 { p[0] = UInt8(ascii: "-") }
            let length = sign + DecimalDigits.count(magnitude)
            DecimalDigits.write(magnitude, endingAt: p + length)
            return length
        }
    }

    private static func writeDouble(_ number: Double, into buffer: inout ByteWriter) {
        guard number.isFinite else {
            buffer.append("null")
            return
        }
        // Swift's description is the shortest form that round-trips, and always valid JSON for
        // finite values ("30.0", "1e-07", "1e+20", "-0.0").
        buffer.append(utf8: number.description)
    }

    /// Whether any of the eight bytes of `word` is below 0x20, `"` or `\\` (may say yes for a
    /// word that has none after such a byte, never no for one that has one).
    @inline(__always)
    private static func needsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let below = (word &- ones &* 0x20) & ~word
        let quoteZero = (quote &- ones) & ~quote
        let backslashZero = (backslash &- ones) & ~backslash
        return (below | quoteZero | backslashZero) & highs != 0
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    // MARK: Onto an array

    /// Appends the compact form of `value` to `buffer`.
    public static func write(_ value: JSON, into buffer: inout [UInt8]) {
        ByteWriter.appending(to: &buffer) { write(value, into: &$0) }
    }

    /// Appends the decimal digits of `number`.
    public static func writeInt(_ number: Int, into buffer: inout [UInt8]) {
        ByteWriter.appending(to: &buffer) { writeInt(number, into: &$0) }
    }
}

extension JSON {
    /// The compact UTF-8 encoding of this value.
    public func serialized() -> [UInt8] {
        if case .serialized(let s) = self { return s.bytes }  // already bytes: shared, not copied
        var writer = ByteWriter(capacity: 128)
        JSONWriter.write(self, into: &writer)
        return writer.finish()
    }

    /// Appends the compact UTF-8 encoding of this value to `buffer`.
    public func write(into buffer: inout [UInt8]) {
        JSONWriter.write(self, into: &buffer)
    }

    /// The compact encoding as a string, for logs and tests.
    public var compactString: String {
        String(decoding: serialized(), as: UTF8.self)
    }
}

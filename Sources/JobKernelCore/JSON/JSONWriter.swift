/// Writes JSON values as compact UTF-8 into a byte buffer.
///
/// Keys come out in `JSONObject` order. Strings escape `"`, `\` and control characters
/// (`\b \f \n \r \t` in their short forms, others as `\u00XX`); everything else, non-ASCII included,
/// is written as-is. Doubles use Swift's shortest round-trip form (`30.0`, `0.1`, `1e-07`);
/// infinities and NaN, which JSON cannot express, are written as `null`. `rawNumber` is verbatim.
public enum JSONWriter {
    /// Appends the compact form of `value` to `buffer`.
    public static func write(_ value: JSON, into buffer: inout [UInt8]) {
        switch value {
        case .null: appendASCII("null", to: &buffer)
        case .bool(let flag): appendASCII(flag ? "true" : "false", to: &buffer)
        case .int(let number): writeInt(number, into: &buffer)
        case .double(let number): writeDouble(number, into: &buffer)
        case .rawNumber(let literal): buffer.append(contentsOf: literal.utf8)
        case .serialized(let s): buffer.append(contentsOf: s.bytes)
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
    public static func writeString(_ string: String, into buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            // Copy runs of bytes that need no escaping in one go.
            var runStart = 0
            for position in 0..<utf8.count {
                let byte = utf8[position]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if runStart < position { buffer.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<position])) }
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
                    appendASCII("u00", to: &buffer)
                    buffer.append(hexDigit(byte >> 4))
                    buffer.append(hexDigit(byte & 0xF))
                }
            }
            if runStart < utf8.count { buffer.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        }
        buffer.append(UInt8(ascii: "\""))
    }

    /// Appends the decimal digits of `number` without going through `String`.
    public static func writeInt(_ number: Int, into buffer: inout [UInt8]) {
        if number < 0 { buffer.append(UInt8(ascii: "-")) }
        var magnitude = number.magnitude
        if magnitude < 10 {
            buffer.append(UInt8(ascii: "0") + UInt8(magnitude))
            return
        }
        // At most 20 digits; fill from the right into a fixed tuple-sized scratch.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { scratch in
            var position = scratch.count
            while magnitude > 0 {
                position -= 1
                scratch[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            }
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[position...]))
        }
    }

    private static func writeDouble(_ number: Double, into buffer: inout [UInt8]) {
        guard number.isFinite else {
            appendASCII("null", to: &buffer)
            return
        }
        // Swift's description is the shortest form that round-trips, and always valid JSON for
        // finite values ("30.0", "1e-07", "1e+20", "-0.0").
        buffer.append(contentsOf: number.description.utf8)
    }

    @inline(__always)
    private static func appendASCII(_ text: StaticString, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}

extension JSON {
    /// The compact UTF-8 encoding of this value.
    public func serialized() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(64)
        JSONWriter.write(self, into: &buffer)
        return buffer
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

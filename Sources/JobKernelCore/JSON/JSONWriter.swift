extension JSON {
    /// Compact UTF-8 JSON, object keys in their order.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        write(into: &out)
        return out
    }

    /// The compact JSON text.
    public var compactString: String { String(decoding: serialized(), as: UTF8.self) }

    /// Appends the compact JSON text to `out`.
    public func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(true): out.append(contentsOf: [0x74, 0x72, 0x75, 0x65])
        case .bool(false): out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
        case .int(let v): JSON.writeInt(v, into: &out)
        case .double(let d):
            if !d.isFinite {
                out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
            } else if d == d.rounded(), abs(d) < 1e15 {
                JSON.writeInt(Int(d), into: &out)
                out.append(contentsOf: [0x2E, 0x30])
            } else {
                out.append(contentsOf: d.description.utf8)
            }
        case .rawNumber(let s): out.append(contentsOf: s.utf8)
        case .string(let s): JSON.writeString(s, into: &out)
        case .array(let a):
            out.append(0x5B)
            for (k, v) in a.enumerated() {
                if k > 0 { out.append(0x2C) }
                v.write(into: &out)
            }
            out.append(0x5D)
        case .object(let o):
            out.append(0x7B)
            var first = true
            for (key, value) in o {
                if !first { out.append(0x2C) }
                first = false
                JSON.writeString(key, into: &out)
                out.append(0x3A)
                value.write(into: &out)
            }
            out.append(0x7D)
        }
    }

    private static func writeInt(_ v: Int, into out: inout [UInt8]) {
        if v >= 0 && v < 10 {
            out.append(0x30 + UInt8(v))
            return
        }
        out.append(contentsOf: String(v).utf8)
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    private static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        var s = s
        s.withUTF8 { bytes in
            var runStart = 0
            for (k, c) in bytes.enumerated() where c < 0x20 || c == 0x22 || c == 0x5C {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<k]))
                runStart = k + 1
                switch c {
                case 0x22: out.append(contentsOf: [0x5C, 0x22])
                case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
                case 0x0D: out.append(contentsOf: [0x5C, 0x72])
                case 0x09: out.append(contentsOf: [0x5C, 0x74])
                default:
                    out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xF)]])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
        out.append(0x22)
    }
}

extension JSON: CustomStringConvertible {
    public var description: String { compactString }
}

/// Sizes in the config: an integer of bytes (`16777216`) or a string of an integer and a unit
/// (`"512KiB"`, `"16MiB"`, `"1GiB"`, `"64KB"`, `"100B"`; a space before the unit is allowed).
///
/// Binary units (`KiB`, `MiB`, `GiB`, `TiB`) are powers of 1024, decimal ones (`KB`, `MB`, `GB`,
/// `TB`) powers of 1000; units are matched without regard to case. Fractions are refused: a
/// byte count is whole.
public enum ConfigSize {
    /// What a size looks like, for error messages.
    public static let expected = #"a size: an integer of bytes, or a string such as "512KiB", "16MiB" or "1GiB""#

    private static let units: [String: Int] = [
        "b": 1,
        "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
        "kb": 1_000, "mb": 1_000_000, "gb": 1_000_000_000, "tb": 1_000_000_000_000,
    ]

    /// The bytes of a size string, or nil if it is not one.
    public static func bytes(parsing text: String) -> Int? {
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            index += 1
        }
        guard index > 0, index <= 18 else { return nil }
        let count = bytes[0..<index].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        if index == bytes.count { return count }
        if bytes[index] == UInt8(ascii: " ") { index += 1 }
        let suffix = String(decoding: bytes[index...], as: UTF8.self).lowercased()
        guard let unit = units[suffix] else { return nil }
        let (total, overflow) = count.multipliedReportingOverflow(by: unit)
        return overflow ? nil : total
    }

    /// The bytes of a size value: a non-negative integer or a size string. Nil for anything else.
    public static func bytes(from value: JSON) -> Int? {
        switch value {
        case .string(let text): return bytes(parsing: text)
        case .int(let count): return count >= 0 ? count : nil
        case .double: return value.intValue.flatMap { $0 >= 0 ? $0 : nil }
        default: return nil
        }
    }
}

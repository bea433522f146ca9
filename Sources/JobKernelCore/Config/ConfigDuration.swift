/// Durations in the config: strings of `<number><unit>` segments (`"250ms"`, `"30s"`, `"5m"`,
/// `"1h"`, `"1d"`, `"1h30m"`, `"1.5s"`) or numbers of seconds (`30`, `0.25`), as milliseconds.
///
/// Segments go from the largest unit to the smallest, each unit at most once, and only the last
/// may have a fraction; a string without a unit is refused because `"30"` could mean anything.
/// Fractions of a millisecond round to the nearest millisecond.
public enum ConfigDuration {
    /// The longest duration accepted, 100 years: keeps `now + duration` far from overflow.
    public static let maximumMs: Int64 = 100 * 365 * 86_400_000

    /// What a duration looks like, for error messages.
    public static let expected = #"a duration such as "250ms", "30s", "5m", "1h", "1d" or "1h30m", or a number of seconds"#

    /// Units from the largest to the smallest; a segment's unit must come after the previous one's.
    private static let units: [(suffix: String, ms: Int64)] = [
        ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1),
    ]

    /// The milliseconds of a duration string, or nil if it is not one.
    public static func milliseconds(parsing text: String) -> Int64? {
        let bytes = Array(text.utf8)
        var index = 0
        var total: Int64 = 0
        var lastRank = -1
        var sawFraction = false
        while index < bytes.count {
            if sawFraction { return nil }  // only the last segment may have a fraction
            let whole = scanDigits(bytes, &index)
            guard !whole.isEmpty, whole.count <= 18 else { return nil }
            var fraction: ArraySlice<UInt8> = []
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                fraction = scanDigits(bytes, &index)
                guard !fraction.isEmpty, fraction.count <= 9 else { return nil }
                sawFraction = true
            }
            let unitStart = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "a"), bytes[index] <= UInt8(ascii: "z") {
                index += 1
            }
            let suffix = String(decoding: bytes[unitStart..<index], as: UTF8.self)
            guard let rank = units.firstIndex(where: { $0.suffix == suffix }), rank > lastRank else {
                return nil
            }
            lastRank = rank
            let unitMs = units[rank].ms
            let (scaled, overflow) = number(whole).multipliedReportingOverflow(by: unitMs)
            guard !overflow else { return nil }
            var segment = scaled
            if !fraction.isEmpty {
                var scale: Int64 = 1
                for _ in fraction { scale *= 10 }
                segment += (number(fraction) * unitMs + scale / 2) / scale
            }
            let (sum, sumOverflow) = total.addingReportingOverflow(segment)
            guard !sumOverflow, sum <= maximumMs else { return nil }
            total = sum
        }
        return lastRank < 0 ? nil : total
    }

    /// The milliseconds of a duration value: a duration string, or a non-negative number of
    /// seconds. Nil for anything else.
    public static func milliseconds(from value: JSON) -> Int64? {
        switch value {
        case .string(let text):
            return milliseconds(parsing: text)
        case .int(let seconds):
            guard seconds >= 0, Int64(seconds) <= maximumMs / 1_000 else { return nil }
            return Int64(seconds) * 1_000
        case .double(let seconds):
            guard seconds.isFinite, seconds >= 0, seconds * 1_000 <= Double(maximumMs) else { return nil }
            return Int64((seconds * 1_000).rounded())
        default:
            return nil
        }
    }

    private static func scanDigits(_ bytes: [UInt8], _ index: inout Int) -> ArraySlice<UInt8> {
        let start = index
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            index += 1
        }
        return bytes[start..<index]
    }

    /// The value of at most 18 decimal digits, which always fits.
    private static func number(_ digits: ArraySlice<UInt8>) -> Int64 {
        digits.reduce(0) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
    }
}

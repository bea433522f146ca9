/// Milliseconds since the Unix epoch, the kernel's one notion of wall-clock time.
public typealias Millis = Int64

/// RFC 3339 UTC timestamps with milliseconds and a `Z`, without Foundation.
public enum Timestamp {
    /// `0001-01-01T00:00:00.000Z`, the earliest time the kernel reads or writes.
    public static let minMillis: Millis = -62_135_596_800_000
    /// `9999-12-31T23:59:59.999Z`, the latest time the kernel reads or writes.
    public static let maxMillis: Millis = 253_402_300_799_999

    /// `2026-11-23T09:31:50.123Z`
    public static func format(_ ms: Millis) -> String {
        guard let f = fields(ms) else { return String(civilYear(ms)) + "-01-01T00:00:00.000Z" }
        return String(unsafeUninitializedCapacity: 24) { buf in
            fill(f, UnsafeMutableBufferPointer(rebasing: buf[0..<24]))
            return 24
        }
    }

    /// Appends `format(ms)`'s bytes to `buffer` without making a `String`.
    public static func write(_ ms: Millis, into buffer: inout ByteWriter) {
        guard let f = fields(ms) else { return buffer.append(utf8: format(ms)) }
        buffer.write(atMost: 24) { out in
            fill(f, out.assumingMemoryBound(to: UInt8.self))
            return 24
        }
    }

    /// Year, month, day, second of the day and millisecond of `ms`; nil outside years 0…9999.
    private static func fields(_ ms: Millis) -> (Int, Int, Int, Int, Int)? {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let millis = Int(ms - seconds * 1000)
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secOfDay = Int(seconds - days * 86400)
        let (y, m, d) = civil(fromDays: days)
        guard (0...9999).contains(y) else { return nil }
        return (y, m, d, secOfDay, millis)
    }

    private static func civilYear(_ ms: Millis) -> Int {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        return civil(fromDays: seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400).0
    }

    /// Writes the 24 bytes of a time's `fields` into `buf` (two digits at a time: a job object
    /// carries up to six timestamps, written on every change).
    private static func fill(_ f: (Int, Int, Int, Int, Int), _ buf: UnsafeMutableBufferPointer<UInt8>) {
        let (y, m, d, secOfDay, millis) = f
        let p = buf.baseAddress!
        func put2(_ v: Int, _ at: Int) { DecimalDigits.put2(v, at: p + at) }
        put2(y / 100, 0); put2(y % 100, 2); p[4] = 45; put2(m, 5); p[7] = 45; put2(d, 8); p[10] = 84
        put2(secOfDay / 3600, 11); p[13] = 58; put2(secOfDay / 60 % 60, 14); p[16] = 58
        put2(secOfDay % 60, 17); p[19] = 46; p[20] = UInt8(48 + millis / 100); put2(millis % 100, 21); p[23] = 90
    }

    /// Parses RFC 3339 (`T` or `t`, `Z`/`z` or `±hh:mm` offsets, an optional fraction of which
    /// milliseconds are kept) into milliseconds. Nil unless the date and time exist (no February
    /// 30, month 13, hour 24 or second 60) and the instant lies in years 0001…9999 UTC.
    public static func parse(_ text: String) -> Millis? {
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 20, b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 116,
              b[13] == 58, b[16] == 58,
              let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2),
              let h = num(11, 2), let mi = num(14, 2), let s = num(17, 2),
              (1...9999).contains(y), (1...12).contains(mo), (1...daysIn(month: mo, year: y)).contains(d),
              h < 24, mi < 60, s < 60
        else { return nil }
        var i = 19
        var frac: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48 && b[i] <= 57 {
                if digits < 3 { frac = frac * 10 + Int64(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<3 where digits < 3 { frac *= 10 }
        }
        guard i < b.count else { return nil }
        var offset = 0
        if b[i] == 90 || b[i] == 122 {
            i += 1
        } else if b[i] == 43 || b[i] == 45, let oh = num(i + 1, 2), b.count > i + 3, b[i + 3] == 58,
                  let om = num(i + 4, 2), oh < 24, om < 60 {
            offset = (oh * 60 + om) * (b[i] == 43 ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = days(fromCivil: y, mo, d)
        let secs = days * 86400 + Int64(h * 3600 + mi * 60 + s) - Int64(offset * 60)
        let ms = secs * 1000 + frac
        guard (minMillis...maxMillis).contains(ms) else { return nil }
        return ms
    }

    /// Days in `month` (1…12) of the proleptic Gregorian `year`.
    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Howard Hinnant's civil-date algorithms.
    private static func civil(fromDays z0: Int64) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (Int(m <= 2 ? y + 1 : y), Int(m), Int(d))
    }

    private static func days(fromCivil y0: Int, _ m: Int, _ d: Int) -> Int64 {
        let y = Int64(m <= 2 ? y0 - 1 : y0)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(m > 2 ? m - 3 : m + 9)
        let doy = (153 * mp + 2) / 5 + Int64(d) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }
}

/// A five-field cron expression (docs/promises.md §8.5): minute, hour, day of month, month, day of week.
///
/// Each field is `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of
/// those; months and days of the week may be named (`jan`, `mon`); day of week 0 and 7 are both
/// Sunday. As in Vixie cron, when both day fields are restricted a day matching either one fires.
/// `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly` and `@yearly` (`@annually`) are
/// accepted too.
public struct CronExpression: Hashable, Sendable {
    /// Why an expression was refused.
    public struct ParseError: Error, Hashable, Sendable {
        public var message: String
    }

    /// Bit n set: value n matches.
    public var minutes: UInt64
    public var hours: UInt64
    public var daysOfMonth: UInt64
    public var months: UInt64
    /// Bit 0 Sunday … bit 6 Saturday.
    public var daysOfWeek: UInt64
    /// A day field was `*`: only the other one decides the day.
    public var anyDayOfMonth: Bool
    public var anyDayOfWeek: Bool

    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
    private static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    public init(parsing text: String) throws(ParseError) {
        let trimmed = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
        let expanded = CronExpression.macros[trimmed.lowercased()] ?? trimmed
        let fields = expanded.split(separator: " ").map { String($0).lowercased() }
        guard fields.count == 5 else {
            throw ParseError(message: "expected 5 fields (minute hour day-of-month month day-of-week), got \(fields.count)")
        }
        minutes = try CronExpression.field(fields[0], "minute", 0...59, names: [], nameBase: 0)
        hours = try CronExpression.field(fields[1], "hour", 0...23, names: [], nameBase: 0)
        daysOfMonth = try CronExpression.field(fields[2], "day of month", 1...31, names: [], nameBase: 1)
        months = try CronExpression.field(fields[3], "month", 1...12, names: CronExpression.monthNames, nameBase: 1)
        var dow = try CronExpression.field(fields[4], "day of week", 0...7, names: CronExpression.dayNames, nameBase: 0)
        if dow & (1 << 7) != 0 { dow = (dow | 1) & ~(1 << 7) }
        daysOfWeek = dow
        anyDayOfMonth = fields[2] == "*" || fields[2] == "?"
        anyDayOfWeek = fields[4] == "*" || fields[4] == "?"
        // A day of month that no month has (31 in a 30-day month is fine; 30 February alone is not).
        var possible = false
        for m in 1...12 where months & (1 << UInt64(m)) != 0 {
            let longest = m == 2 ? 29 : ([4, 6, 9, 11].contains(m) ? 30 : 31)
            for d in 1...longest where daysOfMonth & (1 << UInt64(d)) != 0 { possible = true }
        }
        if !possible && anyDayOfWeek {
            throw ParseError(message: "the day of month never occurs in the given months")
        }
    }

    private static func field(_ text: String, _ what: String, _ range: ClosedRange<Int>, names: [String],
                              nameBase: Int) throws(ParseError) -> UInt64 {
        var bits: UInt64 = 0
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, !pieces[0].isEmpty else { throw ParseError(message: "bad \(what) field \"\(text)\"") }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), s >= 1, s <= range.upperBound + 1 else {
                    throw ParseError(message: "bad step in \(what) field \"\(text)\"")
                }
                step = s
            }
            var low = range.lowerBound, high = range.upperBound
            if pieces[0] != "*" && pieces[0] != "?" {
                let bounds = pieces[0].split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2 else { throw ParseError(message: "bad range in \(what) field \"\(text)\"") }
                low = try value(String(bounds[0]), what, range, names: names, nameBase: nameBase)
                high = bounds.count == 2 ? try value(String(bounds[1]), what, range, names: names, nameBase: nameBase)
                    : (pieces.count == 2 ? range.upperBound : low)
                guard low <= high else { throw ParseError(message: "range \(low)-\(high) runs backwards in \(what) field") }
            }
            var v = low
            while v <= high {
                bits |= 1 << UInt64(v)
                v += step
            }
        }
        return bits
    }

    private static func value(_ text: String, _ what: String, _ range: ClosedRange<Int>, names: [String],
                              nameBase: Int) throws(ParseError) -> Int {
        if let i = names.firstIndex(of: text) { return i + nameBase }
        guard let v = Int(text), range.contains(v) else {
            throw ParseError(message: "\(what) \"\(text)\" is out of range \(range.lowerBound)-\(range.upperBound)")
        }
        return v
    }

    /// True for a plausible IANA zone name (`Europe/Berlin`, `UTC`, `Etc/GMT+1`): letters, digits,
    /// `/`, `_`, `-`, `+`, no empty or dot-only component. Whether it exists is the tz database's
    /// business.
    public static func isZoneName(_ name: String) -> Bool {
        guard (1...128).contains(name.utf8.count) else { return false }
        for component in name.split(separator: "/", omittingEmptySubsequences: false) {
            guard !component.isEmpty, component != ".", component != "..", !component.hasPrefix(".") else { return false }
            guard component.utf8.allSatisfy({
                ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 || $0 == 45 || $0 == 43
            }) else { return false }
        }
        return true
    }

    /// Whether the local wall-clock date and time match.
    public func matches(_ c: CivilTime) -> Bool {
        guard minutes & (1 << UInt64(c.minute)) != 0, hours & (1 << UInt64(c.hour)) != 0 else { return false }
        return matchesDay(c)
    }

    private func matchesDay(_ c: CivilTime) -> Bool {
        guard months & (1 << UInt64(c.month)) != 0 else { return false }
        let dom = daysOfMonth & (1 << UInt64(c.day)) != 0
        let dow = daysOfWeek & (1 << UInt64(c.weekday)) != 0
        if anyDayOfMonth && anyDayOfWeek { return true }
        if anyDayOfMonth { return dow }
        if anyDayOfWeek { return dom }
        return dom || dow
    }

    /// The first fire time strictly after `t` (Unix seconds) with the fields read as wall-clock
    /// time in `zone`; nil if none within eight years.
    ///
    /// DST: a wall-clock time that a spring-forward skips fires once, at the transition (the next
    /// valid time); a wall-clock time that a fall-back repeats fires once, at its first occurrence
    /// — except in an entry whose hour field is `*`, which runs every hour as it passes (as in
    /// Vixie cron), the repeated one too.
    public func nextFire(after t: Int64, in zone: TimeZoneRules) -> Int64? {
        let everyHour = hours == (1 << 24) - 1
        // Wall-clock time may step back after `t` (a fall-back): start the search before it.
        var local = (zone.localSeconds(at: t) / 60) * 60 - 3 * 3600
        let limit = local + 8 * 366 * 86_400
        while local < limit {
            let c = CivilTime(unixSeconds: local)
            if !matchesDay(c) {
                local = CivilTime.unixSeconds(year: c.year, month: c.month, day: c.day) + 86_400
                continue
            }
            if hours & (1 << UInt64(c.hour)) == 0 {
                local = (local / 3600) * 3600 + 3600
                continue
            }
            if minutes & (1 << UInt64(c.minute)) == 0 {
                local += 60
                continue
            }
            let instants = zone.instants(ofLocal: local)
            if everyHour {
                if let u = instants.first(where: { $0 > t }) { return u }
            } else if instants[0] > t {
                return instants[0]
            }
            local += 60
        }
        return nil
    }

    /// The latest fire time at or before `t`, looking back up to two years; nil if none.
    public func latestFire(atOrBefore t: Int64, in zone: TimeZoneRules) -> Int64? {
        for window: Int64 in [7_200, 2 * 86_400, 64 * 86_400, 800 * 86_400] {
            guard var f = nextFire(after: t - window, in: zone), f <= t else { continue }
            while let n = nextFire(after: f, in: zone), n <= t { f = n }
            return f
        }
        return nil
    }
}

/// A proleptic Gregorian date and time of day, from Unix seconds read as UTC (or as local
/// wall-clock seconds).
public struct CivilTime: Hashable, Sendable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int
    /// 0 Sunday … 6 Saturday.
    public var weekday: Int

    public init(unixSeconds s: Int64) {
        var days = s / 86_400
        var rem = s % 86_400
        if rem < 0 { rem += 86_400; days -= 1 }
        hour = Int(rem / 3600)
        minute = Int(rem % 3600 / 60)
        second = Int(rem % 60)
        weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = Int(doy - (153 * mp + 2) / 5 + 1)
        month = Int(mp < 10 ? mp + 3 : mp - 9)
        year = Int(yoe + era * 400) + (month <= 2 ? 1 : 0)
    }

    /// Midnight of the date, in Unix seconds (days_from_civil).
    public static func unixSeconds(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return (era * 146_097 + doe - 719_468) * 86_400
    }

    public static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

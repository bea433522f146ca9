/// A time zone's UTC offsets over time, read from a TZif file of the system's tz database
/// (RFC 8536; `/usr/share/zoneinfo/<name>`). Pure: the caller reads the file.
///
/// Instants before the first transition use the first standard-time type; instants after the
/// last one follow the file's POSIX TZ footer (how "slim" TZif files describe the future).
public struct TimeZoneRules: Hashable, Sendable {
    /// Why a file was refused.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var message: String
        public init(message: String) { self.message = message }
        public var description: String { message }
    }

    /// Transition instants (Unix seconds), ascending, and the offset in force from each.
    public var transitions: [Int64] = []
    public var offsets: [Int32] = []
    /// The offset before the first transition.
    public var initialOffset: Int32 = 0
    /// The footer rule, for instants after the last transition.
    public var rule: PosixRule?

    /// UTC: no transitions, offset 0.
    public static let utc = TimeZoneRules()

    public init() {}

    public init(tzif bytes: [UInt8]) throws(ParseError) {
        var r = Reader(bytes: bytes)
        func header() throws(ParseError) -> (version: UInt8, counts: [Int]) {
            guard r.take(4) == Array("TZif".utf8) else { throw ParseError(message: "not a TZif file (no TZif magic)") }
            guard let version = r.take(1)?.first, r.take(15) != nil else { throw ParseError(message: "truncated TZif header") }
            var counts: [Int] = []
            for _ in 0..<6 {
                guard let n = r.int(4), n >= 0, n < 1 << 20 else { throw ParseError(message: "bad TZif header counts") }
                counts.append(Int(n))
            }
            return (version, counts)
        }
        var (version, c) = try header()
        var timeSize = 4
        if version >= 0x32 {  // '2' or later: skip the 32-bit block, read the 64-bit one
            let skip = c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0]
            guard r.take(skip) != nil else { throw ParseError(message: "truncated TZif v1 block") }
            (version, c) = try header()
            timeSize = 8
        }
        let (isut, isstd, leap, timecnt, typecnt, charcnt) = (c[0], c[1], c[2], c[3], c[4], c[5])
        guard typecnt >= 1 else { throw ParseError(message: "TZif file with no local time types") }
        var times: [Int64] = []
        for _ in 0..<timecnt {
            guard let t = r.int(timeSize) else { throw ParseError(message: "truncated TZif transitions") }
            times.append(t)
        }
        guard let idx = r.take(timecnt) else { throw ParseError(message: "truncated TZif transition types") }
        var typeOffsets: [Int32] = []
        var typeDST: [Bool] = []
        for _ in 0..<typecnt {
            guard let off = r.int(4), let rest = r.take(2) else { throw ParseError(message: "truncated TZif types") }
            typeOffsets.append(Int32(truncatingIfNeeded: off))
            typeDST.append(rest[0] != 0)
        }
        guard r.take(charcnt + leap * (timeSize + 4) + isstd + isut) != nil else {
            throw ParseError(message: "truncated TZif file")
        }
        for (i, t) in times.enumerated() {
            let type = Int(idx[i])
            guard type < typecnt else { throw ParseError(message: "TZif transition names type \(type) of \(typecnt)") }
            transitions.append(t)
            offsets.append(typeOffsets[type])
        }
        initialOffset = typeOffsets[typeDST.firstIndex(of: false) ?? 0]
        if timeSize == 8, let rest = r.rest(), rest.first == 10 {
            let footer = rest.dropFirst().prefix { $0 != 10 }
            if !footer.isEmpty { rule = try PosixRule(parsing: String(decoding: footer, as: UTF8.self)) }
        }
    }

    /// The UTC offset (seconds east) in force at instant `t`.
    public func offset(at t: Int64) -> Int32 {
        guard let first = transitions.first, t >= first else { return transitions.isEmpty ? (rule?.offset(at: t) ?? initialOffset) : initialOffset }
        if t >= transitions.last!, let rule { return rule.offset(at: t) }
        var lo = 0, hi = transitions.count - 1   // the last transition <= t
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if transitions[mid] <= t { lo = mid } else { hi = mid - 1 }
        }
        return offsets[lo]
    }

    /// Wall-clock time at `t`, as seconds since the epoch read as if it were UTC.
    public func localSeconds(at t: Int64) -> Int64 { t + Int64(offset(at: t)) }

    /// The first instant whose wall-clock time is `local`; for a wall-clock time skipped by a
    /// transition, the transition itself (the first valid time after it).
    public func firstInstant(ofLocal local: Int64) -> Int64 { instants(ofLocal: local)[0] }

    /// Every instant whose wall-clock time is `local`, ascending: one, two in a fall-back's
    /// repeated hour, or — for a time a spring-forward skips — the transition alone.
    public func instants(ofLocal local: Int64) -> [Int64] {
        let window: Int64 = 26 * 3600
        var candidates = Set([offset(at: local - window), offset(at: local), offset(at: local + window)])
        candidates.insert(offset(at: local - Int64(offset(at: local))))
        let exact = Set(candidates.map { local - Int64($0) }.filter { localSeconds(at: $0) == local }).sorted()
        if !exact.isEmpty { return exact }
        // In a gap: the earliest instant whose wall-clock time is past `local`.
        var lo = local - window, hi = local + window
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if localSeconds(at: mid) >= local { hi = mid } else { lo = mid + 1 }
        }
        return [lo]
    }
}

/// The POSIX TZ string of a TZif footer, such as `CET-1CEST,M3.5.0,M10.5.0/3`.
public struct PosixRule: Hashable, Sendable {
    /// Standard and daylight offsets, seconds east of UTC.
    public var standard: Int32
    public var daylight: Int32?
    public var start: DateRule?
    public var end: DateRule?

    /// When a change happens: a day of the year and a local time of that day.
    public enum Day: Hashable, Sendable {
        /// `Jn`: day 1…365, February 29 never counted.
        case julian(Int)
        /// `n`: day 0…365, February 29 counted.
        case zeroBased(Int)
        /// `Mm.w.d`: weekday d (0 Sunday) of week w (5: the last) of month m.
        case monthWeek(month: Int, week: Int, weekday: Int)
    }

    public struct DateRule: Hashable, Sendable {
        public var day: Day
        /// Seconds after local midnight (may be negative or past 24 h).
        public var time: Int64
    }

    public init(parsing text: String) throws(TimeZoneRules.ParseError) {
        var s = Substring(text)
        func fail(_ why: String) -> TimeZoneRules.ParseError { .init(message: "bad POSIX TZ rule \"\(text)\": \(why)") }
        func name() throws(TimeZoneRules.ParseError) {
            if s.first == "<" {
                guard let close = s.firstIndex(of: ">") else { throw fail("unterminated <name>") }
                s = s[s.index(after: close)...]
            } else {
                let n = s.prefix { $0.isLetter }
                guard n.count >= 3 else { throw fail("zone abbreviation too short") }
                s = s.dropFirst(n.count)
            }
        }
        func hms() throws(TimeZoneRules.ParseError) -> Int64 {
            var sign: Int64 = 1
            if s.first == "+" { s = s.dropFirst() } else if s.first == "-" { sign = -1; s = s.dropFirst() }
            var total: Int64 = 0
            var multiplier: Int64 = 3600
            for i in 0..<3 {
                let digits = s.prefix { $0.isNumber }
                guard !digits.isEmpty, let v = Int64(digits) else {
                    if i == 0 { throw fail("expected a number") }
                    break
                }
                total += v * multiplier
                multiplier /= 60
                s = s.dropFirst(digits.count)
                guard i < 2, s.first == ":" else { break }
                s = s.dropFirst()
            }
            return sign * total
        }
        func dateRule() throws(TimeZoneRules.ParseError) -> DateRule {
            guard s.first == "," else { throw fail("expected ,") }
            s = s.dropFirst()
            let day: Day
            if s.first == "M" {
                s = s.dropFirst()
                let parts = s.prefix { $0.isNumber || $0 == "." }.split(separator: ".")
                guard parts.count == 3, let m = Int(parts[0]), let w = Int(parts[1]), let d = Int(parts[2]),
                      (1...12).contains(m), (1...5).contains(w), (0...6).contains(d) else { throw fail("bad Mm.w.d") }
                s = s.dropFirst(parts.map(\.count).reduce(2, +))
                day = .monthWeek(month: m, week: w, weekday: d)
            } else if s.first == "J" {
                s = s.dropFirst()
                let digits = s.prefix { $0.isNumber }
                guard let n = Int(digits), (1...365).contains(n) else { throw fail("bad Jn") }
                s = s.dropFirst(digits.count)
                day = .julian(n)
            } else {
                let digits = s.prefix { $0.isNumber }
                guard let n = Int(digits), (0...365).contains(n) else { throw fail("bad day") }
                s = s.dropFirst(digits.count)
                day = .zeroBased(n)
            }
            var time: Int64 = 7200
            if s.first == "/" {
                s = s.dropFirst()
                time = try hms()
            }
            return DateRule(day: day, time: time)
        }
        try name()
        standard = Int32(-(try hms()))   // POSIX offsets count west
        if s.isEmpty { return }
        try name()
        if let c = s.first, c != "," {
            _ = c
            daylight = Int32(-(try hms()))
        } else {
            daylight = standard + 3600
        }
        if s.isEmpty {
            // No rule given: POSIX leaves it to the implementation; use the US rules as glibc does.
            start = DateRule(day: .monthWeek(month: 3, week: 2, weekday: 0), time: 7200)
            end = DateRule(day: .monthWeek(month: 11, week: 1, weekday: 0), time: 7200)
            return
        }
        start = try dateRule()
        end = try dateRule()
        guard s.isEmpty else { throw fail("unexpected text after the rules") }
    }

    /// The offset in force at instant `t`.
    public func offset(at t: Int64) -> Int32 {
        guard let daylight, let start, let end else { return standard }
        let year = CivilTime(unixSeconds: t + Int64(standard)).year
        // Start is given in standard local time, end in daylight local time.
        let begins = PosixRule.localMidnight(start.day, year: year) + start.time - Int64(standard)
        let ends = PosixRule.localMidnight(end.day, year: year) + end.time - Int64(daylight)
        let inDST = begins < ends ? (t >= begins && t < ends) : !(t >= ends && t < begins)
        return inDST ? daylight : standard
    }

    /// Midnight of the rule's day in `year`, as local seconds.
    static func localMidnight(_ day: Day, year: Int) -> Int64 {
        let jan1 = CivilTime.unixSeconds(year: year, month: 1, day: 1)
        switch day {
        case .julian(let n):
            let leapShift = CivilTime.isLeap(year) && n >= 60 ? 1 : 0
            return jan1 + Int64(n - 1 + leapShift) * 86_400
        case .zeroBased(let n):
            return jan1 + Int64(n) * 86_400
        case .monthWeek(let month, let week, let weekday):
            let first = CivilTime.unixSeconds(year: year, month: month, day: 1)
            let firstWeekday = CivilTime(unixSeconds: first).weekday
            var day = 1 + (weekday - firstWeekday + 7) % 7 + (week - 1) * 7
            let length = CivilTime.daysIn(month: month, year: year)
            while day > length { day -= 7 }
            return first + Int64(day - 1) * 86_400
        }
    }
}

/// Reads big-endian fields from bytes.
private struct Reader {
    var bytes: [UInt8]
    var at = 0

    mutating func take(_ n: Int) -> [UInt8]? {
        guard n >= 0, at + n <= bytes.count else { return nil }
        defer { at += n }
        return Array(bytes[at..<at + n])
    }

    /// A signed big-endian integer of 4 or 8 bytes.
    mutating func int(_ size: Int) -> Int64? {
        guard let b = take(size) else { return nil }
        var v: UInt64 = 0
        for byte in b { v = v << 8 | UInt64(byte) }
        return size == 4 ? Int64(Int32(bitPattern: UInt32(v))) : Int64(bitPattern: v)
    }

    func rest() -> [UInt8]? { at < bytes.count ? Array(bytes[at...]) : nil }
}

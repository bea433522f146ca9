import Testing
import JobKernelCore

/// docs/promises.md §2: durations are strings (`"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"1d"`) or numbers of
/// seconds; the kernel works in milliseconds.
struct DurationTests {
    static let good: [(String, Int64)] = [
        ("250ms", 250), ("30s", 30_000), ("5m", 300_000), ("1h", 3_600_000), ("1d", 86_400_000),
        ("0s", 0), ("0ms", 0), ("90m", 5_400_000), ("1h30m", 5_400_000), ("1d2h3m4s5ms", 93_784_005),
        ("1m30s", 90_000), ("1.5s", 1_500), ("0.25s", 250), ("2.5h", 9_000_000), ("1h0.5m", 3_630_000),
        ("0.5ms", 1), ("0.4ms", 0), ("36500d", 3_153_600_000_000),
    ]

    @Test("duration strings from docs/configuration.md and combinations of them", arguments: good)
    func parsesDurationStrings(text: String, ms: Int64) {
        #expect(ConfigDuration.milliseconds(parsing: text) == ms)
        #expect(ConfigDuration.milliseconds(from: .string(text)) == ms)
    }

    static let bad = [
        "", "30", "s", "ms", "5 s", " 5s", "5s ", "5S", "5sec", "5us", "-5s", "+5s", "1m1h", "1s1s",
        "5ms5s", "1.5h30m", "1.s", ".5s", "1..5s", "5s!", "99999999999999999999s", "36501d",
        "1e3s", "1_000s",
    ]

    @Test("strings that are not durations are refused", arguments: bad)
    func refusesBadStrings(text: String) {
        #expect(ConfigDuration.milliseconds(parsing: text) == nil)
    }

    static let numbers: [(JSON, Int64?)] = [
        (.int(30), 30_000), (.int(0), 0), (.double(0.25), 250), (.double(1.5), 1_500), (.double(0.0004), 0),
        (.int(-1), nil), (.double(-0.5), nil), (.double(.infinity), nil), (.double(.nan), nil),
        (.int(Int.max), nil), (.rawNumber("99999999999999999999"), nil),
        (.bool(true), nil), (.null, nil), (.array([]), nil), (.object([:]), nil),
    ]

    @Test("numbers are seconds; other JSON values are not durations", arguments: numbers)
    func readsNumbersAsSeconds(value: JSON, ms: Int64?) {
        #expect(ConfigDuration.milliseconds(from: value) == ms)
    }
}

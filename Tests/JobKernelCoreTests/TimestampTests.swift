import Testing
@testable import JobKernelCore

/// docs/promises.md §5: times are RFC 3339 UTC with milliseconds and a `Z`.
struct TimestampTests {
    @Test(arguments: [
        (Millis(0), "1970-01-01T00:00:00.000Z"),
        (Millis(1_795_426_310_123), "2026-11-23T09:31:50.123Z"),
        (Millis(951_782_400_000), "2000-02-29T00:00:00.000Z"),
        (Millis(-1), "1969-12-31T23:59:59.999Z"),
    ])
    func formatsAndParses(ms: Millis, text: String) {
        #expect(Timestamp.format(ms) == text)
        #expect(Timestamp.parse(text) == ms)
    }

    /// `write` appends the bytes `format` returns, out-of-range years included.
    @Test(arguments: [Millis(0), 1_795_426_310_123, -1, Timestamp.minMillis, Timestamp.maxMillis,
                      Timestamp.maxMillis + 1, Timestamp.minMillis - 86_400_000 * 400])
    func writesWhatItFormats(ms: Millis) {
        var writer = ByteWriter(continuing: [UInt8(ascii: "x")])
        Timestamp.write(ms, into: &writer)
        #expect(writer.finish() == [UInt8(ascii: "x")] + Array(Timestamp.format(ms).utf8))
    }

    @Test func parsesOffsetsAndFractions() {
        #expect(Timestamp.parse("2026-11-23T10:31:50+01:00") == Timestamp.parse("2026-11-23T09:31:50Z"))
        #expect(Timestamp.parse("2026-11-23T09:31:50.5Z") == Timestamp.parse("2026-11-23T09:31:50.500Z"))
    }

    @Test(arguments: ["", "2026-11-23", "2026-13-01T00:00:00Z", "2026-11-23T09:31:50", "2026-11-23T09:31:50Zjunk", "2026-11-23T09:31:50.Z",
                      "2026-02-30T00:00:00Z", "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
                      "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T25:00:00Z",
                      "2026-01-01T23:60:00Z", "2026-01-01T23:59:60Z", "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+01:60",
                      "10000-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00",
                      "2026-01-01 00:00:00Z", "+2026-01-01T00:00:00Z"])
    func rejects(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test("dates that exist, the years' edges and leap days", arguments: [
        ("2024-02-29T00:00:00Z", Millis(1_709_164_800_000)), ("2000-02-29T12:00:00Z", Millis(951_825_600_000)),
        ("0001-01-01T00:00:00Z", Timestamp.minMillis), ("9999-12-31T23:59:59.999Z", Timestamp.maxMillis),
        ("2026-01-01t00:00:00z", Millis(1_767_225_600_000)),
    ])
    func accepts(text: String, ms: Millis) {
        #expect(Timestamp.parse(text) == ms)
    }
}

import Testing
@testable import JobKernelCore

/// SPEC §5: times are RFC 3339 UTC with milliseconds and a `Z`.
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

    @Test func parsesOffsetsAndFractions() {
        #expect(Timestamp.parse("2026-11-23T10:31:50+01:00") == Timestamp.parse("2026-11-23T09:31:50Z"))
        #expect(Timestamp.parse("2026-11-23T09:31:50.5Z") == Timestamp.parse("2026-11-23T09:31:50.500Z"))
    }

    @Test(arguments: ["", "2026-11-23", "2026-13-01T00:00:00Z", "2026-11-23T09:31:50", "2026-11-23T09:31:50Zjunk", "2026-11-23T09:31:50.Z"])
    func rejects(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }
}

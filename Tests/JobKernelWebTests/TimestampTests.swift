import Testing

@testable import JobKernelWeb

/// The run-time histogram reads the kernel's RFC 3339 times.
struct TimestampTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00.000Z", 0.0),
        ("2026-11-23T09:31:50.123Z", 1_795_426_310.123),
        ("2000-02-29T12:00:00Z", 951_825_600.0),
    ])
    func readsTheKernelsTimes(text: String, seconds: Double) {
        #expect(abs((Timestamp.seconds(text) ?? -1) - seconds) < 0.0005)
    }

    @Test(arguments: ["", "yesterday", "2026-11-23 09:31:50"])
    func refusesOtherText(text: String) {
        #expect(Timestamp.seconds(text) == nil)
    }
}

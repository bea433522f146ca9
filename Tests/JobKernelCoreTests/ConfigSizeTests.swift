import Testing
import JobKernelCore

/// docs/promises.md §2: sizes are integers of bytes or strings (`"512KiB"`, `"16MiB"`).
struct ConfigSizeTests {
    static let good: [(JSON, Int)] = [
        (.int(0), 0), (.int(16_777_216), 16_777_216), (.double(1024), 1024),
        ("512KiB", 524_288), ("16MiB", 16_777_216), ("1GiB", 1 << 30), ("1TiB", 1 << 40),
        ("64KB", 64_000), ("1MB", 1_000_000), ("2GB", 2_000_000_000), ("100B", 100), ("100", 100),
        ("16 MiB", 16_777_216), ("16mib", 16_777_216), ("1kb", 1_000),
    ]

    @Test("byte counts and sizes with binary or decimal units", arguments: good)
    func parsesSizes(value: JSON, bytes: Int) {
        #expect(ConfigSize.bytes(from: value) == bytes)
    }

    static let bad: [JSON] = [
        "", "MiB", "1.5MiB", "-1", "-1KiB", "16 ", "16  MiB", " 16MiB", "16 MiBs", "16XB", "16K", "1e6",
        "99999999999TiB", .int(-1), .double(1.5), .double(-1), .bool(true), .null, .array([]),
        .rawNumber("99999999999999999999"),
    ]

    @Test("values that are not sizes are refused", arguments: bad)
    func refusesBadSizes(value: JSON) {
        #expect(ConfigSize.bytes(from: value) == nil)
    }
}

import Glibc
import JobKernelCore

/// The system's tz database, which cron schedules read their IANA zones from
/// (docs/configuration.md, "Schedules").
enum TimeZoneDatabase {
    /// `$TZDIR`, else `/usr/share/zoneinfo`.
    static var directory: String {
        if let dir = getenv("TZDIR").map({ String(cString: $0) }), !dir.isEmpty { return dir }
        return "/usr/share/zoneinfo"
    }

    /// The rules of the IANA zone `name`. `UTC` works without a tz database.
    static func rules(_ name: String) throws -> TimeZoneRules {
        let path = directory + "/" + name
        guard CronExpression.isZoneName(name), let bytes = readWholeFile(path) else {
            if name == "UTC" || name == "Etc/UTC" { return .utc }
            throw TimeZoneRules.ParseError(message: "no time zone \"\(name)\" in \(directory) (install tzdata)")
        }
        return try TimeZoneRules(tzif: bytes)
    }

    private static func readWholeFile(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n > 0 { out += buf[0..<n] }
            if n < buf.count { break }
        }
        return out
    }
}

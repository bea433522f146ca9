/// Typed access to a request's named params for method handlers. Every getter records the key it
/// read, so `rejectUnknown()` can answer `-32602` for a parameter the method does not take.
/// An explicit `null` counts as absent for the optional getters (and as missing for required ones).
///
/// ```swift
/// var params = try Params(request.params)
/// let id = try params.string("id")
/// let reason = try params.optionalString("reason")
/// try params.rejectUnknown()
/// ```
public struct Params: Sendable {
    /// The params object as sent.
    public let object: JSONObject
    /// Put before every key that an error names: `client.` for the members of `client`.
    public let prefix: String
    /// Which keys a getter read: a bit per position for the first 64 keys (no hashing on the
    /// hot path), names beyond that.
    private var readMask: UInt64 = 0
    private var readBeyond: Set<String> = []

    /// Params from a request: nil means none (`{}`); by-position arrays and other values are `-32602`.
    public init(_ params: JSON?, prefix: String = "") throws(RPCError) {
        self.prefix = prefix
        switch params {
        case nil, .null?:
            object = JSONObject()
        case .object(let object)?:
            self.object = object
        case .array?:
            throw .invalidParams("params must be an object (by name), not an array (by position)")
        case let other?:
            throw .invalidParams("params must be an object (by name), got \(other.typeName)")
        }
    }

    /// The value of `key`, nil when absent or null; marks the key as read.
    private mutating func value(_ key: String) -> JSON? {
        guard let (position, value) = object.entry(key) else { return nil }
        if position < 64 { readMask |= 1 << UInt64(position) } else { readBeyond.insert(key) }
        if value.isNull { return Optional<JSON>.none }  // a bare `nil` here would be JSON.null
        return value
    }

    private func missing(_ key: String) -> RPCError {
        .invalidParams("missing required parameter `\(prefix + key)`", field: prefix + key)
    }

    private func wrongType(_ key: String, _ expected: String, _ value: JSON) -> RPCError {
        .invalidParams("`\(prefix + key)` must be \(expected), got \(value.typeName)", field: prefix + key)
    }

    // MARK: - Getters

    /// A required string.
    public mutating func string(_ key: String) throws(RPCError) -> String {
        guard let value = try optionalString(key) else { throw missing(key) }
        return value
    }

    /// An optional string.
    public mutating func optionalString(_ key: String) throws(RPCError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let string) = value else { throw wrongType(key, "a string", value) }
        return string
    }

    /// A required integer (`3.0` is accepted, `3.5` and out-of-range numbers are not).
    public mutating func int(_ key: String) throws(RPCError) -> Int {
        guard let value = try optionalInt(key) else { throw missing(key) }
        return value
    }

    /// An optional integer (`3.0` is accepted, `3.5` and out-of-range numbers are not).
    public mutating func optionalInt(_ key: String) throws(RPCError) -> Int? {
        guard let value = value(key) else { return nil }
        switch value {
        case .int(let int):
            return int
        case .double(let double):
            guard double.rounded(.towardZero) == double else {
                throw .invalidParams("`\(prefix + key)` must be an integer, got \(value.compactString)", field: prefix + key)
            }
            guard let int = Int(exactly: double) else {
                throw .invalidParams("`\(prefix + key)` is out of range for an integer: \(value.compactString)", field: prefix + key)
            }
            return int
        case .rawNumber(let literal):
            throw .invalidParams("`\(prefix + key)` is out of range for an integer: \(literal)", field: prefix + key)
        default:
            throw wrongType(key, "an integer", value)
        }
    }

    /// An optional number. An integer that a `Double` cannot hold exactly (beyond 2^53) is out of
    /// range: no number parameter goes that high.
    public mutating func optionalDouble(_ key: String) throws(RPCError) -> Double? {
        guard let value = value(key) else { return nil }
        switch value {
        case .int(let int):
            guard let double = Double(exactly: int) else {
                throw .invalidParams("`\(prefix + key)` is out of range: \(int)", field: prefix + key)
            }
            return double
        case .double(let double): return double
        case .rawNumber(let literal):
            guard let double = Double(literal), double.isFinite else {
                throw .invalidParams("`\(prefix + key)` is out of range: \(literal)", field: prefix + key)
            }
            return double
        default: throw wrongType(key, "a number", value)
        }
    }

    /// An optional boolean.
    public mutating func optionalBool(_ key: String) throws(RPCError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let bool) = value else { throw wrongType(key, "a boolean", value) }
        return bool
    }

    /// An optional object.
    public mutating func optionalObject(_ key: String) throws(RPCError) -> JSONObject? {
        guard let value = value(key) else { return nil }
        guard case .object(let object) = value else { throw wrongType(key, "an object", value) }
        return object
    }

    /// An optional array.
    public mutating func optionalArray(_ key: String) throws(RPCError) -> [JSON]? {
        guard let value = value(key) else { return nil }
        guard case .array(let array) = value else { throw wrongType(key, "an array", value) }
        return array
    }

    /// An optional value of any type.
    public mutating func optionalJSON(_ key: String) -> JSON? {
        value(key)
    }

    /// A filter given as one string or a non-empty array of strings; nil when absent.
    public mutating func stringOrStringArray(_ key: String) throws(RPCError) -> [String]? {
        try oneOrMany(key, "a string") { $0.stringValue }
    }

    /// A filter given as one value or a non-empty array of values, each read by `element` (nil:
    /// not a valid value, described by `expected`, e.g. "a job status"); nil when absent.
    public mutating func oneOrMany<T>(_ key: String, _ expected: String, _ element: (JSON) -> T?) throws(RPCError) -> [T]? {
        guard let value = value(key) else { return nil }
        let elements: [JSON]
        if case .array(let array) = value {
            guard !array.isEmpty else { throw .invalidParams("`\(prefix + key)` must not be an empty array", field: prefix + key) }
            elements = array
        } else {
            elements = [value]
        }
        var out: [T] = []
        out.reserveCapacity(elements.count)
        for e in elements {
            guard let v = element(e) else {
                throw .invalidParams("`\(prefix + key)` must be \(expected) or a non-empty array of them, got \(Params.describe(e))", field: prefix + key)
            }
            out.append(v)
        }
        return out
    }

    // MARK: - Ranged getters (docs/promises.md §10: every parameter has a type and a range)

    /// A required integer within `range`.
    public mutating func int(_ key: String, in range: ClosedRange<Int>) throws(RPCError) -> Int {
        guard let value = try optionalInt(key, in: range) else { throw missing(key) }
        return value
    }

    /// An optional integer within `range`.
    public mutating func optionalInt(_ key: String, in range: ClosedRange<Int>) throws(RPCError) -> Int? {
        guard let int = try optionalInt(key) else { return nil }
        guard range.contains(int) else {
            throw .invalidParams("`\(prefix + key)` must be an integer from \(range.lowerBound) to \(range.upperBound), got \(int)", field: prefix + key)
        }
        return int
    }

    /// An optional number within `range` (`-0` reads as 0).
    public mutating func optionalDouble(_ key: String, in range: ClosedRange<Double>) throws(RPCError) -> Double? {
        guard let double = try optionalDouble(key) else { return nil }
        guard range.contains(double) else {
            throw .invalidParams("`\(prefix + key)` must be a number from \(Params.describe(range.lowerBound)) to \(Params.describe(range.upperBound)), got \(Params.describe(double))", field: prefix + key)
        }
        return double + 0  // -0 becomes 0
    }

    /// The longest duration a parameter may give, in seconds: from the Unix epoch to the end of
    /// year 9999. Its milliseconds fit an `Int64` many times over.
    public static let maxDurationSeconds: Double = 253_402_300_799

    /// An optional duration in seconds, as milliseconds (rounded up, so a positive duration is at
    /// least 1 ms): a number in `range`, above its lower bound when `aboveMinimum`. `range` must
    /// lie within 0…`maxDurationSeconds`.
    public mutating func optionalDuration(_ key: String, in range: ClosedRange<Double> = 0...Params.maxDurationSeconds,
                                          aboveMinimum: Bool = false) throws(RPCError) -> Millis? {
        guard let seconds = try optionalDouble(key, in: range) else { return nil }
        if aboveMinimum, seconds == range.lowerBound {
            throw .invalidParams("`\(prefix + key)` must be above \(Params.describe(range.lowerBound)), got \(Params.describe(seconds))", field: prefix + key)
        }
        return Millis((seconds * 1000).rounded(.up))
    }

    /// An optional delay in seconds from `now`, as the time it gives: 0 or more, and that time no
    /// later than 9999-12-31T23:59:59.999Z.
    public mutating func optionalDelay(_ key: String, from now: Millis) throws(RPCError) -> Millis? {
        guard let ms = try optionalDuration(key) else { return nil }
        guard ms <= Timestamp.maxMillis - now else {
            throw .invalidParams("`\(prefix + key)` gives a time past 9999-12-31T23:59:59.999Z", field: prefix + key)
        }
        return now + ms
    }

    /// An optional RFC 3339 time that exists (no February 30), years 0001…9999, as milliseconds.
    public mutating func optionalTime(_ key: String) throws(RPCError) -> Millis? {
        guard let text = try optionalString(key) else { return nil }
        guard let ms = Timestamp.parse(text) else {
            throw .invalidParams("`\(prefix + key)` must be an RFC 3339 time that exists, years 0001 to 9999, such as 2026-11-23T09:31:50Z; got \(Params.describe(.string(text)))", field: prefix + key)
        }
        return ms
    }

    /// A required string of `bytes` UTF-8 bytes.
    public mutating func string(_ key: String, bytes: ClosedRange<Int>) throws(RPCError) -> String {
        guard let value = try optionalString(key, bytes: bytes) else { throw missing(key) }
        return value
    }

    /// An optional string of `bytes` UTF-8 bytes.
    public mutating func optionalString(_ key: String, bytes: ClosedRange<Int>) throws(RPCError) -> String? {
        guard let string = try optionalString(key) else { return nil }
        let count = string.utf8.count
        if count < bytes.lowerBound {
            throw .invalidParams(bytes.lowerBound == 1 ? "`\(prefix + key)` must not be empty" : "`\(prefix + key)` must be at least \(bytes.lowerBound) bytes", field: prefix + key)
        }
        if count > bytes.upperBound {
            throw .invalidParams("`\(prefix + key)` must be at most \(bytes.upperBound) bytes (UTF-8), got \(count)", field: prefix + key)
        }
        return string
    }

    /// An optional string that is one of `allowed`.
    public mutating func optionalString(_ key: String, oneOf allowed: [String]) throws(RPCError) -> String? {
        guard let string = try optionalString(key) else { return nil }
        guard allowed.contains(string) else {
            throw .invalidParams("`\(prefix + key)` must be one of \(allowed.joined(separator: ", ")), got \(Params.describe(.string(string)))", field: prefix + key)
        }
        return string
    }

    // MARK: - Job ids

    /// The largest job id a parameter may name: 18 decimal digits.
    public static let maxJobID: Int64 = 999_999_999_999_999_999

    /// A job id as a parameter gives it: a string of 1 to 18 decimal digits, or a non-negative
    /// integer up to `maxJobID` (for shell users); nil for anything else.
    public static func jobID(_ value: JSON) -> Int64? {
        switch value {
        case .string(let s):
            guard (1...18).contains(s.utf8.count), s.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            return Int64(s)
        case .int(let i):
            return i >= 0 && Int64(i) <= maxJobID ? Int64(i) : nil
        case .double(let d):
            guard let i = Int64(exactly: d), i >= 0, i <= maxJobID else { return nil }
            return i
        default:
            return nil
        }
    }

    /// A required job id (see `jobID(_:)`).
    public mutating func jobID(_ key: String) throws(RPCError) -> Int64 {
        guard let id = try optionalJobID(key) else { throw missing(key) }
        return id
    }

    /// An optional job id (see `jobID(_:)`).
    public mutating func optionalJobID(_ key: String) throws(RPCError) -> Int64? {
        guard let value = value(key) else { return nil }
        guard let id = Params.jobID(value) else {
            throw .invalidParams("`\(prefix + key)` must be a job id (a string of 1 to 18 digits), got \(Params.describe(value))", field: prefix + key)
        }
        return id
    }

    /// Job ids given as one id or a non-empty array of them.
    public mutating func jobIDs(_ key: String) throws(RPCError) -> [Int64]? {
        try oneOrMany(key, "a job id (a string of 1 to 18 digits)", Params.jobID)
    }

    // MARK: - Messages

    /// A value as an error message shows it: short values verbatim, others by type.
    static func describe(_ value: JSON) -> String {
        switch value {
        case .string(let s) where s.utf8.count <= 40: return value.compactString
        case .string(let s): return "a string of \(s.utf8.count) bytes"
        case .int, .double, .rawNumber, .bool: return value.compactString
        default: return value.typeName
        }
    }

    static func describe(_ double: Double) -> String {
        double.rounded() == double && abs(double) < 1e15 ? String(Int64(double)) : JSON.double(double).compactString
    }

    /// Throws `-32602` naming the first parameter (in the order sent) that no getter read.
    public func rejectUnknown() throws(RPCError) {
        for (position, (key, _)) in object.enumerated()
        where position < 64 ? readMask & (1 << UInt64(position)) == 0 : !readBeyond.contains(key) {
            throw .invalidParams("unknown parameter `\(prefix + key)`; see `rpc.discover` for this method's parameters", field: prefix + key)
        }
    }
}

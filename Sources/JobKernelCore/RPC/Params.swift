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
    private var read: Set<String> = []

    /// Params from a request: nil means none (`{}`); by-position arrays and other values are `-32602`.
    public init(_ params: JSON?) throws(RPCError) {
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
        read.insert(key)
        guard let value = object[key], !value.isNull else { return nil }
        return value
    }

    private func missing(_ key: String) -> RPCError {
        .invalidParams("missing required parameter `\(key)`", field: key)
    }

    private func wrongType(_ key: String, _ expected: String, _ value: JSON) -> RPCError {
        .invalidParams("`\(key)` must be \(expected), got \(value.typeName)", field: key)
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
                throw .invalidParams("`\(key)` must be an integer, got \(value.compactString)", field: key)
            }
            guard let int = Int(exactly: double) else {
                throw .invalidParams("`\(key)` is out of range for an integer: \(value.compactString)", field: key)
            }
            return int
        case .rawNumber(let literal):
            throw .invalidParams("`\(key)` is out of range for an integer: \(literal)", field: key)
        default:
            throw wrongType(key, "an integer", value)
        }
    }

    /// An optional number.
    public mutating func optionalDouble(_ key: String) throws(RPCError) -> Double? {
        guard let value = value(key) else { return nil }
        switch value {
        case .int(let int): return Double(int)
        case .double(let double): return double
        case .rawNumber(let literal):
            guard let double = Double(literal), double.isFinite else {
                throw .invalidParams("`\(key)` is out of range: \(literal)", field: key)
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

    /// A list filter given as one string or an array of strings; nil when absent.
    /// A value or a non-empty array of values, each a string; a non-negative integer (a job id
    /// given as a number) is read as its decimal string.
    public mutating func stringOrStringArray(_ key: String) throws(RPCError) -> [String]? {
        guard let value = value(key) else { return nil }
        switch value {
        case .string(let string):
            return [string]
        case .int(let i) where i >= 0:
            return [String(i)]
        case .array(let elements):
            guard !elements.isEmpty else { throw .invalidParams("`\(key)` must not be an empty array", field: key) }
            var strings: [String] = []
            strings.reserveCapacity(elements.count)
            for element in elements {
                switch element {
                case .string(let string): strings.append(string)
                case .int(let i) where i >= 0: strings.append(String(i))
                default:
                    throw .invalidParams("`\(key)` must be a string or an array of strings, got an array holding \(element.typeName)",
                                         field: key)
                }
            }
            return strings
        default:
            throw wrongType(key, "a string or an array of strings", value)
        }
    }

    /// Throws `-32602` naming the first parameter (in the order sent) that no getter read.
    public func rejectUnknown() throws(RPCError) {
        for key in object.keys where !read.contains(key) {
            throw .invalidParams("unknown parameter `\(key)`; see `rpc.discover` for this method's parameters", field: key)
        }
    }
}

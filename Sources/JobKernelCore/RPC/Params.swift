/// A method's named parameters, read with typed getters that remember what was read, so that
/// `rejectUnknown()` can name a parameter nobody asked for (SPEC §4).
public struct Params: Sendable {
    private let object: JSONObject
    private var read: Set<String> = []

    /// Params must be an object (by name); absent params are an empty object.
    public init(_ params: JSON?) throws(RPCError) {
        switch params {
        case nil: object = [:]
        case .object(let o)?: object = o
        case .array?: throw RPCError.invalidParams("params must be an object (by name), not an array")
        default: throw RPCError.invalidParams("params must be an object")
        }
    }

    /// -32602 naming the first parameter no getter read.
    public func rejectUnknown() throws(RPCError) {
        for key in object.keys where !read.contains(key) {
            throw RPCError.invalidParams("unknown parameter `\(key)`", field: key)
        }
    }

    /// The raw value; an explicit null counts as absent.
    public mutating func optionalJSON(_ key: String) throws(RPCError) -> JSON? {
        read.insert(key)
        guard let v = object[key], !v.isNull else { return nil }
        return v
    }

    private func wrongType(_ key: String, _ expected: String, _ got: JSON) -> RPCError {
        .invalidParams("`\(key)` must be \(expected), got \(got.typeName)", field: key)
    }

    public mutating func string(_ key: String) throws(RPCError) -> String {
        guard let v = try optionalString(key) else { throw RPCError.invalidParams("`\(key)` is required", field: key) }
        return v
    }

    public mutating func optionalString(_ key: String) throws(RPCError) -> String? {
        guard let v = try optionalJSON(key) else { return nil }
        guard case .string(let s) = v else { throw wrongType(key, "a string", v) }
        return s
    }

    public mutating func int(_ key: String) throws(RPCError) -> Int {
        guard let v = try optionalInt(key) else { throw RPCError.invalidParams("`\(key)` is required", field: key) }
        return v
    }

    public mutating func optionalInt(_ key: String) throws(RPCError) -> Int? {
        guard let v = try optionalJSON(key) else { return nil }
        switch v {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9e15: return Int(d)
        case .double, .rawNumber: throw RPCError.invalidParams("`\(key)` must be an integer in range, got \(v.compactString)", field: key)
        default: throw wrongType(key, "an integer", v)
        }
    }

    public mutating func optionalDouble(_ key: String) throws(RPCError) -> Double? {
        guard let v = try optionalJSON(key) else { return nil }
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: throw wrongType(key, "a number", v)
        }
    }

    public mutating func optionalBool(_ key: String) throws(RPCError) -> Bool? {
        guard let v = try optionalJSON(key) else { return nil }
        guard case .bool(let b) = v else { throw wrongType(key, "true or false", v) }
        return b
    }

    public mutating func optionalObject(_ key: String) throws(RPCError) -> JSONObject? {
        guard let v = try optionalJSON(key) else { return nil }
        guard case .object(let o) = v else { throw wrongType(key, "an object", v) }
        return o
    }

    public mutating func optionalArray(_ key: String) throws(RPCError) -> [JSON]? {
        guard let v = try optionalJSON(key) else { return nil }
        guard case .array(let a) = v else { throw wrongType(key, "an array", v) }
        return a
    }

    /// A value or a non-empty array of values, each a string (list and subscribe filters). Job
    /// ids given as integers are read as their decimal strings.
    public mutating func stringOrStringArray(_ key: String) throws(RPCError) -> [String]? {
        guard let v = try optionalJSON(key) else { return nil }
        func one(_ e: JSON) throws(RPCError) -> String {
            switch e {
            case .string(let s): return s
            case .int(let i) where i >= 0: return String(i)
            default: throw wrongType(key, "a string or an array of strings", v)
            }
        }
        if case .array(let a) = v {
            guard !a.isEmpty else { throw RPCError.invalidParams("`\(key)` must not be an empty array", field: key) }
            var out: [String] = []
            for e in a { out.append(try one(e)) }
            return out
        }
        return [try one(v)]
    }
}

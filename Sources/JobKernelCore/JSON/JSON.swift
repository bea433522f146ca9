/// A JSON value. Objects keep their keys in insertion order so output reads the way it was built.
public enum JSON: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    /// An integer literal too large for `Int`, kept verbatim so that it is echoed unchanged
    /// (JSON-RPC ids must come back exactly as they were sent).
    case rawNumber(String)
    case string(String)
    case array([JSON])
    case object(JSONObject)
    /// A value already serialized (compact JSON bytes, made by `JSONWriter` or an equivalent
    /// writer), spliced into output as is: the kernel builds a job object's bytes once per change
    /// and puts them into answers, leases and events. Never produced by the parser.
    case serialized(SerializedJSON)
}

/// Compact JSON bytes known to be valid. Equal when the bytes are equal.
public struct SerializedJSON: Hashable, Sendable {
    public let bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }
}

/// An ordered JSON object: keys in insertion order, lookup by key.
///
/// Stored as pairs: the objects the kernel handles are small, and scanning a few keys beats
/// hashing them. A large object (parsed from input) gets an index so lookups stay O(1).
public struct JSONObject: Hashable, Sendable, Sequence, ExpressibleByDictionaryLiteral {
    private var pairs: [(key: String, value: JSON)] = []
    private var index: [String: Int]?
    private static let indexThreshold = 16

    public init() {}

    /// An empty object with room for `capacity` keys.
    public init(minimumCapacity capacity: Int) {
        pairs.reserveCapacity(capacity)
    }

    /// A literal's keys are distinct, as a dictionary literal's must be (checked in debug
    /// builds): its pairs are taken as they are, without a lookup per key.
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self.init(literal: elements)
    }

    fileprivate init(literal elements: [(String, JSON)]) {
        guard elements.count <= Self.indexThreshold else {
            self.init(elements)
            return
        }
        assert(Set(elements.map(\.0)).count == elements.count, "a key repeated in a JSON object literal")
        self.init(uniquePairs: elements.map { (key: $0.0, value: $0.1) })
    }

    public init<S: Sequence>(_ pairs: S) where S.Element == (String, JSON) {
        for (key, value) in pairs { self[key] = value }
    }

    /// Pairs whose keys the caller knows are distinct: no checks, no index (building the
    /// kernel's own objects, such as the job object, on the hot path).
    public init(uniquePairs: [(key: String, value: JSON)]) {
        pairs = uniquePairs
    }

    public var count: Int { pairs.count }
    public var isEmpty: Bool { pairs.isEmpty }
    public var keys: [String] { pairs.map(\.key) }

    private func position(of key: String) -> Int? {
        if let index { return index[key] }
        for i in pairs.indices where pairs[i].key == key { return i }
        return nil
    }

    /// The position (in key order) and value of `key`, if present.
    public func entry(_ key: String) -> (position: Int, value: JSON)? {
        position(of: key).map { ($0, pairs[$0].value) }
    }

    /// Setting `nil` removes the key.
    public subscript(key: String) -> JSON? {
        get { position(of: key).map { pairs[$0].value } }
        set {
            if let i = position(of: key) {
                if let newValue {
                    pairs[i].value = newValue
                } else {
                    pairs.remove(at: i)
                    if index != nil { rebuildIndex() }
                }
            } else if let newValue {
                pairs.append((key, newValue))
                if index != nil {
                    index![key] = pairs.count - 1
                } else if pairs.count > Self.indexThreshold {
                    rebuildIndex()
                }
            }
        }
    }

    private mutating func rebuildIndex() {
        var idx: [String: Int] = [:]
        idx.reserveCapacity(pairs.count)
        for (i, p) in pairs.enumerated() { idx[p.key] = i }
        index = idx
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSON)]> {
        pairs.makeIterator()
    }

    /// Objects are equal when they hold the same pairs, whatever the key order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (k, v) in lhs.pairs where rhs[k] != v { return false }
        return true
    }

    /// Order-independent, as equality is.
    public func hash(into hasher: inout Hasher) {
        var combined = 0
        for (k, v) in pairs {
            var h = Hasher()
            h.combine(k)
            h.combine(v)
            combined ^= h.finalize()
        }
        hasher.combine(pairs.count)
        hasher.combine(combined)
    }
}

extension JSON: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) { self = .object(JSONObject(literal: elements)) }
}

extension JSON {
    public var isNull: Bool { if case .null = self { return true } else { return false } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var arrayValue: [JSON]? { if case .array(let a) = self { return a } else { return nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }

    /// An integer, also from a double with no fractional part (`3.0`).
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9.0e15: return Int(d)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .rawNumber(let s): return Double(s)
        default: return nil
        }
    }

    /// The member `key` of an object; nil for a missing key or a value that is not an object.
    public subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o[key] } else { return nil }
    }

    /// A JSON type name for error messages ("string", "object", …).
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .double, .rawNumber: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        case .serialized(let s):
            switch s.bytes.first {
            case UInt8(ascii: "{"): return "object"
            case UInt8(ascii: "["): return "array"
            case UInt8(ascii: "\""): return "string"
            case UInt8(ascii: "n"): return "null"
            case UInt8(ascii: "t"), UInt8(ascii: "f"): return "boolean"
            default: return "number"
            }
        }
    }
}

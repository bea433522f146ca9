/// Reads one table of the config tree, turning every mistake into a `ConfigError` that names
/// the dotted key path. Unknown keys are refused when the table is opened.
struct ConfigTable {
    /// The table's own path (`""` for the root, `pipeline`, `schedules[0]`).
    let path: String
    let object: JSONObject

    /// Opens `value` as a table whose keys must be among `keys`.
    init(_ value: JSON, path: String, keys: [String], what: String? = nil) throws(ConfigError) {
        guard case .object(let object) = value else {
            throw ConfigError(keyPath: path.isEmpty ? nil : path,
                              problem: "expected a table, got \(ConfigTable.describe(value))")
        }
        self.path = path
        self.object = object
        for key in object.keys where !keys.contains(key) {
            throw ConfigTable.unknownKey(key, at: ConfigTable.join(path, key), known: keys,
                                         in: what ?? (path.isEmpty ? "the top level" : "[\(path)]"))
        }
    }

    func keyPath(_ key: String) -> String { ConfigTable.join(path, key) }

    func has(_ key: String) -> Bool { object[key] != nil }

    func value(_ key: String) -> JSON? { object[key] }

    func error(_ key: String, _ problem: String, fix: String? = nil) -> ConfigError {
        ConfigError(keyPath: keyPath(key), problem: problem, fix: fix)
    }

    // MARK: Scalars

    func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let value = object[key] else { return nil }
        guard case .bool(let flag) = value else {
            throw error(key, "expected true or false, got \(ConfigTable.describe(value))")
        }
        return flag
    }

    func string(_ key: String) throws(ConfigError) -> String? {
        guard let value = object[key] else { return nil }
        guard case .string(let text) = value else {
            throw error(key, "expected a string, got \(ConfigTable.describe(value))")
        }
        return text
    }

    /// An integer within `range`; `meaning` says what the number is for, in the error's fix
    /// ("set it to <meaning>").
    func int(_ key: String, in range: ClosedRange<Int> = Int.min...Int.max, _ meaning: String? = nil)
        throws(ConfigError) -> Int?
    {
        let meaning = meaning.map { "set it to " + $0 }
        guard let value = object[key] else { return nil }
        guard let number = value.intValue else {
            throw error(key, "expected an integer, got \(ConfigTable.describe(value))", fix: meaning)
        }
        guard range.contains(number) else {
            throw error(key, "must be \(ConfigTable.describe(range)), got \(number)", fix: meaning)
        }
        return number
    }

    /// One of the raw values of `E`.
    func choice<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type) throws(ConfigError) -> E?
    where E.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let choice = E(rawValue: text) else {
            let names = E.allCases.map { "\"\($0.rawValue)\"" }
            throw error(key, "unknown value \"\(text)\"", fix: "use one of \(names.joined(separator: ", "))")
        }
        return choice
    }

    /// A duration in milliseconds, at least `minimumMs`.
    func duration(_ key: String, minimumMs: Int64 = 0) throws(ConfigError) -> Int64? {
        guard let value = object[key] else { return nil }
        guard let ms = ConfigDuration.milliseconds(from: value) else {
            if case .string = value {
                throw error(key, "not a duration: \(ConfigTable.describe(value))", fix: "write " + ConfigDuration.expected)
            }
            if value.doubleValue != nil {
                throw error(key, "must be a non-negative number of seconds of at most 100 years, got \(ConfigTable.describe(value))")
            }
            throw error(key, "expected \(ConfigDuration.expected), got \(ConfigTable.describe(value))")
        }
        guard ms >= minimumMs else {
            let floor = minimumMs == 1 ? "more than 0" : "at least \(minimumMs)ms"
            throw error(key, "must be \(floor), got \(ConfigTable.describe(value))")
        }
        return ms
    }

    /// A size in bytes, at least 1.
    func size(_ key: String) throws(ConfigError) -> Int? {
        guard let value = object[key] else { return nil }
        guard let bytes = ConfigSize.bytes(from: value) else {
            throw error(key, "expected \(ConfigSize.expected), got \(ConfigTable.describe(value))")
        }
        guard bytes > 0 else { throw error(key, "must be more than 0 bytes, got \(ConfigTable.describe(value))") }
        return bytes
    }

    /// An array of strings; `nonEmpty` refuses `[]`. Elements are never empty strings.
    func strings(_ key: String, nonEmpty: Bool = false) throws(ConfigError) -> [String]? {
        guard let value = object[key] else { return nil }
        guard case .array(let elements) = value else {
            throw error(key, "expected an array of strings, got \(ConfigTable.describe(value))")
        }
        if nonEmpty, elements.isEmpty { throw error(key, "must not be empty") }
        var result: [String] = []
        for (index, element) in elements.enumerated() {
            guard case .string(let text) = element else {
                throw ConfigError(keyPath: keyPath(key) + "[\(index)]",
                                  problem: "expected a string, got \(ConfigTable.describe(element))")
            }
            guard !text.isEmpty else {
                throw ConfigError(keyPath: keyPath(key) + "[\(index)]", problem: "must not be an empty string")
            }
            result.append(text)
        }
        return result
    }

    /// An array of tables, or nil; each element is handed over with its indexed path.
    func tables(_ key: String) throws(ConfigError) -> [(path: String, value: JSON)]? {
        guard let value = object[key] else { return nil }
        guard case .array(let elements) = value else {
            throw error(key, "expected an array of tables, got \(ConfigTable.describe(value))")
        }
        return elements.enumerated().map { (keyPath(key) + "[\($0.offset)]", $0.element) }
    }

    // MARK: Paths and messages

    /// Whether `key` needs no quotes in a TOML key path.
    static func isBareKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }

    /// `base.key`, quoting `key` the way TOML would when it is not a bare key.
    static func join(_ base: String, _ key: String) -> String {
        var quoted = key
        if !isBareKey(key) {
            quoted = "\""
            for character in key {
                switch character {
                case "\"": quoted += "\\\""
                case "\\": quoted += "\\\\"
                case "\n": quoted += "\\n"
                default: quoted.append(character)
                }
            }
            quoted += "\""
        }
        return base.isEmpty ? quoted : base + "." + quoted
    }

    /// A value as it would read in the config, for error messages.
    static func describe(_ value: JSON) -> String {
        switch value {
        case .null: return "null"
        case .bool(let flag): return String(flag)
        case .int(let number): return String(number)
        case .double(let number): return String(number)
        case .rawNumber(let text): return text
        case .string(let text):
            let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
            return "\"\(shown)\""
        case .array: return "an array"
        case .object: return "a table"
        case .serialized(let s): return String(decoding: s.bytes, as: UTF8.self)
        }
    }

    static func describe(_ range: ClosedRange<Int>) -> String {
        switch (range.lowerBound, range.upperBound) {
        case (Int.min, Int.max): return "an integer"
        case (let low, Int.max): return low == 1 ? "at least 1" : "at least \(low)"
        case (Int.min, let high): return "at most \(high)"
        case (let low, let high): return "between \(low) and \(high)"
        }
    }

    static func unknownKey(_ key: String, at path: String, known: [String], in place: String) -> ConfigError {
        var fix = ""
        if let guess = closest(to: key, among: known) { fix = "did you mean \(guess)? " }
        fix += known.isEmpty ? "\(place) takes no keys" : "\(place) takes \(known.joined(separator: ", "))"
        return ConfigError(keyPath: path, problem: "unknown key", fix: fix)
    }

    /// The known key within edit distance 2 of `key` (or 1 for short keys), if any.
    static func closest(to key: String, among known: [String]) -> String? {
        let limit = key.count <= 4 ? 1 : 2
        var best: (name: String, distance: Int)?
        for name in known {
            let distance = editDistance(Array(key.lowercased()), Array(name))
            if distance <= limit, distance < (best?.distance ?? Int.max) { best = (name, distance) }
        }
        return best?.name
    }

    private static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            previous = current
        }
        return previous[b.count]
    }
}

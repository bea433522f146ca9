/// `[workflow]`: the named boolean toggles and their values at start-up. At run time they live
/// in `settings` as `workflow.<name>` (docs/promises.md §8.3). None are declared by default.
public struct WorkflowConfig: Equatable, Sendable {
    /// Toggle names in the order the config tree lists them (a TOML file yields them sorted by
    /// name: TOMLKit's tables do not keep declaration order).
    public private(set) var names: [String] = []
    /// Each declared toggle's value at start-up.
    public private(set) var toggles: [String: Bool] = [:]

    /// No toggles.
    public init() {}

    /// Toggles in the given order; a repeated name keeps its first place and its last value.
    public init(_ pairs: [(String, Bool)]) {
        for (name, value) in pairs { self[name] = value }
    }

    /// A toggle's start-up value; nil if it is not declared. Setting appends new names.
    public subscript(name: String) -> Bool? {
        get { toggles[name] }
        set {
            if let newValue {
                if toggles.updateValue(newValue, forKey: name) == nil { names.append(name) }
            } else if toggles.removeValue(forKey: name) != nil {
                names.removeAll { $0 == name }
            }
        }
    }

    /// Whether `[workflow]` declares the toggle.
    public func isDeclared(_ name: String) -> Bool { toggles[name] != nil }
}

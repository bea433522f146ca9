/// A configuration that cannot be used: it names where (file, line, dotted key path), what is
/// wrong, and what to do about it. `serve` prints `description` and exits 2 (docs/promises.md §1).
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The dotted key path of the offending value (`pipeline.max_parallel_jobs`,
    /// `schedules[0].every`); nil when the problem is the file as a whole.
    public var keyPath: String?
    /// What is wrong, as a lowercase phrase without a final period.
    public var problem: String
    /// What to do about it, when there is something better to say than "fix it".
    public var fix: String?
    /// The config file, when the config came from one.
    public var file: String?
    /// 1-based line of a TOML syntax error.
    public var line: Int?
    /// 1-based column of a TOML syntax error.
    public var column: Int?

    /// An error about the value at `keyPath`.
    public init(keyPath: String?, problem: String, fix: String? = nil) {
        self.keyPath = keyPath
        self.problem = problem
        self.fix = fix
    }

    /// An error about the file as a whole, optionally at a position in it.
    public init(file: String?, line: Int? = nil, column: Int? = nil, problem: String, fix: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.problem = problem
        self.fix = fix
    }

    /// `file:line:column: key.path: problem; fix`, leaving out the parts that are unknown.
    public var description: String {
        var prefix: [String] = []
        if let file {
            var place = file
            if let line {
                place += ":\(line)"
                if let column { place += ":\(column)" }
            }
            prefix.append(place)
        } else if let line {
            prefix.append(column.map { "line \(line), column \($0)" } ?? "line \(line)")
        }
        if let keyPath, !keyPath.isEmpty { prefix.append(keyPath) }
        var text = (prefix + [problem]).joined(separator: ": ")
        if let fix { text += "; " + fix }
        return text
    }
}

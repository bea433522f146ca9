import CSQLite

/// An SQLite failure: the result code, SQLite's message, and the statement that failed.
public struct DatabaseError: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public let sql: String?

    public var description: String {
        var s = "SQLite error \(code): \(message)"
        if let sql { s += " (in: \(sql))" }
        return s
    }

    /// True for a UNIQUE or PRIMARY KEY violation.
    public var isConstraintViolation: Bool { code & 0xff == SQLITE_CONSTRAINT }
}

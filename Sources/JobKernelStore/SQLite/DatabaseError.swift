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

    /// True when the file cannot take writes now: disk full, I/O error, read-only, corrupt, out
    /// of memory. Such a failure undoes the turn; it is not the request's fault.
    public var isStoreFault: Bool {
        switch code & 0xff {
        case SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY, SQLITE_CORRUPT, SQLITE_NOMEM, SQLITE_CANTOPEN, SQLITE_NOTADB:
            return true
        default:
            return false
        }
    }

    /// The cause in words a user acts on, e.g. "the disk is full".
    public var cause: String {
        switch code & 0xff {
        case SQLITE_FULL: return "the disk is full (\(message))"
        case SQLITE_IOERR: return "an I/O error (\(message))"
        case SQLITE_READONLY: return "the database is read-only (\(message))"
        case SQLITE_CORRUPT, SQLITE_NOTADB: return "the database file is corrupt or not a database (\(message))"
        case SQLITE_NOMEM: return "out of memory"
        case SQLITE_CANTOPEN: return "the file cannot be opened (\(message))"
        default: return message
        }
    }
}

/// A database that cannot be opened: the path, the cause and what to do about it.
public struct StoreOpenError: Error, CustomStringConvertible {
    public let path: String
    public let cause: DatabaseError

    public var description: String {
        let advice: String
        switch cause.code & 0xff {
        case SQLITE_NOTADB, SQLITE_CORRUPT:
            advice = "it is not a jobkernel database or it is damaged: move it aside (keep it for recovery) and start with a new --db, or restore a backup"
        case SQLITE_READONLY, SQLITE_PERM, SQLITE_AUTH:
            advice = "make the file and its directory writable by this user (and the file system read-write), or give another --db"
        case SQLITE_CANTOPEN:
            advice = "check that the directory exists and is writable, or give another --db"
        case SQLITE_FULL:
            advice = "free disk space, then start the kernel again"
        default:
            advice = "check the file, or give another --db"
        }
        return "\(cause.cause); \(advice)"
    }
}

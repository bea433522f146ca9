import CSQLite
import CSQLiteSupport

/// One SQLite connection with a cache of prepared statements. Used from the loop's thread only.
public final class Database {
    let handle: OpaquePointer
    private var cache: [String: Statement] = [:]
    /// The hot paths' statements, keyed by the address of their literal SQL: no hashing of the
    /// SQL text on every use.
    private var literalCache: [UInt: Statement] = [:]
    public let path: String

    /// SQLite's "unix-excl" VFS, with each transaction's WAL writes gathered into one system
    /// call (`CSQLiteSupport/wal_vfs.c`).
    public static let gatheringVFS = "jobkernel-excl"

    /// Process-wide SQLite settings, applied once before the first connection: memory
    /// statistics off (the kernel never reads them), and the gathering VFS registered.
    private static let configured: Void = {
        _ = jk_sqlite_disable_memstatus()
        _ = jk_sqlite_register_wal_vfs(gatheringVFS, "unix-excl")
    }()

    /// Opens (creating if needed) the database at `path`; `:memory:` for none on disk.
    /// `vfs` names an SQLite VFS; nil for the default.
    public init(path: String, vfs: String? = nil) throws(DatabaseError) {
        Database.configured
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, vfs)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw DatabaseError(code: rc, message: message, sql: nil)
        }
        self.handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5000)
    }

    deinit {
        cache.removeAll()
        literalCache.removeAll()
        sqlite3_close_v2(handle)
    }

    /// The cached prepared statement for `sql`, prepared on first use.
    public func statement(_ sql: String) throws(DatabaseError) -> Statement {
        if let s = cache[sql] { return s }
        let s = try Statement(database: self, sql: sql)
        cache[sql] = s
        return s
    }

    /// The cached prepared statement for the literal `sql`, found by the literal's address.
    public func statement(literal sql: StaticString) throws(DatabaseError) -> Statement {
        let key = UInt(bitPattern: sql.utf8Start)
        if let s = literalCache[key] { return s }
        let s = try Statement(database: self, sql: sql.description)
        literalCache[key] = s
        return s
    }

    /// Runs one or more statements with no parameters and no rows (schema, pragmas).
    public func execute(_ sql: String) throws(DatabaseError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw DatabaseError(code: rc, message: text, sql: sql)
        }
    }

    /// Runs `sql` with `values` (no rows).
    public func run(_ sql: String, _ values: [SQLValue] = []) throws(DatabaseError) {
        try statement(sql).bind(values).run()
    }

    /// A single integer from the first row, or nil.
    public func scalar(_ sql: String, _ values: [SQLValue] = []) throws -> Int64? {
        try statement(sql).bind(values).first { $0.isNull(0) ? nil : $0.int(0) } ?? nil
    }

    /// `scalar` with a typed error, for start-up code.
    public func scalarOrThrow(_ sql: String) throws(DatabaseError) -> Int64? {
        do {
            return try scalar(sql)
        } catch let e as DatabaseError {
            throw e
        } catch {
            throw DatabaseError(code: SQLITE_ERROR, message: "\(error)", sql: sql)
        }
    }

    /// The first failure that says the file cannot take writes now (disk full, I/O error,
    /// read-only, corrupt), since `clearFault()`. The turn that saw it must not commit.
    public private(set) var fault: DatabaseError?

    /// Forgets the recorded fault (after the turn that saw it was rolled back).
    public func clearFault() { fault = nil }

    /// Undoes the open transaction, if any (a failed commit may already have undone it).
    public func rollback() {
        if isInTransaction { sqlite3_exec(handle, "ROLLBACK", nil, nil, nil) }
    }

    /// True when SQLite opened the file read-only (the file or its directory is not writable).
    public var isReadOnly: Bool { sqlite3_db_readonly(handle, "main") == 1 }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    public var changes: Int { Int(sqlite3_changes(handle)) }
    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    func error(_ rc: Int32, sql: String?) -> DatabaseError {
        let error = DatabaseError(code: rc, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
        if error.isStoreFault && fault == nil { fault = error }
        return error
    }
}

import CSQLite

/// A prepared statement. Owned by its `Database`'s cache; finalized when released.
public final class Statement {
    let handle: OpaquePointer
    let sql: String
    unowned let database: Database

    init(database: Database, sql: String) throws(DatabaseError) {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw database.error(rc, sql: sql) }
        self.handle = stmt
        self.sql = sql
        self.database = database
    }

    deinit {
        sqlite3_finalize(handle)
        arena?.deallocate()
    }

    /// The text bound since the last reset, copied here instead of by SQLite: a text bound with
    /// SQLITE_TRANSIENT costs SQLite an allocation and a copy, and a job's row and its events
    /// bind about 25 texts per enqueued and acknowledged job. Never moved or reused before the
    /// next reset, which also unbinds what pointed into it, so SQLite reads it as bound.
    private var arena: UnsafeMutableRawPointer?
    private var arenaUsed = 0
    private static let arenaSize = 4096

    /// Binds `values` to the parameters 1…n, after a reset.
    @discardableResult
    public func bind(_ values: [SQLValue]) -> Statement {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        arenaUsed = 0
        for (i, v) in values.enumerated() { bind(v, at: Int32(i + 1)) }
        return self
    }

    /// Resets the statement for the hot paths, which then bind every parameter one by one with
    /// the typed `bind(_:_:)` below (no array of values to build and free per row).
    @inline(__always)
    public func reset() -> Statement {
        sqlite3_reset(handle)
        if arenaUsed > 0 {
            sqlite3_clear_bindings(handle)
            arenaUsed = 0
        }
        return self
    }

    /// Binds an integer to parameter `i` (1-based).
    @inline(__always) @discardableResult
    public func bind(_ i: Int32, _ v: Int64) -> Statement {
        sqlite3_bind_int64(handle, i, v)
        return self
    }

    /// Binds an integer, or NULL for nil.
    @inline(__always) @discardableResult
    public func bind(_ i: Int32, _ v: Int64?) -> Statement {
        if let v { sqlite3_bind_int64(handle, i, v) } else { sqlite3_bind_null(handle, i) }
        return self
    }

    /// Binds 1 or 0.
    @inline(__always) @discardableResult
    public func bind(_ i: Int32, _ v: Bool) -> Statement { bind(i, Int64(v ? 1 : 0)) }

    /// Binds text, or NULL for nil.
    @inline(__always) @discardableResult
    public func bind(_ i: Int32, _ s: String?) -> Statement {
        guard var s else {
            sqlite3_bind_null(handle, i)
            return self
        }
        s.withUTF8 { bindText(i, UnsafeRawBufferPointer($0)) }
        return self
    }

    /// Binds UTF-8 bytes as text (serialized JSON), or NULL for nil.
    @inline(__always) @discardableResult
    public func bind(_ i: Int32, utf8 b: [UInt8]?) -> Statement {
        guard let b else {
            sqlite3_bind_null(handle, i)
            return self
        }
        b.withUnsafeBytes { bindText(i, $0) }
        return self
    }

    /// Binds bytes as text, copied into the arena (or by SQLite when they do not fit there):
    /// they need not outlive the call. No bytes are the empty text, not NULL.
    @inline(__always)
    private func bindText(_ i: Int32, _ bytes: UnsafeRawBufferPointer) {
        guard let start = bytes.baseAddress else {
            _ = sqlite3_bind_text(handle, i, "", 0, jk_sqlite_transient())
            return
        }
        let n = bytes.count
        guard n <= Self.arenaSize - arenaUsed else {
            _ = sqlite3_bind_text(handle, i, start.assumingMemoryBound(to: CChar.self), Int32(n), jk_sqlite_transient())
            return
        }
        let base = arena ?? {
            let a = UnsafeMutableRawPointer.allocate(byteCount: Self.arenaSize, alignment: 8)
            arena = a
            return a
        }()
        let copy = base + arenaUsed
        copy.copyMemory(from: start, byteCount: n)
        arenaUsed += n
        _ = sqlite3_bind_text(handle, i, copy.assumingMemoryBound(to: CChar.self), Int32(n), nil)  // SQLITE_STATIC
    }

    private func bind(_ value: SQLValue, at i: Int32) {
        switch value {
        case .null: sqlite3_bind_null(handle, i)
        case .int(let v): sqlite3_bind_int64(handle, i, v)
        case .double(let v): sqlite3_bind_double(handle, i, v)
        case .text(let s): bind(i, s)
        case .bytes(let b): bind(i, utf8: b)
        }
    }

    /// Runs a statement that returns no rows.
    public func run() throws(DatabaseError) {
        let rc = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard rc == SQLITE_DONE || rc == SQLITE_ROW else { throw database.error(rc, sql: sql) }
    }

    /// Steps to the next row; false when done.
    public func step() throws(DatabaseError) -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        sqlite3_reset(handle)
        guard rc == SQLITE_DONE else { throw database.error(rc, sql: sql) }
        return false
    }

    /// Calls `body` for each row.
    public func forEach(_ body: (Row) throws -> Void) throws {
        defer { sqlite3_reset(handle) }
        while try step() { try body(Row(handle: handle)) }
    }

    /// The first row mapped by `body`, or nil.
    public func first<T>(_ body: (Row) throws -> T) throws -> T? {
        defer { sqlite3_reset(handle) }
        guard try step() else { return nil }
        return try body(Row(handle: handle))
    }
}

/// The current row of a stepping statement. Valid only inside the callback that received it.
public struct Row {
    let handle: OpaquePointer

    public func isNull(_ i: Int32) -> Bool { sqlite3_column_type(handle, i) == SQLITE_NULL }
    public func int(_ i: Int32) -> Int64 { sqlite3_column_int64(handle, i) }
    public func optionalInt(_ i: Int32) -> Int64? { isNull(i) ? nil : int(i) }
    public func double(_ i: Int32) -> Double { sqlite3_column_double(handle, i) }
    public func bool(_ i: Int32) -> Bool { int(i) != 0 }

    public func text(_ i: Int32) -> String {
        guard let p = sqlite3_column_text(handle, i) else { return "" }
        let n = Int(sqlite3_column_bytes(handle, i))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    public func optionalText(_ i: Int32) -> String? { isNull(i) ? nil : text(i) }

    /// The column's bytes, without a copy; valid only inside `body`.
    public func withBytes<T>(_ i: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let p = sqlite3_column_blob(handle, i)
        let n = Int(sqlite3_column_bytes(handle, i))
        return try body(UnsafeRawBufferPointer(start: p, count: n))
    }
}

/// A value bound to a statement parameter.
public enum SQLValue {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    /// UTF-8 text already encoded, such as serialized JSON.
    case bytes([UInt8])

    public static func optional(_ v: Int64?) -> SQLValue { v.map { .int($0) } ?? .null }
    public static func optional(_ v: String?) -> SQLValue { v.map { .text($0) } ?? .null }
    public static func bool(_ v: Bool) -> SQLValue { .int(v ? 1 : 0) }
}

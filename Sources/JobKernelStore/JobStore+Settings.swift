import CSQLite
import Glibc
import JobKernelCore

extension JobStore {
    public func settings() throws -> [(String, JSON)] {
        var out: [(String, JSON)] = []
        try db.statement("SELECT key, value FROM settings ORDER BY key").bind([]).forEach {
            out.append(($0.text(0), Self.json($0, 1) ?? .null))
        }
        return out
    }

    public func setSetting(_ key: String, _ value: JSON) throws(DatabaseError) {
        try beginIfNeeded()
        try db.run("INSERT INTO settings (key, value) VALUES (?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                   [.text(key), .bytes(value.serialized())])
    }

    public func scheduleState(name: String) throws -> (lastSlot: Int64, lastJobID: Int64?)? {
        try db.statement("SELECT last_slot, last_job_id FROM schedules WHERE name=?").bind([.text(name)])
            .first { ($0.int(0), $0.optionalInt(1)) }
    }

    public func setScheduleState(name: String, lastSlot: Int64, lastJobID: Int64?) throws(DatabaseError) {
        try beginIfNeeded()
        try db.run("""
            INSERT INTO schedules (name, last_slot, last_job_id) VALUES (?,?,?)
            ON CONFLICT(name) DO UPDATE SET last_slot=excluded.last_slot, last_job_id=excluded.last_job_id
            """, [.text(name), .int(lastSlot), .optional(lastJobID)])
    }
}

import CSQLite
import Glibc
import JobKernelCore

extension JobStore {
    /// Appends an event with the seq the kernel assigned.
    public func appendEvent(seq: Int64, ts: Millis, kind: String, jobID: Int64?, type: String?, data: [UInt8]) throws(DatabaseError) {
        try beginIfNeeded()
        try db.statement(literal: "INSERT INTO events (seq, ts, kind, job_id, type, data) VALUES (?,?,?,?,?,?)")
            .reset().bind(1, seq).bind(2, ts).bind(3, kind).bind(4, jobID).bind(5, type).bind(6, utf8: data).run()
    }

    /// Up to `limit` events with `after < seq <= through`, in order.
    public func events(after: Int64, through: Int64, limit: Int = Int.max, _ body: (StoredEvent) throws -> Void) throws {
        try db.statement("SELECT seq, ts, kind, job_id, type, data FROM events WHERE seq>? AND seq<=? ORDER BY seq LIMIT ?")
            .bind([.int(after), .int(through), .int(Int64(min(limit, Int(Int64.max))))]).forEach { r in
                try body(StoredEvent(seq: r.int(0), ts: r.int(1), kind: r.text(2), jobID: r.optionalInt(3),
                                     type: r.optionalText(4), data: r.withBytes(5) { Array($0) }))
            }
    }

    public func latestEventSeq() throws -> Int64 { try db.scalar("SELECT max(seq) FROM events") ?? 0 }
    public func oldestEventSeq() throws -> Int64? { try db.scalar("SELECT min(seq) FROM events") }

    /// Drops events older than `ts`, always keeping the latest one so the seq survives restarts.
    public func pruneEvents(olderThan ts: Millis) throws(DatabaseError) {
        try beginIfNeeded()
        // Events are appended in time order, so the old ones are a prefix of the log: find its end
        // walking from the oldest (cost in proportion to what goes, not to the whole log), and
        // always keep the latest event (it holds the seq).
        try db.run("""
            DELETE FROM events WHERE seq < min(
                coalesce((SELECT seq FROM events WHERE ts >= ? ORDER BY seq LIMIT 1), 9223372036854775807),
                (SELECT max(seq) FROM events))
            """, [.int(ts)])
    }
}

/// An event as stored: its data already serialized.
public struct StoredEvent: Sendable {
    public var seq: Int64
    public var ts: Millis
    public var kind: String
    public var jobID: Int64?
    public var type: String?
    public var data: [UInt8]

    public init(seq: Int64, ts: Millis, kind: String, jobID: Int64?, type: String?, data: [UInt8]) {
        self.seq = seq
        self.ts = ts
        self.kind = kind
        self.jobID = jobID
        self.type = type
        self.data = data
    }
}

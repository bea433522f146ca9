import CSQLite
import Glibc
import JobKernelCore

extension JobStore {

    /// Appends a log line; drops the job's oldest lines while its log exceeds `maxBytes`.
    /// Returns the line's seq within the job's log (0 for an unknown job).
    ///
    /// O(1) amortized per line (docs/promises.md §10): the running total is kept in `logTails`, and only the
    /// lines being dropped are read, each once, from the oldest end.
    public func appendLog(jobID: Int64, ts: Millis, level: String, message: String, maxBytes: Int) throws -> Int64 {
        try beginIfNeeded()
        let last = try db.scalar("SELECT MAX(seq) FROM logs WHERE job_id=?", [.int(jobID)]) ?? 0
        var tail: (seq: Int64, bytes: Int64)
        if let known = logTails[jobID], known.seq == last {
            tail = known
        } else {
            guard try db.scalar("SELECT 1 FROM jobs WHERE id=?", [.int(jobID)]) != nil else { return 0 }
            let bytes = try db.scalar("SELECT SUM(length(CAST(message AS BLOB))) FROM logs WHERE job_id=?",
                                      [.int(jobID)]) ?? 0
            tail = (last, bytes)
        }
        let seq = tail.seq + 1
        var bytes = tail.bytes + Int64(message.utf8.count)
        try db.run("INSERT INTO logs (job_id, seq, ts, level, message) VALUES (?,?,?,?,?)",
                   [.int(jobID), .int(seq), .int(ts), .text(level), .text(message)])
        if bytes > Int64(maxBytes) {
            var dropThrough: Int64 = 0
            var dropped = true
            while dropped && bytes > Int64(maxBytes) {
                dropped = false
                try db.statement("""
                    SELECT seq, length(CAST(message AS BLOB)) FROM logs WHERE job_id=? AND seq>? AND seq<?
                    ORDER BY seq LIMIT 4
                    """).bind([.int(jobID), .int(dropThrough), .int(seq)]).forEach { row in
                        guard bytes > Int64(maxBytes) else { return }
                        bytes -= row.int(1)
                        dropThrough = row.int(0)
                        dropped = true
                    }
            }
            if dropThrough > 0 { try db.run("DELETE FROM logs WHERE job_id=? AND seq<=?", [.int(jobID), .int(dropThrough)]) }
        }
        logTails[jobID] = (seq, bytes)
        return seq
    }

    /// Forgets the tail of a job that logs no more (it ended).
    public func forgetLogTail(jobID: Int64) {
        if !logTails.isEmpty { logTails[jobID] = nil }  // most jobs log nothing: no hashing then
    }

    /// Up to `limit` log lines of the job after `since`.
    public func logs(jobID: Int64, since: Int64, limit: Int) throws -> [LogLine] {
        var lines: [LogLine] = []
        try db.statement("SELECT seq, ts, level, message FROM logs WHERE job_id=? AND seq>? ORDER BY seq LIMIT ?")
            .bind([.int(jobID), .int(since), .int(Int64(limit))]).forEach {
                lines.append(LogLine(seq: $0.int(0), ts: $0.int(1), level: $0.text(2), message: $0.text(3)))
            }
        return lines
    }

    /// The seq of the job's last log line.
    public func lastLogSeq(jobID: Int64) throws -> Int64 {
        try db.scalar("SELECT MAX(seq) FROM logs WHERE job_id=?", [.int(jobID)]) ?? 0
    }
}

/// One line of a job's log.
public struct LogLine: Sendable {
    public var seq: Int64
    public var ts: Millis
    public var level: String
    public var message: String

    public var json: JSON {
        ["seq": .int(Int(seq)), "ts": .string(Timestamp.format(ts)), "level": .string(level), "message": .string(message)]
    }
}

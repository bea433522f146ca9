import JobKernelCore

/// `restart`'s links (docs/promises.md §13): a restarted job and the job it was enqueued from.
extension JobStore {
    /// Records that job `jobID` was restarted from `fromID`.
    public func addRestart(jobID: Int64, from fromID: Int64) throws(DatabaseError) {
        try beginIfNeeded()
        try db.run("INSERT OR REPLACE INTO restarts (job_id, from_id) VALUES (?,?)", [.int(jobID), .int(fromID)])
    }

    /// The job `jobID` was restarted from, if it was.
    public func restartedFrom(jobID: Int64) throws -> Int64? {
        try db.statement("SELECT from_id FROM restarts WHERE job_id=?").bind([.int(jobID)]).first { $0.int(0) }
    }

    /// Whether any job was ever restarted.
    public func hasRestarts() throws -> Bool {
        try db.scalar("SELECT 1 FROM restarts LIMIT 1") != nil
    }
}

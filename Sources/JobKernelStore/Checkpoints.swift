import Glibc

/// When the WAL is next copied back into the database file: at most once per interval, and only
/// after a commit. The kernel's connection has automatic checkpoints turned off and holds the
/// database exclusively, so its own writer thread runs them (`JobStore.checkpointIfDue`).
struct Checkpoints {
    let intervalMs: Int64
    /// Something was committed since the last checkpoint.
    var committed = false
    private var lastMs: Int64

    init(intervalMs: Int64) {
        self.intervalMs = intervalMs
        lastMs = Self.monotonicMs()
    }

    func isDue(now: Int64) -> Bool { committed && now - lastMs >= intervalMs }

    mutating func done(now: Int64) {
        committed = false
        lastMs = now
    }

    static func monotonicMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

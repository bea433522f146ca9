import Glibc
import JobKernelCore
import JobKernelIO

extension Kernel {
    // MARK: stats.history

    /// A test aid: `JOBKERNEL_STATS_INTERVAL_MS` sets the time between two `stats.history`
    /// samples (100 to 3600000; else 10 s), so that a black-box test need not wait 10 s.
    static let statsIntervalMs: Int64 = getenv("JOBKERNEL_STATS_INTERVAL_MS")
        .flatMap { Int64(String(cString: $0)) }.flatMap { (100...3_600_000).contains($0) ? $0 : nil } ?? 10_000

    /// Takes the first sample now, so that a page opened a second after the start has a point,
    /// then one every interval. The timer does not keep the loop alive.
    func startStatsHistory() {
        sampleStats()
        let timer = LoopTimer(loop: loop)
        timer.unref()
        let ms = UInt64(history.intervalMs)
        timer.start(afterMs: ms, repeatMs: ms) { [unowned self] in self.sampleStats() }
        historyTimer = timer
    }

    /// A sample of every configured type (and any other with open jobs), from the open counts
    /// `stats` keeps: no job is read.
    func sampleStats() {
        var open: [String: (pending: Int, running: Int)] = [:]
        for name in config.types.keys { open[name] = (0, 0) }
        for (type, counts) in ops.openByType where !counts.isEmpty || open[type] != nil {
            open[type] = (counts[.pending], counts[.running])
        }
        history.sample(at: now, open: open)
    }

    /// `stats.history {since?}`: the samples taken after `since` (a time), or all those kept.
    func statsHistoryMethod(_ p: inout Params) throws -> JSON {
        let since = try p.optionalTime("since")
        try p.rejectUnknown()
        return history.json(after: since)
    }

    // MARK: workers

    /// `workers {}`: the local pools' workers and the leases out, joined with their jobs' ids,
    /// labels and types (running jobs, kept in memory) and the fetchers' names.
    func workersMethod() -> JSON {
        let pools: [JSON] = localPools.snapshot(pools: config.pools, pipeline: config.pipeline, shuttingDown: shuttingDown)
            .map { pool in
                let workers: [JSON] = pool.workers.map { w in
                    ["pid": w.pid.map { .int(Int($0)) } ?? .null, "state": .string(w.state.rawValue),
                     "job": w.jobID.map { jobSummary($0, type: pool.type) } ?? .null,
                     "since": .string(Timestamp.format(w.since))]
                }
                return ["type": .string(pool.type), "dispatch_mode": .string(pool.mode.rawValue),
                        "concurrency": .int(pool.concurrency), "persistent": .bool(pool.persistent),
                        "workers": .array(workers)]
            }
        let leases: [JSON] = broker.snapshot().map { lease in
            ["lease": .string(broker.name(lease.id)), "job": jobSummary(lease.jobID, type: lease.type), "index": .int(lease.index),
             "worker": connections[lease.connectionID]?.clientName.map { .string($0) } ?? .null,
             "expires_at": .string(Timestamp.format(lease.expiresAt))]
        }
        return ["pools": .array(pools), "leases": .array(leases)]
    }

    /// `{id, label, type}` of a job with a unit out: running, so in memory (`job` reads the
    /// store only for a job that is not).
    private func jobSummary(_ id: Int64, type: String?) -> JSON {
        let job = (try? self.job(id)) ?? nil
        return ["id": .string(String(id)), "label": job?.label.map { .string($0) } ?? .null,
                "type": (job?.type ?? type).map { .string($0) } ?? .null]
    }
}

import JobKernelCore

extension Kernel {
    /// Why each of `jobs` waits (docs/promises.md §13), for the pending and scheduled ones:
    /// gathered from the queues, the pause and toggle settings and, for a job that has them, its
    /// dependencies and backoffs in the store. Queue places are found with one pass over each
    /// type's queue for all the jobs of that type at once (`UnitQueues.positions`).
    func waitReasons(_ jobs: [Job]) throws -> [Int64: WaitReason] {
        let open = jobs.filter { $0.status == .pending || $0.status == .scheduled }
        guard !open.isEmpty else { return [:] }
        var positions: [Int64: Int] = [:]
        for (type, ofType) in Dictionary(grouping: open.filter { $0.status == .pending }, by: \.type) {
            positions.merge(queues.positions(type: type, of: ofType.map { ($0.id, $0.priority) })) { a, _ in a }
        }
        var out: [Int64: WaitReason] = [:]
        for job in open {
            var f = WaitReason.Facts(status: job.status, now: now, runAt: job.runAt, position: positions[job.id])
            if job.status == .scheduled, ops.dependenciesExist {
                f.dependencies = try store.unresolvedDependencyIDs(of: job.id)
            }
            if job.waiting > 0 {
                f.backoffUntil = job.itemized
                    ? try store.units(jobID: job.id, status: .pending).compactMap(\.runAt).min()
                    : try unit(job.id, 0)?.runAt
            }
            if ops.pausedAll {
                f.pausedBy = "paused.*"
            } else if ops.pausedTypes.contains(job.type) {
                f.pausedBy = "paused.\(job.type)"
            }
            if !job.manual, typesRequireToggles {
                f.toggleOff = config.types[job.type]?.requires.first { settings["workflow.\($0)"]?.boolValue != true }
            }
            out[job.id] = WaitReason.of(f)
        }
        return out
    }

    /// The job object `json` with `waiting` added: `reason`'s object, or null.
    static func withWaiting(_ json: JSON, _ reason: WaitReason?) -> JSON {
        json.addingMember("waiting", reason?.json ?? .null)
    }
}

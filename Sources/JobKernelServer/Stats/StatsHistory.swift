import JobKernelCore

/// The kernel's recent history by type, for `stats.history` (protocol/protocol.md): a sample
/// every `intervalMs`, the last `capacity` of them kept in a ring, in memory only (the history
/// starts when the kernel does).
///
/// A sample holds, per type, the jobs `pending` and `running` when it was taken and the jobs
/// that ended in the interval it closes, by how they ended. Ends are counted as they happen
/// (`ended`), so taking a sample reads no job.
struct StatsHistory {
    /// One type's counts in one sample.
    struct Counts: Equatable {
        var pending = 0
        var running = 0
        var succeeded = 0
        var failed = 0
        var cancelled = 0
        var partialSuccess = 0
        var skipped = 0

        /// Counts one job that ended `status`; a status that is not an end counts nothing.
        mutating func count(ended status: JobStatus) {
            switch status {
            case .success: succeeded += 1
            case .failed: failed += 1
            case .cancelled: cancelled += 1
            case .partialSuccess: partialSuccess += 1
            case .skipped: skipped += 1
            case .scheduled, .pending, .running: break
            }
        }

        var json: JSON {
            ["pending": .int(pending), "running": .int(running), "succeeded": .int(succeeded), "failed": .int(failed),
             "cancelled": .int(cancelled), "partial_success": .int(partialSuccess), "skipped": .int(skipped)]
        }
    }

    /// The counts of every type at time `t`.
    struct Sample: Equatable {
        var t: Millis
        var types: [String: Counts]
    }

    /// The time between two samples.
    let intervalMs: Int64
    /// The most samples kept; older ones are dropped as new ones come.
    let capacity: Int
    /// The samples, oldest at `head` once the ring is full.
    private var ring: [Sample] = []
    private var head = 0
    /// Jobs that ended since the last sample, by type.
    private var endedSince: [String: Counts] = [:]

    /// 360 samples of 10 s: the last hour.
    init(intervalMs: Int64 = 10_000, capacity: Int = 360) {
        precondition(intervalMs > 0 && capacity > 0, "a history needs an interval and room for a sample")
        self.intervalMs = intervalMs
        self.capacity = capacity
        ring.reserveCapacity(capacity)
    }

    /// How far back a full ring reaches.
    var keptMs: Int64 { intervalMs * Int64(capacity) }

    /// A job of `type` ended `status`: counted in the next sample.
    mutating func ended(type: String, status: JobStatus) {
        endedSince[type, default: Counts()].count(ended: status)
    }

    /// Takes a sample at `t` of `open`, the jobs pending and running by type (a type given with
    /// zeros is shown with zeros), with the ends counted since the last sample; the oldest sample
    /// goes once `capacity` are kept.
    mutating func sample(at t: Millis, open: [String: (pending: Int, running: Int)]) {
        var types = endedSince
        for (type, counts) in open {
            types[type, default: Counts()].pending = counts.pending
            types[type, default: Counts()].running = counts.running
        }
        endedSince.removeAll(keepingCapacity: true)
        let sample = Sample(t: t, types: types)
        if ring.count < capacity {
            ring.append(sample)
        } else {
            ring[head] = sample
            head = (head + 1) % capacity
        }
    }

    /// The samples kept, oldest first; only those taken after `since` when given.
    func samples(after since: Millis? = nil) -> [Sample] {
        let ordered = ring[head...] + ring[..<head]
        guard let since else { return Array(ordered) }
        return ordered.filter { $0.t > since }
    }

    /// `stats.history`'s answer: `{interval_s, kept_s, samples: [{t, types: {type: counts}}]}`.
    func json(after since: Millis?) -> JSON {
        let samples: [JSON] = samples(after: since).map { sample in
            let types = JSONObject(sample.types.keys.sorted().map { ($0, sample.types[$0]!.json) })
            return ["t": .string(Timestamp.format(sample.t)), "types": .object(types)]
        }
        return ["interval_s": Self.seconds(intervalMs), "kept_s": Self.seconds(keptMs), "samples": .array(samples)]
    }

    /// Whole seconds as an integer (`10`), others as a number (`0.2`).
    private static func seconds(_ ms: Int64) -> JSON {
        ms % 1000 == 0 ? .int(Int(ms / 1000)) : .double(Double(ms) / 1000)
    }
}

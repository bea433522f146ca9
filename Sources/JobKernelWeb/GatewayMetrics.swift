import JobKernelCore
import NIOCore
import Prometheus
import Synchronization

/// `GET /metrics` (docs/promises.md §14) in Prometheus' text format.
///
/// Gauges (jobs by status, by type and status, queue depth, running units, the latest seq) are
/// read from the kernel's `stats` at each scrape. Counters of finished jobs by type and status and
/// the run-time histogram by type come from a `job.status` subscription the gateway holds from its
/// start; it resumes with `since` across kernel restarts, so no finished job is counted twice or
/// missed.
public final class GatewayMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let link: KernelLink
    private let forwarder: RPCForwarder
    /// Gauges set at the previous scrape; a combination that is gone reads 0, not its old value.
    private let seenGauges = Mutex<[String: Gauge]>([:])
    let streams: StreamGauge

    static let terminal: Set<String> = ["success", "partial_success", "failed", "cancelled", "skipped"]
    static let runBuckets: [Double] = [0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]

    init(link: KernelLink) {
        self.link = link
        self.forwarder = RPCForwarder(link: link)
        self.streams = StreamGauge(gauge: registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "jobkernel", subsystem: "web", metricName: "event_streams", unitName: "",
            helpText: "Open GET /events streams")))
    }

    /// The exposition text, after a fresh read of `stats`.
    func scrape() async -> ByteBuffer {
        await refreshGauges()
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return ByteBuffer(bytes: bytes)
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)]) -> Gauge {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        return seenGauges.withLock { seen in
            if let gauge = seen[key] { return gauge }
            let gauge = registry.makeGauge(
                descriptor: MetricNameDescriptor(namespace: "jobkernel", metricName: name, unitName: "", helpText: help),
                labels: labels)
            seen[key] = gauge
            return gauge
        }
    }

    private func refreshGauges() async {
        let up = gauge("kernel_up", "1 when the kernel answered the last scrape's stats, else 0", [])
        guard let stats = await call("stats") else {
            up.set(0.0)
            return
        }
        up.set(1.0)
        seenGauges.withLock { seen in for (_, gauge) in seen where gauge !== up { gauge.set(0.0) } }
        if let jobs = stats["jobs"]?.objectValue {
            for (status, count) in jobs {
                gauge("jobs", "Jobs by status", [("status", status)]).set(Double(count.intValue ?? 0))
            }
        }
        var running = 0
        if let lanes = stats["lanes"]?.objectValue {
            for (_, lane) in lanes { running += lane["busy"]?.intValue ?? 0 }
        }
        gauge("running_units", "Units running, in the local pools or leased to external workers", [("where", "local")])
            .set(Double(running))
        gauge("running_units", "Units running, in the local pools or leased to external workers", [("where", "leased")])
            .set(Double(stats["leases"]?.intValue ?? 0))
        gauge("queued_units", "Units ready to run and waiting for a slot", []).set(Double(stats["queued_units"]?.intValue ?? 0))
        gauge("event_seq", "The kernel's latest event seq", []).set(Double(stats["seq"]?.intValue ?? 0))
        for (type, status, count) in await jobsByType(stats) {
            gauge("type_jobs", "Unfinished jobs by type and status", [("type", type), ("status", status)]).set(Double(count))
            if status == "pending" {
                gauge("queue_depth", "Pending jobs by type (ready, waiting for a slot)", [("type", type)]).set(Double(count))
            }
        }
    }

    /// Unfinished jobs by type and status: from `stats.types` when the kernel has it (docs/promises.md §13),
    /// else counted from `list` (up to 10,000 jobs).
    private func jobsByType(_ stats: JSON) async -> [(String, String, Int)] {
        var counts: [(String, String, Int)] = []
        if let types = stats["types"]?.objectValue {
            for (type, entry) in types {
                for status in ["pending", "scheduled", "running"] {
                    counts.append((type, status, entry[status]?.intValue ?? 0))
                }
            }
            return counts
        }
        var tally: [String: [String: Int]] = [:]
        var cursor: JSON = .null
        for _ in 0..<10 {
            var params: JSONObject = ["status": ["pending", "scheduled", "running"], "limit": 1000]
            if !cursor.isNull { params["cursor"] = cursor }
            guard let page = await call("list", .object(params)) else { break }
            for job in page["jobs"]?.arrayValue ?? [] {
                guard let type = job["type"]?.stringValue, let status = job["status"]?.stringValue else { continue }
                tally[type, default: [:]][status, default: 0] += 1
            }
            cursor = page["next_cursor"] ?? .null
            if cursor.isNull { break }
        }
        for (type, statuses) in tally {
            for status in ["pending", "scheduled", "running"] { counts.append((type, status, statuses[status] ?? 0)) }
        }
        return counts
    }

    private func call(_ method: String, _ params: JSON = .object([:])) async -> JSON? {
        let request = JSON.object(["jsonrpc": "2.0", "id": 1, "method": .string(method), "params": params])
        guard let answer = try? await forwarder.forward(ByteBuffer(bytes: request.serialized())),
            let message = try? answer.withUnsafeReadableBytes({ try JSONParser.parse($0, maxDepth: 512) })
        else { return nil }
        return message["result"]
    }

    /// Counts finished jobs and their run times from `job.status` events until cancelled,
    /// reconnecting to the kernel as needed.
    func watch() async {
        var cursor: Int?
        while !Task.isCancelled {
            do {
                let connection = try await link.connect()
                try await connection.executeThenClose { inbound, outbound in
                    var params: JSONObject = ["kinds": ["job.status"]]
                    if let cursor { params["since"] = .int(cursor) }
                    let request = JSON.object(["jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": .object(params)])
                    try await outbound.write(KernelLink.line(request.serialized()))
                    for try await line in inbound where line.readableBytes > 0 {
                        let message = try line.withUnsafeReadableBytes { try JSONParser.parse($0, maxDepth: 512) }
                        if message["id"] != nil {
                            if let seq = message["result"]?["seq"]?.intValue, cursor == nil { cursor = seq }
                            if message["error"] != nil { cursor = nil }  // a new kernel: count from its present
                            continue
                        }
                        let event = message["params"] ?? .null
                        guard message["method"]?.stringValue == "event", let seq = event["seq"]?.intValue else { continue }
                        if let cursor, seq <= cursor { continue }
                        cursor = seq
                        record(event["data"] ?? .null)
                    }
                }
            } catch {}
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    private func record(_ data: JSON) {
        guard let to = data["to"]?.stringValue, Self.terminal.contains(to), let job = data["job"],
            let type = job["type"]?.stringValue
        else { return }
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "jobkernel", metricName: "jobs_finished", unitName: "total",
                helpText: "Jobs that reached a final status, by type and status, since the gateway started"),
            labels: [("type", type), ("status", to)]
        ).increment()
        if let started = job["started_at"]?.stringValue.flatMap(Timestamp.seconds),
            let finished = job["finished_at"]?.stringValue.flatMap(Timestamp.seconds)
        {
            registry.makeValueHistogram(
                descriptor: MetricNameDescriptor(
                    namespace: "jobkernel", metricName: "job_run", unitName: "seconds",
                    helpText: "Run time of finished jobs (started_at to finished_at), by type"),
                labels: [("type", type)], buckets: Self.runBuckets
            ).record(max(0, finished - started))
        }
    }
}

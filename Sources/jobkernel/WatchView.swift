import JobKernelClient
import JobKernelCore

/// The state `jobkernel watch` draws: the jobs it knows, kept current by events, and each running
/// job's recent progress samples for its rate and ETA. Pure: it is given the time, never reads it.
struct WatchView {
    private(set) var jobs: [String: JSON] = [:]
    private var samples: [String: [(ms: Int64, current: Double)]] = [:]
    /// Counts by status from the latest `stats`, and the latest event seq seen.
    var counts: JSONObject = [:]
    var seq = 0

    /// How far back the rate looks.
    static let rateWindowMs: Int64 = 10_000

    /// Takes a job from `list` or an event, unless what is known is newer. An event's job has no
    /// `waiting` (only `get` and `list` compute it): a job still in the same status keeps the one
    /// known, until the next `list` (`WatchCommand` asks every 2 s) brings a fresh one.
    mutating func learn(_ job: JSON) {
        guard let id = job["id"]?.stringValue else { return }
        var job = job
        if let known = jobs[id] {
            if let knownAt = known["updated_at"]?.stringValue, let newAt = job["updated_at"]?.stringValue,
                newAt < knownAt
            {
                return
            }
            if job["waiting"] == nil, let waiting = known["waiting"], known["status"] == job["status"],
                case .object(var object) = job
            {
                object["waiting"] = waiting
                job = .object(object)
            }
        }
        jobs[id] = job
        if job["status"]?.stringValue != "running" { samples[id] = nil }
    }

    mutating func apply(_ event: KernelEvent, nowMs: Int64) {
        seq = max(seq, event.seq)
        switch event.kind {
        case "job.created", "job.status":
            if let job = event.job { learn(job) }
        case "job.progress":
            guard let id = event.jobID, var job = jobs[id], case .object(var object) = job,
                let progress = event.data["progress"]
            else { return }
            object["progress"] = progress
            job = .object(object)
            jobs[id] = job
            if let current = progress["current"]?.doubleValue {
                var list = samples[id] ?? []
                list.append((nowMs, current))
                list.removeAll { nowMs - $0.ms > WatchView.rateWindowMs }
                samples[id] = list
            }
        default:
            break
        }
    }

    /// Units per second over the window, or nil before two samples.
    func rate(_ id: String) -> Double? {
        guard let list = samples[id], let first = list.first, let last = list.last, last.ms > first.ms
        else { return nil }
        let rate = (last.current - first.current) * 1000 / Double(last.ms - first.ms)
        return rate > 0 ? rate : nil
    }

    /// Running jobs first (newest first), then waiting ones (by priority), then the most recently
    /// updated finished ones.
    func ordered() -> [JSON] {
        func rank(_ job: JSON) -> Int {
            switch job["status"]?.stringValue {
            case "running": return 0
            case "pending": return 1
            case "scheduled": return 2
            default: return 3
            }
        }
        func numericID(_ job: JSON) -> Int { Int(job["id"]?.stringValue ?? "") ?? 0 }
        return jobs.values.sorted { a, b in
            let ra = rank(a), rb = rank(b)
            if ra != rb { return ra < rb }
            switch ra {
            case 0: return numericID(a) > numericID(b)
            case 1, 2:
                let pa = a["priority"]?.intValue ?? 0, pb = b["priority"]?.intValue ?? 0
                return pa != pb ? pa > pb : numericID(a) < numericID(b)
            default:
                let ua = a["updated_at"]?.stringValue ?? "", ub = b["updated_at"]?.stringValue ?? ""
                return ua != ub ? ua > ub : numericID(a) > numericID(b)
            }
        }
    }

    /// The screen: a header, column titles and one row per job, each at most `width` characters,
    /// at most `height` lines.
    func render(width: Int, height: Int, nowMs: Int64, title: String) -> [String] {
        let statusOrder = ["running", "pending", "scheduled", "success", "partial_success", "failed", "cancelled", "skipped"]
        let tally = statusOrder.compactMap { status -> String? in
            guard let n = counts[status]?.intValue, n > 0 else { return nil }
            return "\(n) \(status)"
        }
        var lines = [title + "   " + (tally.isEmpty ? "no jobs" : tally.joined(separator: ", ")) + "   seq \(seq)"]
        let rows = Array(ordered().prefix(max(0, height - 3)))
        let idWidth = max(2, rows.map { JobFormat.displayWidth($0["id"]?.stringValue ?? "") }.max() ?? 2)
        let typeWidth = min(16, max(4, rows.map { JobFormat.displayWidth($0["type"]?.stringValue ?? "") }.max() ?? 4))
        let statusWidth = 15
        func pad(_ s: String, _ w: Int) -> String {
            let t = JobFormat.truncate(s, to: w)
            return t + String(repeating: " ", count: max(0, w - JobFormat.displayWidth(t)))
        }
        func padLeft(_ s: String, _ w: Int) -> String {
            let t = JobFormat.truncate(s, to: w)
            return String(repeating: " ", count: max(0, w - JobFormat.displayWidth(t))) + t
        }
        // Right-hand fields in the order they are given up when the terminal is narrow.
        let right: [(title: String, width: Int, left: Bool, cell: (JSON) -> String)] = [
            ("PCT", 4, false, { JobFormat.percent($0) }),
            ("LABEL", 20, true, { JobFormat.label($0) }),
            ("DONE", 11, true, { JobFormat.counts($0["progress"]) ?? "" }),
            ("PHASE", 12, true, { $0["progress"]?["phase"]?.stringValue ?? "" }),
            ("RATE", 8, false, { job in
                guard let id = job["id"]?.stringValue, let r = rate(id) else { return "" }
                return WatchView.rateText(r)
            }),
            ("ETA", 5, false, { job in
                guard let id = job["id"]?.stringValue, let r = rate(id),
                    let current = job["progress"]?["current"]?.doubleValue,
                    let total = job["progress"]?["total"]?.doubleValue, total > current
                else { return "" }
                return JobFormat.duration(seconds: (total - current) / r)
            }),
            ("AGE", 4, false, { JobFormat.age($0["created_at"], now: nowMs) }),
        ]
        let leftWidth = idWidth + 2 + typeWidth + 2 + statusWidth + 2
        var kept = right.count
        func rightWidth(_ n: Int) -> Int { right.prefix(n).reduce(0) { $0 + $1.width + 2 } }
        let minBar = 12
        while kept > 1 && leftWidth + minBar + rightWidth(kept) > width { kept -= 1 }
        let barWidth = max(0, width - leftWidth - rightWidth(kept) - 2)

        func row(_ id: String, _ type: String, _ status: String, _ bar: String, _ cells: [String]) -> String {
            var line = pad(id, idWidth) + "  " + pad(type, typeWidth) + "  " + pad(status, statusWidth) + "  "
            line += pad(bar, barWidth)
            for (k, cell) in cells.enumerated() {
                line += "  " + (right[k].left ? pad(cell, right[k].width) : padLeft(cell, right[k].width))
            }
            return JobFormat.truncate(line, to: width)
        }
        lines.append(row("ID", "TYPE", "STATUS", "PROGRESS", right.prefix(kept).map(\.title)))
        for job in rows {
            lines.append(row(
                job["id"]?.stringValue ?? "?", job["type"]?.stringValue ?? "?", JobFormat.status(job),
                WatchView.progress(job, width: barWidth, nowMs: nowMs), right.prefix(kept).map { $0.cell(job) }))
        }
        if jobs.count > rows.count { lines.append("… \(jobs.count - rows.count) more") }
        return lines.map { JobFormat.truncate($0, to: width) }
    }

    /// What the PROGRESS cell shows: the bar, or for a waiting job (which has no progress yet)
    /// why it waits, in a few words: `(#3 in queue)`, `(paused)`, `(after 12)`, `(until 12:30)`.
    static func progress(_ job: JSON, width: Int, nowMs: Int64) -> String {
        if job["progress"]?["percent"]?.doubleValue == nil, let why = JobFormat.shortWaiting(job["waiting"], now: nowMs) {
            return "(\(why))"
        }
        return bar(job, width: width)
    }

    /// `[█████░░░░░]` filled to the job's percent; empty when it reports none.
    static func bar(_ job: JSON, width: Int) -> String {
        guard width >= 3 else { return "" }
        let inner = width - 2
        guard let percent = job["progress"]?["percent"]?.doubleValue else {
            if JobFormat.isTerminal(job) && job["status"]?.stringValue == "success" {
                return "[" + String(repeating: "█", count: inner) + "]"
            }
            return ""
        }
        let filled = min(inner, max(0, Int((percent / 100 * Double(inner)).rounded(.down))))
        return "[" + String(repeating: "█", count: filled) + String(repeating: "░", count: inner - filled) + "]"
    }

    /// `12.3/s`, `1.2k/s`, or `4/min` for slow work.
    static func rateText(_ perSecond: Double) -> String {
        if perSecond >= 1000 { return JobFormat.format1(perSecond / 1000) + "k/s" }
        if perSecond >= 1 { return JobFormat.format1(perSecond) + "/s" }
        return JobFormat.format1(perSecond * 60) + "/min"
    }

    /// One line for an event, for `watch` when stdout is not a terminal:
    /// `ts seq kind job_id detail`.
    static func eventLine(_ event: KernelEvent) -> String {
        let data = event.data
        var detail: String
        switch event.kind {
        case "job.created":
            detail = "\(event.job?["type"]?.stringValue ?? "?") \(event.job?["status"]?.stringValue ?? "?")"
        case "job.status":
            detail = "\(data["from"]?.stringValue ?? "?") -> \(data["to"]?.stringValue ?? "?")"
            if let message = event.job?["error"]?["message"]?.stringValue { detail += ": " + message }
        case "job.progress":
            let progress = data["progress"]
            var parts: [String] = []
            if let p = progress?["percent"]?.doubleValue { parts.append(JobFormat.format1(p) + "%") }
            if let c = JobFormat.counts(progress) { parts.append(c) }
            if let phase = progress?["phase"]?.stringValue { parts.append(phase) }
            if let message = progress?["message"]?.stringValue { parts.append(message) }
            if let item = data["item"]?.intValue { parts.append("item \(item)") }
            detail = parts.joined(separator: " ")
        case "job.log":
            detail = "\(data["level"]?.stringValue ?? "info") \(data["message"]?.stringValue ?? "")"
        case "item.status":
            detail = "item \(data["index"]?.intValue ?? -1) \(data["from"]?.stringValue ?? "?") -> \(data["to"]?.stringValue ?? "?")"
            if let message = data["error"]?["message"]?.stringValue { detail += ": " + message }
        case "settings.changed":
            detail = "\(data["key"]?.stringValue ?? "?") \(data["value"]?.compactString ?? "null")"
        default:
            detail = data.compactString
        }
        return "\(event.ts) \(event.seq) \(event.kind) \(event.jobID ?? "-") \(detail)"
    }
}


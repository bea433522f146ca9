import Glibc
import JobKernelCore

/// How jobs read on a terminal: the `status` table and summary, log lines, ages and progress.
/// Pure functions of the job JSON and the time, so the output is the same for the same input.
enum JobFormat {
    /// Milliseconds since the Unix epoch, from the wall clock.
    static func nowMs() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// `12s`, `5m`, `3h`, `2d`: how long ago `timestamp` (RFC 3339) was; `-` when unknown.
    static func age(_ timestamp: JSON?, now: Int64) -> String {
        guard let text = timestamp?.stringValue, let then = Timestamp.parse(text) else { return "-" }
        return duration(seconds: Double(max(0, now - then)) / 1000)
    }

    /// A short duration, whole units rounded down: `0s`, `12s`, `5m`, `3h`, `2d`.
    static func duration(seconds: Double) -> String {
        let s = Int(seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 86400 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }

    /// `30%` (rounded down, so 100% means done), or `-` when the job reports no total.
    static func percent(_ job: JSON) -> String {
        guard let percent = job["progress"]?["percent"]?.doubleValue else { return "-" }
        return "\(Int(percent.rounded(.down)))%"
    }

    /// `1/3`: the latest run's attempt of the most allowed.
    static func attempt(_ job: JSON) -> String {
        "\(job["attempt"]?.intValue ?? 0)/\(job["max_attempts"]?.intValue ?? 0)"
    }

    /// The status, marked when a cancel is pending: `running (cancelling)`.
    static func status(_ job: JSON) -> String {
        let status = job["status"]?.stringValue ?? "?"
        if job["cancel_requested"]?.boolValue == true && !isTerminal(job) { return status + " (cancelling)" }
        return status
    }

    /// The status as a table cell of `status` and `watch`: with why a waiting job waits, in a few
    /// words (`pending (paused)`, `pending (#3 in queue)`, `scheduled (after 12)`,
    /// `scheduled (until 12:30)`; `status ID` says it in a sentence).
    static func statusCell(_ job: JSON, now: Int64) -> String {
        let cell = status(job)
        guard let why = shortWaiting(job["waiting"], now: now) else { return cell }
        return "\(cell) (\(why))"
    }

    /// Why a job waits in a few words, from its `waiting` (docs/promises.md §13): `paused`,
    /// `#3 in queue`, `after 12`, `after 12 +2`, `until 12:30`, `toggle off`; nil when it does not.
    static func shortWaiting(_ waiting: JSON?, now: Int64) -> String? {
        guard let w = waiting, let reason = w["reason"]?.stringValue else { return nil }
        switch reason {
        case "pool_full":
            return w["position"]?.intValue.map { "#\($0) in queue" } ?? "queued"
        case "paused":
            return "paused"
        case "after":
            let ids = w["job_ids"]?.arrayValue?.compactMap(\.stringValue) ?? []
            guard let first = ids.first else { return "after jobs" }
            return "after \(first)" + (ids.count > 1 ? " +\(ids.count - 1)" : "")
        case "delayed":
            guard let until = w["until"]?.stringValue, let ms = Timestamp.parse(until) else { return "delayed" }
            return "until " + clock(ms, now: now)
        case "toggle_off":
            return "toggle off"
        default:
            return reason
        }
    }

    /// `12:30` in local time when `ms` is within 20 hours of `now`, else `12-08 12:30`.
    static func clock(_ ms: Int64, now: Int64) -> String {
        var seconds = time_t(ms / 1000)
        var t = tm()
        guard localtime_r(&seconds, &t) != nil else { return Timestamp.format(ms) }
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let hm = two(t.tm_hour) + ":" + two(t.tm_min)
        return abs(ms - now) < 20 * 3_600_000 ? hm : two(t.tm_mon + 1) + "-" + two(t.tm_mday) + " " + hm
    }

    static func isTerminal(_ job: JSON) -> Bool {
        job["status"]?.stringValue.flatMap(JobStatus.init(rawValue:))?.isTerminal ?? false
    }

    /// `3/10` or `3` (current of total), or nil when there is nothing to count.
    static func counts(_ progress: JSON?) -> String? {
        guard let current = progress?["current"]?.doubleValue else { return nil }
        let total = progress?["total"]?.doubleValue
        if total == nil && current == 0 { return nil }
        return total.map { "\(number(current))/\(number($0))" } ?? number(current)
    }

    /// `3`, or `2.5` for a fractional count.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    /// A log line as `ts level message`.
    static func logLine(ts: String, level: String, message: String) -> String {
        "\(ts) \(level) \(message)"
    }

    // MARK: - The status table

    /// A column of a table: its heading, how its cells are made, and whether it may be truncated.
    struct Column {
        var title: String
        var rightAligned = false
        /// Lower goes first when the terminal is too narrow.
        var keep: Int
        var cell: (JSON) -> String
    }

    /// The `status` table: one row per job, columns fitted to `width` (nil: no limit). Columns are
    /// dropped from the least useful until the rest fit, then TYPE is shortened.
    static func table(_ jobs: [JSON], width: Int?, now: Int64) -> [String] {
        var columns: [Column] = [
            Column(title: "ID", keep: 9) { $0["id"]?.stringValue ?? "?" },
            Column(title: "TYPE", keep: 8) { $0["type"]?.stringValue ?? "?" },
            Column(title: "STATUS", keep: 9) { statusCell($0, now: now) },
            Column(title: "PROGRESS", rightAligned: true, keep: 7) { percent($0) },
            Column(title: "ATTEMPT", rightAligned: true, keep: 5) { attempt($0) },
            Column(title: "AGE", rightAligned: true, keep: 6) { age($0["created_at"], now: now) },
            Column(title: "DURATION", rightAligned: true, keep: 4) { runTime($0, now: now) },
            Column(title: "FINISHED", rightAligned: true, keep: 3) { age($0["finished_at"], now: now) },
            Column(title: "LABEL", keep: 7) { label($0) },
        ]
        var cells = jobs.map { job in columns.map { $0.cell(job) } }
        func widths() -> [Int] {
            columns.indices.map { c in cells.reduce(columns[c].title.count) { max($0, displayWidth($1[c])) } }
        }
        var w = widths()
        func total() -> Int { w.reduce(0, +) + 2 * (w.count - 1) }
        if let width {
            while total() > width, columns.count > 3 {
                let drop = columns.indices.min { columns[$0].keep < columns[$1].keep }!
                columns.remove(at: drop)
                for r in cells.indices { cells[r].remove(at: drop) }
                w = widths()
            }
            for title in ["LABEL", "TYPE"] where total() > width {
                if let c = columns.firstIndex(where: { $0.title == title }) {
                    w[c] = max(title.count, w[c] - (total() - width))
                }
            }
        }
        let header = columns.map(\.title)
        return ([header] + cells).map { row in
            row.indices.map { c in
                let text = truncate(row[c], to: w[c])
                let pad = String(repeating: " ", count: max(0, w[c] - displayWidth(text)))
                if c == row.count - 1 { return columns[c].rightAligned ? pad + text : text }
                return columns[c].rightAligned ? pad + text : text + pad
            }.joined(separator: "  ")
        }
    }

    /// `text` made safe for one screen line (control characters become spaces), cut to `width`
    /// terminal columns with an ellipsis when wider.
    static func truncate(_ text: String, to width: Int) -> String {
        let text = sanitized(text)
        guard displayWidth(text) > width else { return text }
        var out = ""
        var used = 0
        let room = width > 1 ? width - 1 : width
        for ch in text {
            let w = displayWidth(ch)
            if used + w > room { break }
            out.append(ch)
            used += w
        }
        return width > 1 ? out + "…" : out
    }

    /// Control characters (newlines, escapes) would break the layout: they become spaces.
    static func sanitized(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
    }

    /// Terminal columns `text` takes: East Asian wide and fullwidth characters take two,
    /// combining marks none.
    static func displayWidth(_ text: String) -> Int {
        text.reduce(0) { $0 + displayWidth($1) }
    }

    static func displayWidth(_ ch: Character) -> Int {
        guard let first = ch.unicodeScalars.first else { return 0 }
        if first.properties.generalCategory == .nonspacingMark || first.properties.generalCategory == .enclosingMark { return 0 }
        switch first.value {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
             0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
             0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD:
            return 2
        default:
            return 1
        }
    }

    /// What `status` and `watch` show to tell jobs apart: the job's `label`, else a `command`
    /// job's command line, else a short summary of its payload (docs/promises.md §13).
    static func label(_ job: JSON) -> String {
        if let label = job["label"]?.stringValue, !label.isEmpty { return label }
        if let line = commandLine(job) { return line }
        return payloadSummary(job["payload"])
    }

    /// A `command` job's argv as a shell would read it back, or nil for another type.
    static func commandLine(_ job: JSON) -> String? {
        guard job["type"]?.stringValue == "command", let argv = job["payload"]?["argv"]?.arrayValue else { return nil }
        return commandLine(argv.map { $0.stringValue ?? $0.compactString })
    }

    /// `argv` joined with spaces, each argument a shell would split or expand single-quoted.
    static func commandLine(_ argv: [String]) -> String {
        argv.map { s in
            s.isEmpty || s.contains(where: { " \t\n'\"\\$`*?;&|<>()#~".contains($0) })
                ? "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" : s
        }.joined(separator: " ")
    }

    /// A payload in one short line: its compact JSON cut to 60 characters, nothing for `{}` or null.
    static func payloadSummary(_ payload: JSON?) -> String {
        guard let payload, !payload.isNull, payload != [:] else { return "" }
        let text = payload.compactString
        return text.count > 60 ? String(text.prefix(59)) + "…" : text
    }

    /// Why a pending or scheduled job has not started, from its `waiting` (docs/promises.md §13),
    /// as a sentence fragment with the command that would move it on; nil when it does not wait.
    static func waiting(_ waiting: JSON?, now: Int64) -> String? {
        guard let w = waiting, let reason = w["reason"]?.stringValue else { return nil }
        switch reason {
        case "pool_full":
            guard let n = w["position"]?.intValue else { return "pool full" }
            return n == 1 ? "pool full, next in line" : "pool full, \(ordinal(n)) in line"
        case "paused":
            let setting = w["setting"]?.stringValue ?? "paused.*"
            if setting == "paused.*" { return "everything is paused (`jobkernel resume` resumes it)" }
            let type = String(setting.dropFirst("paused.".count))
            return "type \(type) is paused (`jobkernel resume \(type)` resumes it)"
        case "after":
            let ids = w["job_ids"]?.arrayValue?.compactMap(\.stringValue) ?? []
            return "after job" + (ids.count == 1 ? " " : "s ") + ids.joined(separator: ", ")
        case "delayed":
            guard let until = w["until"]?.stringValue, let ms = Timestamp.parse(until) else { return "delayed" }
            return "delayed until \(until) (in \(duration(seconds: Double(max(0, ms - now)) / 1000)))"
        case "toggle_off":
            let toggle = w["toggle"]?.stringValue ?? "?"
            return "workflow toggle \(toggle) is off: it will be skipped when its turn comes "
                + "(`jobkernel settings workflow.\(toggle) true` turns it on)"
        default:
            return reason
        }
    }

    /// `1st`, `2nd`, `3rd`, `4th`, `11th`, `22nd`.
    static func ordinal(_ n: Int) -> String {
        let suffix: String
        switch (n % 10, n % 100) {
        case (_, 11...13): suffix = "th"
        case (1, _): suffix = "st"
        case (2, _): suffix = "nd"
        case (3, _): suffix = "rd"
        default: suffix = "th"
        }
        return "\(n)\(suffix)"
    }

    /// How long the latest run took (or has taken so far): `started_at` to `finished_at`, or to
    /// now while it runs; `-` when it never started.
    static func runTime(_ job: JSON, now: Int64) -> String {
        guard let started = job["started_at"]?.stringValue.flatMap(Timestamp.parse) else { return "-" }
        let end = job["finished_at"]?.stringValue.flatMap(Timestamp.parse) ?? now
        let ms = max(0, end - started)
        return ms < 10_000 ? format1(Double(ms) / 1000) + "s" : duration(seconds: Double(ms) / 1000)
    }

    // MARK: - One job

    /// `status ID`: a readable summary of one job, one `label  value` line per fact.
    static func summary(_ job: JSON, now: Int64) -> [String] {
        var lines: [(String, String)] = []
        let id = job["id"]?.stringValue ?? "?"
        let type = job["type"]?.stringValue ?? "?"
        var heading = "job \(id)  \(type)  \(status(job))"
        if let mode = job["dispatch_mode"]?.stringValue { heading += "  [\(mode)]" }
        let priority = job["priority"]?.intValue.map(String.init) ?? "?"
        lines.append(("priority", priority + (job["lane"]?.stringValue.map { " (\($0) lane)" } ?? "")))
        lines.append(("attempt", "\(job["attempt"]?.intValue ?? 0) of \(job["max_attempts"]?.intValue ?? 0)"))
        if let progress = job["progress"], !progress.isNull {
            var parts: [String] = []
            if let p = progress["percent"]?.doubleValue { parts.append(String(format1(p)) + "%") }
            if let c = counts(progress) { parts.append(c) }
            if let phase = progress["phase"]?.stringValue { parts.append("phase \(phase)") }
            if let message = progress["message"]?.stringValue { parts.append("\"\(message)\"") }
            if !parts.isEmpty { lines.append(("progress", parts.joined(separator: "  "))) }
        }
        if let items = job["items"]?.objectValue {
            let total = items["total"]?.intValue ?? 0
            let byStatus = ["pending", "running", "success", "failed", "cancelled"].compactMap { key -> String? in
                guard let n = items[key]?.intValue, n > 0 else { return nil }
                return "\(n) \(key)"
            }
            lines.append(("items", "\(total) total" + (byStatus.isEmpty ? "" : ": " + byStatus.joined(separator: ", "))))
        }
        if let children = job["children"]?.objectValue, let total = children["total"]?.intValue, total > 0 {
            let byStatus = children.filter { $0.key != "total" }.map { "\($0.value.intValue ?? 0) \($0.key)" }
            lines.append(("children", "\(total) total" + (byStatus.isEmpty ? "" : ": " + byStatus.joined(separator: ", "))))
        }
        if let why = waiting(job["waiting"], now: now) { lines.append(("waiting", why)) }
        if let label = job["label"]?.stringValue, !label.isEmpty { lines.append(("label", label)) }
        if let line = commandLine(job) {
            lines.append(("command", line))
            if let cwd = job["payload"]?["cwd"]?.stringValue { lines.append(("cwd", cwd)) }
        }
        if job["started_at"]?.stringValue != nil { lines.append(("duration", runTime(job, now: now))) }
        if let parent = job["parent_id"]?.stringValue { lines.append(("parent", parent)) }
        if let key = job["idempotency_key"]?.stringValue { lines.append(("key", key)) }
        if let by = job["created_by"]?.stringValue { lines.append(("created by", by + (job["manual"]?.boolValue == true ? " (manual)" : ""))) }
        for (label, field) in [("created", "created_at"), ("run at", "run_at"), ("started", "started_at"),
                               ("finished", "finished_at"), ("last activity", "last_activity_at")] {
            guard let ts = job[field]?.stringValue else { continue }
            lines.append((label, "\(ts)  (\(age(job[field], now: now)) ago)"))
        }
        if let error = job["error"], !error.isNull {
            var text = error["message"]?.stringValue ?? error.compactString
            if let code = error["code"], !code.isNull { text += "  (code \(code.stringValue ?? code.compactString))" }
            lines.append(("error", text))
        }
        if let result = job["result"], !result.isNull { lines.append(("result", result.compactString)) }
        if job["type"]?.stringValue == "command" {
            // The command line and cwd are shown above; of a `run` job's whole environment, a count.
            if let env = job["payload"]?["env"]?.objectValue {
                lines.append(("environment", "\(env.count) variables (`status --json` shows them)"))
            }
        } else if var payload = job["payload"]?.objectValue, let env = payload["env"]?.objectValue {
            // A `run` job carries the caller's whole environment: a count reads better than 40 names.
            payload["env"] = .string("(\(env.count) variables; `status --json` shows them)")
            lines.append(("payload", JSON.object(payload).compactString))
        } else if let payload = job["payload"] {
            lines.append(("payload", payload.compactString))
        }
        let labelWidth = lines.map(\.0.count).max() ?? 0
        return [heading] + lines.map { "  " + $0.0 + String(repeating: " ", count: labelWidth - $0.0.count + 2) + $0.1 }
    }

    /// One decimal: `30.0`, `66.7`.
    static func format1(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }
}

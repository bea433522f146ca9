import ArgumentParser
import JobKernelClient
import JobKernelCore

/// `jobkernel workers`: what runs now, the local pools' workers and the leases out.
struct WorkersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "Show the local pools' workers and the leases held by external workers.",
        discussion: """
            A table of the workers of every type the kernel runs itself (TYPE, PID, STATE, JOB, LABEL, \
            and FOR: how long it has been in its state). STATE is starting (no process yet), idle, busy \
            or stopping; a type with persistent workers lists them all, any other type its units in \
            flight, and a type with none shows one row with STATE `-`. Then a table of the leases out \
            (LEASE, JOB, TYPE, WORKER: the fetcher's client name, EXPIRES IN), or `no leases`. --json \
            prints the kernel's answer to `workers` (protocol/protocol.md).
            """)

    @OptionGroup var client: ClientOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        try client.withClient { kernel in
            let result = try kernel.call("workers")
            if json {
                Output.json(result)
                return
            }
            WorkersCommand.lines(result, now: JobFormat.nowMs()).forEach(Output.line)
        }
    }

    /// The two tables for `workers`'s answer at `now`.
    static func lines(_ result: JSON, now: Int64) -> [String] {
        var rows: [[String]] = []
        for pool in result["pools"]?.arrayValue ?? [] {
            let type = pool["type"]?.stringValue ?? "?"
            let workers = pool["workers"]?.arrayValue ?? []
            if workers.isEmpty { rows.append([type, "-", "-", "-", "-", "-"]) }
            for w in workers {
                let job = w["job"]
                rows.append([
                    type, w["pid"]?.intValue.map(String.init) ?? "-", w["state"]?.stringValue ?? "?",
                    job?["id"]?.stringValue ?? "-", job?["label"]?.stringValue ?? "-",
                    JobFormat.age(w["since"], now: now),
                ])
            }
        }
        var out = rows.isEmpty ? ["no local pools"] : table(["TYPE", "PID", "STATE", "JOB", "LABEL", "FOR"], rows)
        out.append("")
        let leases = result["leases"]?.arrayValue ?? []
        if leases.isEmpty {
            out.append("no leases")
        } else {
            out += table(["LEASE", "JOB", "TYPE", "WORKER", "EXPIRES IN"], leases.map { lease in
                [lease["lease"]?.stringValue ?? "?", lease["job"]?["id"]?.stringValue ?? "?",
                 lease["job"]?["type"]?.stringValue ?? "-", lease["worker"]?.stringValue ?? "-",
                 expiresIn(lease["expires_at"], now: now)]
            })
        }
        return out
    }

    /// How long until `timestamp`: `25s`, `4m`; `0s` once past.
    static func expiresIn(_ timestamp: JSON?, now: Int64) -> String {
        guard let text = timestamp?.stringValue, let at = Timestamp.parse(text) else { return "-" }
        return JobFormat.duration(seconds: Double(max(0, at - now)) / 1000)
    }

    /// Columns padded to their widest cell, two spaces apart; a cell wider than 40 columns is cut.
    static func table(_ header: [String], _ rows: [[String]]) -> [String] {
        let cells = [header] + rows.map { $0.map { JobFormat.truncate($0, to: 40) } }
        let widths = header.indices.map { c in cells.map { JobFormat.displayWidth($0[c]) }.max() ?? 0 }
        return cells.map { row in
            row.indices.map { c in
                c == row.count - 1 ? row[c] : row[c] + String(repeating: " ", count: widths[c] - JobFormat.displayWidth(row[c]))
            }.joined(separator: "  ")
        }
    }
}

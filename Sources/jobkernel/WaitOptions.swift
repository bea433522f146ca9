import ArgumentParser
import Glibc
import JobKernelClient
import JobKernelCore
import JobKernelIO
import Synchronization

/// `--wait` / `--follow` for commands that create a job (`enqueue`, `run`).
struct WaitOptions: ParsableArguments {
    @Flag(help: "Block until the job is terminal; print its final status; exit 0 only on success.")
    var wait = false

    @Flag(help: "Like --wait, and stream the job's log to stdout and its progress to stderr meanwhile.")
    var follow = false

    var waits: Bool { wait || follow }

    /// Waits for `id` and reports how it ended. With `json`, stdout gets only the final job and
    /// everything followed goes to stderr. Throws exit code 1 unless the job ended in `success`.
    func finish(_ client: KernelClient, id: String, json: Bool) throws {
        let renderer = FollowRenderer(logsToStdout: !json)
        let job = try client.waitForJob(id: id, follow: follow) { event in
            if follow { renderer.show(event) }
        }
        renderer.clearProgress()
        let status = job["status"]?.stringValue ?? "?"
        let message = job["error"]?["message"]?.stringValue
        if json {
            Output.json(job)
        } else if !follow {
            Output.line(status)
        }
        if follow || status != "success" {
            Output.error("job \(id) \(status)" + (message.map { ": \($0)" } ?? ""))
        }
        if status != "success" { throw ExitCode.kernelError }
    }
}

/// Shows a followed job's events: log lines as `ts level message`, status changes as lines on
/// stderr, and progress as one line on stderr, redrawn in place on a terminal.
final class FollowRenderer {
    private let logsToStdout: Bool
    private let inPlace = Output.stderrIsTerminal
    private var progressShown = false

    init(logsToStdout: Bool) {
        self.logsToStdout = logsToStdout
    }

    func show(_ event: KernelEvent) {
        let id = event.jobID ?? "?"
        switch event.kind {
        case "job.log":
            clearProgress()
            let text = JobFormat.logLine(
                ts: event.ts, level: event.data["level"]?.stringValue ?? "info",
                message: event.data["message"]?.stringValue ?? "")
            if logsToStdout { Output.line(text) } else { Output.errorLine(text) }
        case "job.status":
            clearProgress()
            let from = event.data["from"]?.stringValue ?? "?"
            let to = event.data["to"]?.stringValue ?? "?"
            Output.error("job \(id) \(from) -> \(to)")
        case "job.progress":
            var parts = ["job \(id)"]
            let progress = event.data["progress"]
            if let p = progress?["percent"]?.doubleValue { parts.append(JobFormat.format1(p) + "%") }
            if let c = JobFormat.counts(progress) { parts.append(c) }
            if let phase = progress?["phase"]?.stringValue { parts.append(phase) }
            if let message = progress?["message"]?.stringValue { parts.append(message) }
            let text = parts.joined(separator: "  ")
            if inPlace {
                let width = Output.terminalSize(STDERR_FILENO)?.columns ?? 80
                StandardStream.error.write("\r\u{1B}[K" + JobFormat.truncate(text, to: width - 1))
                progressShown = true
            } else {
                Output.errorLine("jobkernel: " + text)
            }
        case "item.status":
            guard event.data["to"]?.stringValue == "failed" else { return }
            clearProgress()
            let index = event.data["index"]?.intValue.map(String.init) ?? "?"
            let message = event.data["error"]?["message"]?.stringValue
            Output.error("job \(id) item \(index) failed" + (message.map { ": \($0)" } ?? ""))
        default:
            break
        }
    }

    /// Erases the in-place progress line before other output.
    func clearProgress() {
        if progressShown {
            StandardStream.error.write("\r\u{1B}[K")
            progressShown = false
        }
    }
}

/// `--timeout D` of `wait` and `logs -f`: when the time runs out before the job ends, says which
/// job has not ended and in what status ("job 12 still running after 5s") and exits 124, as
/// timeout(1) does; the job goes on. The note is written by a SIGALRM handler, so every one it may
/// need is made beforehand.
enum WaitTimeout {
    /// The exit code when the time runs out.
    static let exitCode: Int32 = 124

    /// The notes, `job × 3 + phase` (pending, scheduled, running). `nonisolated(unsafe)`: set once
    /// on the main thread before the timer is armed, and only read after (by the handler).
    nonisolated(unsafe) private static var notes: [UnsafeMutableBufferPointer<CChar>] = []
    /// Which note says what is waited for now.
    private static let current = Atomic<Int>(0)

    /// Arms the timer for `seconds` while waiting for `ids`, the first of them first.
    static func arm(seconds: Double, ids: [String]) {
        let after = seconds == seconds.rounded() ? "\(Int(seconds))s" : JobFormat.format1(seconds) + "s"
        notes = SignalNotes.prepare(ids.flatMap { id in
            ["pending", "scheduled", "running"].map { status in "jobkernel: job \(id) still \(status) after \(after)\n" }
        })
        signal(SIGALRM) { _ in
            SignalNotes.write(WaitTimeout.notes, WaitTimeout.current.load(ordering: .relaxed))
            _exit(WaitTimeout.exitCode)
        }
        let whole = Int(seconds.rounded(.down))
        var timer = itimerval()
        timer.it_value = timeval(tv_sec: whole, tv_usec: Int(((seconds - Double(whole)) * 1_000_000).rounded()))
        if timer.it_value.tv_sec == 0 && timer.it_value.tv_usec == 0 { timer.it_value.tv_usec = 1 }
        setitimer(__itimer_which_t(ITIMER_REAL.rawValue), &timer, nil)
    }

    /// Waiting now for the `index`th job, which is in `status`.
    static func waiting(_ index: Int, status: String?) {
        let phase = status == "pending" ? 0 : status == "scheduled" ? 1 : 2
        current.store(index * 3 + phase, ordering: .relaxed)
    }

    /// Keeps the note current from a followed job's status changes.
    static func noteStatus(of event: KernelEvent, index: Int) {
        guard event.kind == "job.status", let to = event.data["to"]?.stringValue else { return }
        waiting(index, status: to)
    }
}

/// Notes a signal handler writes before it exits: made beforehand, since a handler may not
/// allocate, and written with one `write(2)`, which a handler may call.
enum SignalNotes {
    /// Each text in a buffer of its own, kept for the life of the process.
    static func prepare(_ texts: [String]) -> [UnsafeMutableBufferPointer<CChar>] {
        texts.map { text in
            let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: text.utf8.count)
            _ = buffer.initialize(from: text.utf8.map { CChar(bitPattern: $0) })
            return buffer
        }
    }

    /// Writes note `i` to stderr, if there is one; safe in a signal handler.
    static func write(_ notes: [UnsafeMutableBufferPointer<CChar>], _ i: Int) {
        if notes.indices.contains(i) { _ = Glibc.write(2, notes[i].baseAddress, notes[i].count) }
    }
}

import Testing
@testable import JobKernelCore

/// protocol/protocol.md, logs: a job's log marks where each run after the first begins
/// (`── attempt 2 ──`), and where a `retry` starts its runs again (`── retried ──`).
struct AttemptMarkerTests {
    typealias R = JobReducerTests

    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        var items: Int?
        var events: [(JobEvent, Int?)]
        /// The log lines the last event appends.
        var logged: [String]
        var testDescription: String { name }
    }

    static let fail = JobEvent.unitFailed(index: 0, error: JobError(message: "boom"), retryable: true)

    static let table: [Row] = [
        Row(name: "the first attempt has no marker", events: [(.unitStarted(index: 0), 0)], logged: []),
        Row(name: "the second attempt is marked",
            events: [(.unitStarted(index: 0), 0), (fail, 0), (.unitBackoffElapsed(index: 0), 0), (.unitStarted(index: 0), 0)],
            logged: ["── attempt 2 ──"]),
        Row(name: "a rerun after an interruption is marked with its attempt",
            events: [(.unitStarted(index: 0), 0), (.unitInterrupted(index: 0), 0), (.unitStarted(index: 0), 0)],
            logged: ["── attempt 1, again after an interruption ──"]),
        Row(name: "an item's attempt names the item", items: 2,
            events: [(.unitStarted(index: 0), 0), (.unitFailed(index: 0, error: JobError(message: "boom"), retryable: true), 0),
                     (.unitBackoffElapsed(index: 0), 0), (.unitStarted(index: 0), 0)],
            logged: ["── item 0, attempt 2 ──"]),
        Row(name: "a retry is marked where it starts",
            events: [(.unitStarted(index: 0), 0), (.unitFailed(index: 0, error: JobError(message: "boom"), retryable: false), 0),
                     (.retryRequested, nil)],
            logged: ["── retried ──"]),
        Row(name: "the first run after a retry is attempt 1 again, unmarked",
            events: [(.unitStarted(index: 0), 0), (.unitFailed(index: 0, error: JobError(message: "boom"), retryable: false), 0),
                     (.retryRequested, nil), (.unitStarted(index: 0), 0)],
            logged: []),
    ]

    @Test(arguments: table)
    func marker(row: Row) throws {
        var run = R.Run(R.job(items: row.items))
        for (event, index) in row.events { try run.send(event, index: index) }
        let logged = run.effects.compactMap { effect -> String? in
            if case .appendLog(let level, let message) = effect, level == "info" { return message }
            return nil
        }
        #expect(logged == row.logged)
    }
}

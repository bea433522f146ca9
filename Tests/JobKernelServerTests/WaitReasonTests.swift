import JobKernelCore
import Testing
@testable import JobKernelServer

/// Why a job waits (docs/promises.md §13, the job object's `waiting`): `WaitReason.of` from the
/// facts the kernel gathers, and a job's place in its type's queue (`UnitQueues.positions`).
@Suite struct WaitReasonTests {
    typealias Facts = WaitReason.Facts
    static let now: Millis = 1_000_000

    static let table: [(String, Facts, WaitReason?)] = [
        ("running: not waiting", Facts(status: .running, now: now, position: 3), nil),
        ("success: not waiting", Facts(status: .success, now: now), nil),
        ("cancelled: not waiting", Facts(status: .cancelled, now: now, pausedBy: "paused.*"), nil),
        ("queued behind others", Facts(status: .pending, now: now, position: 3), .poolFull(position: 3)),
        ("next in line", Facts(status: .pending, now: now, position: 1), .poolFull(position: 1)),
        ("not found in the queue", Facts(status: .pending, now: now), .poolFull(position: nil)),
        ("type paused", Facts(status: .pending, now: now, pausedBy: "paused.build", position: 1),
         .paused(setting: "paused.build")),
        ("everything paused", Facts(status: .pending, now: now, pausedBy: "paused.*", position: 2),
         .paused(setting: "paused.*")),
        ("requires a toggle that is off", Facts(status: .pending, now: now, toggleOff: "publishing", position: 1),
         .toggleOff("publishing")),
        ("a pause goes before a toggle", Facts(status: .pending, now: now, pausedBy: "paused.*", toggleOff: "t"),
         .paused(setting: "paused.*")),
        ("after jobs, lowest id first", Facts(status: .scheduled, now: now, dependencies: [9, 4]), .after([4, 9])),
        ("after goes before run_at", Facts(status: .scheduled, now: now, runAt: now + 5, dependencies: [4]), .after([4])),
        ("run_at ahead", Facts(status: .scheduled, now: now, runAt: now + 5_000), .delayed(until: now + 5_000)),
        ("run_at ahead goes before a pause", Facts(status: .scheduled, now: now, runAt: now + 1, pausedBy: "paused.*"),
         .delayed(until: now + 1)),
        ("run_at passed: the queue", Facts(status: .pending, now: now, runAt: now - 1, position: 2), .poolFull(position: 2)),
        ("backoff with nothing queued", Facts(status: .scheduled, now: now, backoffUntil: now + 700), .delayed(until: now + 700)),
        ("backoff of one item while another is queued", Facts(status: .pending, now: now, backoffUntil: now + 700, position: 4),
         .poolFull(position: 4)),
    ]

    @Test(arguments: table)
    func reason(_ name: String, _ facts: Facts, _ expected: WaitReason?) {
        #expect(WaitReason.of(facts) == expected, "\(name)")
    }

    @Test func jsonShapes() {
        #expect(WaitReason.poolFull(position: 3).json == ["reason": "pool_full", "position": 3])
        #expect(WaitReason.poolFull(position: nil).json == ["reason": "pool_full", "position": .null])
        #expect(WaitReason.paused(setting: "paused.*").json == ["reason": "paused", "setting": "paused.*"])
        #expect(WaitReason.after([4, 12]).json == ["reason": "after", "job_ids": ["4", "12"]])
        #expect(WaitReason.delayed(until: 0).json == ["reason": "delayed", "until": "1970-01-01T00:00:00.000Z"])
        #expect(WaitReason.toggleOff("publishing").json == ["reason": "toggle_off", "toggle": "publishing"])
    }

    static func queues(_ units: [(priority: Int, job: Int64, index: Int)]) -> UnitQueues {
        var q = UnitQueues()
        for u in units { q.push(type: "t", QueuedUnit(priority: u.priority, jobID: u.job, index: u.index)) }
        q.push(type: "other", QueuedUnit(priority: 99, jobID: 1, index: 0))  // another type's units never count
        return q
    }

    /// (units queued, jobs asked about, places expected)
    static let positionTable: [([(priority: Int, job: Int64, index: Int)], [(jobID: Int64, priority: Int)], [Int64: Int])] = [
        ([(50, 5, 0)], [(5, 50)], [5: 1]),
        ([(50, 3, 0), (50, 4, 0), (50, 5, 0)], [(5, 50)], [5: 3]),
        ([(50, 3, 0), (50, 4, 0), (50, 5, 0)], [(3, 50), (4, 50), (5, 50)], [3: 1, 4: 2, 5: 3]),
        // Higher priority first, whatever the age.
        ([(50, 3, 0), (90, 8, 0), (50, 5, 0)], [(8, 90), (5, 50), (3, 50)], [8: 1, 3: 2, 5: 3]),
        // Every item of an older job is ahead; a job's own items are not.
        ([(50, 3, 0), (50, 3, 1), (50, 3, 2), (50, 6, 0), (50, 6, 1)], [(6, 50), (3, 50)], [3: 1, 6: 4]),
        // A job with nothing queued has no place; nor has a type with no queue.
        ([(50, 3, 0)], [(7, 50)], [:]),
        ([], [(7, 50)], [:]),
    ]

    @Test(arguments: positionTable)
    func positions(_ units: [(priority: Int, job: Int64, index: Int)], _ asked: [(jobID: Int64, priority: Int)], _ expected: [Int64: Int]) {
        #expect(Self.queues(units).positions(type: "t", of: asked) == expected)
    }

    /// Asking about many jobs at once gives each the place it gets when asked about alone.
    @Test func manyAtOnceAgreeWithOneByOne() {
        var units: [(priority: Int, job: Int64, index: Int)] = []
        var rng = SystemRandomNumberGenerator()
        for job in Int64(1)...60 {
            let priority = [10, 50, 90].randomElement(using: &rng)!
            for i in 0..<Int.random(in: 1...3, using: &rng) { units.append((priority, job, i)) }
        }
        let q = Self.queues(units)
        let asked = Dictionary(units.map { ($0.job, $0.priority) }, uniquingKeysWith: { a, _ in a }).map { (jobID: $0.key, priority: $0.value) }
        let all = q.positions(type: "t", of: asked)
        #expect(all.count == 60)
        for a in asked { #expect(q.positions(type: "t", of: [a])[a.jobID] == all[a.jobID]) }
        #expect(Set(all.values).contains(1))
    }
}

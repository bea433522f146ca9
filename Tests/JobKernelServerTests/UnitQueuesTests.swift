import JobKernelCore
import Testing
@testable import JobKernelServer

/// A type's queue held a window at a time (docs/architecture.md, "The ready queues"): which new
/// jobs come after the tail (and stay in the store), and when a queue asks to be read further.
@Suite struct UnitQueuesTests {
    @Test(arguments: [
        // (tail priority, tail job, new job's priority, new job's id, beyond the tail?)
        (50, Int64(100), 50, Int64(101), true),    // same priority, younger: after
        (50, 100, 50, 99, false),                  // same priority, older (a retry): before
        (50, 100, 90, 500, false),                 // higher priority: before, whatever its age
        (50, 100, 10, 1, true),                    // lower priority: after, whatever its age
        (90, 7, 50, 8, true),
    ] as [(Int, Int64, Int, Int64, Bool)])
    func aNewJobIsBeyondTheTailExactlyWhenItComesAfterItInQueueOrder(
        tailPriority: Int, tailJob: Int64, priority: Int, id: Int64, beyond: Bool
    ) {
        var q = UnitQueues(window: 16)
        q.setTail(type: "a", (tailPriority, tailJob))
        #expect(q.isBeyondTail(type: "a", priority: priority, jobID: id) == beyond)
        #expect(!q.isBeyondTail(type: "b", priority: priority, jobID: id), "a type without a tail holds everything")
    }

    @Test func aQueueWithATailAsksToBeReadFurtherOnceBelowHalfItsWindow() {
        var q = UnitQueues(window: 8)
        q.push(type: "a", contentsOf: (1...8).map { QueuedUnit(priority: 50, jobID: $0, index: 0) })
        q.setTail(type: "a", (50, 8))
        #expect(q.lowTypes.isEmpty)
        for expected in Int64(1)...4 {
            #expect(q.popMax(type: "a")?.jobID == expected)
        }
        #expect(q.lowTypes.isEmpty, "4 left of a window of 8: not yet below half")
        _ = q.popMax(type: "a")
        #expect(q.takeLowTypes() == ["a"])
        #expect(q.lowTypes.isEmpty, "taken once")
        // The read reached the end of the store: no tail, no more asking.
        q.setTail(type: "a", nil)
        while q.popMax(type: "a") != nil {}
        #expect(q.lowTypes.isEmpty)
    }

    @Test func aFailedReadAsksAgainAndKeepsTheTail() {
        var q = UnitQueues(window: 8)
        q.push(type: "a", QueuedUnit(priority: 50, jobID: 1, index: 0))
        q.setTail(type: "a", (50, 1))
        #expect(q.takeLowTypes() == ["a"])
        q.readAgainLater(type: "a")  // the store could not be read
        #expect(q.takeLowTypes() == ["a"])
        #expect(q.tails["a"]! == (50, 1))
        q.readAgainLater(type: "b")  // no tail: nothing in the store to read
        #expect(q.lowTypes.isEmpty)
    }

    @Test func removeAllForgetsUnitsAndTails() {
        var q = UnitQueues(window: 4)
        q.push(type: "a", QueuedUnit(priority: 50, jobID: 1, index: 0))
        q.setTail(type: "a", (50, 1))
        q.removeAll()
        #expect(q.count(type: "a") == 0 && q.tails.isEmpty && q.lowTypes.isEmpty)
        #expect(q.window == 4)
    }

    @Test func aQueuePastTwoWindowsDropsItsLastJobsAndMovesItsTailUp() {
        var q = UnitQueues(window: 4)
        for id in Int64(1)...9 { q.push(type: "a", QueuedUnit(priority: 50, jobID: id, index: 0)) }
        #expect(q.count(type: "a") == 4, "9 > 2 windows: cut back to one window")
        #expect(q.tails["a"]! == (50, 4))
        #expect(q.isBeyondTail(type: "a", priority: 50, jobID: 10))
        #expect(!q.isBeyondTail(type: "a", priority: 60, jobID: 10))
        for expected in Int64(1)...4 { #expect(q.popMax(type: "a")?.jobID == expected) }
    }

    @Test func anItemizedUnitIsNeverDroppedAndStopsTheCut() {
        var q = UnitQueues(window: 2)
        // The worst unit is an item (low priority): nothing after it can be dropped either.
        q.push(type: "a", QueuedUnit(priority: 1, jobID: 1, index: 3, itemized: true))
        for id in Int64(2)...5 { q.push(type: "a", QueuedUnit(priority: 50, jobID: id, index: 0)) }
        #expect(q.count(type: "a") == 5)
        #expect(q.tails["a"] == nil)
    }

    @Test func anOlderTailIsKeptWhenTheCutKeepsUnitsBeyondIt() {
        var q = UnitQueues(window: 2)
        q.setTail(type: "a", (50, 2))
        // Units pushed for other reasons (retries) may lie beyond the tail; the tail never moves back.
        for id in Int64(1)...5 { q.push(type: "a", QueuedUnit(priority: 50, jobID: id, index: 0)) }
        #expect(q.count(type: "a") == 2)
        #expect(q.tails["a"]! == (50, 2))
    }
}

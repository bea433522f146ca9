import JobKernelCore
import Testing

@testable import JobKernelWeb

/// `GET /events?ids=&types=&kinds=&since=` and `Last-Event-ID` (docs/promises.md §14).
struct EventQueryTests {
    @Test func filtersAreCommaSeparatedOrRepeated() throws {
        let query = try EventQuery(
            query: [("ids", "1,2"), ("ids", "3"), ("types", "thumb"), ("kinds", "job.status,job.log"), ("token", "x")],
            lastEventID: nil)
        #expect(query.ids == ["1", "2", "3"])
        #expect(query.types == ["thumb"])
        #expect(query.kinds == ["job.status", "job.log"])
        #expect(query.since == nil)
        #expect(query.subscribeParams(after: nil) == ["ids": ["1", "2", "3"], "types": ["thumb"], "kinds": ["job.status", "job.log"]])
    }

    @Test func lastEventIDWinsOverSince() throws {
        // EventSource reconnects to the URL it was given, ?since= included, with the header.
        let query = try EventQuery(query: [("since", "10")], lastEventID: "25")
        #expect(query.since == 25)
        #expect(query.subscribeParams(after: 30) == ["since": 30])
    }

    @Test(arguments: [("since", "-1"), ("since", "abc"), ("since", "")])
    func aBadSinceIsRefusedByName(key: String, value: String) {
        #expect(throws: EventQueryError.self) { try EventQuery(query: [(key, value)], lastEventID: nil) }
    }

    @Test func aBadLastEventIDIsRefused() {
        #expect(throws: EventQueryError.self) { try EventQuery(query: [], lastEventID: "x1") }
    }
}

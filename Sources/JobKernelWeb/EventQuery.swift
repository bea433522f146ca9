import JobKernelCore

/// What a browser asked `GET /events` for: the filters of `subscribe` and where to resume.
struct EventQuery: Equatable, Sendable {
    var ids: [String] = []
    var types: [String] = []
    var kinds: [String] = []
    /// The last seq the client has; events after it come first. `Last-Event-ID` wins over
    /// `?since=`, because a browser's EventSource reconnects to the same URL with the header.
    var since: Int?

    /// Reads `ids`, `types`, `kinds` (comma-separated, or repeated) and `since` from the query,
    /// and `Last-Event-ID`. Throws a message naming the bad parameter.
    init(query: [(String, String)], lastEventID: String?) throws(EventQueryError) {
        for (key, value) in query {
            let values = value.split(separator: ",").map { String($0) }.filter { !$0.isEmpty }
            switch key {
            case "ids": ids += values
            case "types": types += values
            case "kinds": kinds += values
            case "since":
                guard let number = Int(value), number >= 0 else {
                    throw EventQueryError("since must be a seq (an integer ≥ 0), got \"\(value)\"")
                }
                since = number
            default:
                continue  // `token` and anything a proxy adds
            }
        }
        if let lastEventID, !lastEventID.isEmpty {
            guard let number = Int(lastEventID.trimmingSpaces), number >= 0 else {
                throw EventQueryError("Last-Event-ID must be a seq (an integer ≥ 0), got \"\(lastEventID)\"")
            }
            since = number
        }
    }

    /// The `subscribe` params (docs/promises.md §6), resuming after `cursor` when there is one.
    func subscribeParams(after cursor: Int?) -> JSON {
        var params = JSONObject()
        if !ids.isEmpty { params["ids"] = .array(ids.map { .string($0) }) }
        if !types.isEmpty { params["types"] = .array(types.map { .string($0) }) }
        if !kinds.isEmpty { params["kinds"] = .array(kinds.map { .string($0) }) }
        if let cursor { params["since"] = .int(cursor) }
        return .object(params)
    }
}

/// A `GET /events` parameter that cannot be read.
struct EventQueryError: Error, Equatable {
    let message: String
    init(_ message: String) { self.message = message }
}

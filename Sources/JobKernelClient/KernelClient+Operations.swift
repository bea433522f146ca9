import JobKernelCore

/// Typed helpers for the operations of docs/promises.md §13 and §8.7.
extension KernelClient {
    /// One page of a job's per-item results: `{items:[{index,value,status,attempt,result,error,
    /// started_at,finished_at}], next}`.
    public func items(id: String, status: String? = nil, since: Int? = nil, limit: Int? = nil) throws(ClientError) -> JSON {
        var params: JSONObject = ["id": .string(id)]
        if let status { params["status"] = .string(status) }
        if let since { params["since"] = .int(since) }
        if let limit { params["limit"] = .int(limit) }
        return try call("items", .object(params))
    }

    /// Removes finished jobs (and their finished descendants); returns `{removed}`.
    public func remove(ids: [String]) throws(ClientError) -> JSON {
        try call("remove", ["ids": .array(ids.map { .string($0) })])
    }

    /// Removes every finished job matching the filters; returns `{removed}` once done.
    public func clean(statuses: [String]? = nil, types: [String]? = nil, olderThanSeconds: Double? = nil) throws(ClientError) -> JSON {
        var params: JSONObject = [:]
        if let statuses, !statuses.isEmpty { params["status"] = .array(statuses.map { .string($0) }) }
        if let types, !types.isEmpty { params["type"] = .array(types.map { .string($0) }) }
        if let olderThanSeconds { params["older_than_s"] = .double(olderThanSeconds) }
        return try call("clean", .object(params))
    }

    /// Pauses dispatch of `type` (every type when nil); returns the settings.
    public func pause(type: String? = nil) throws(ClientError) -> JSON {
        try call("pause", type.map { ["type": .string($0)] } ?? [:])
    }

    /// Resumes dispatch of `type` (every type when nil); returns the settings.
    public func resume(type: String? = nil) throws(ClientError) -> JSON {
        try call("resume", type.map { ["type": .string($0)] } ?? [:])
    }
}

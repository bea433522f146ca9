import JobKernelCore

/// Typed helpers over `call` for the methods of docs/promises.md §6. Each returns the method's result as JSON.
extension KernelClient {
    /// Names this connection; its name becomes the default `created_by` of the jobs it enqueues.
    @discardableResult
    public func initialize(name: String, version: String? = nil) throws(ClientError) -> JSON {
        var client: JSONObject = ["name": .string(name)]
        if let version { client["version"] = .string(version) }
        return try call("initialize", ["client": .object(client)])
    }

    /// Enqueues a job; returns `{job, duplicate}` once the job is committed.
    /// `extra` carries any other `enqueue` parameter (`run_at`, `delay_s`, `parent_id`, …).
    public func enqueue(
        type: String, payload: JSON? = nil, items: [JSON]? = nil, priority: Int? = nil,
        idempotencyKey: String? = nil, extra: JSONObject = [:]
    ) throws(ClientError) -> JSON {
        var params: JSONObject = ["type": .string(type)]
        if let payload { params["payload"] = payload }
        if let items { params["items"] = .array(items) }
        if let priority { params["priority"] = .int(priority) }
        if let idempotencyKey { params["idempotency_key"] = .string(idempotencyKey) }
        for (key, value) in extra { params[key] = value }
        return try call("enqueue", .object(params))
    }

    /// The job with this id.
    public func get(id: String) throws(ClientError) -> JSON {
        try call("get", ["id": .string(id)])
    }

    /// One page of jobs, newest first: `{jobs, next_cursor}`. Each filter is OR over its values.
    public func list(
        status: [String]? = nil, type: [String]? = nil, limit: Int? = nil, cursor: JSON? = nil
    ) throws(ClientError) -> JSON {
        var params: JSONObject = [:]
        if let status { params["status"] = .array(status.map { .string($0) }) }
        if let type { params["type"] = .array(type.map { .string($0) }) }
        if let limit { params["limit"] = .int(limit) }
        if let cursor, !cursor.isNull { params["cursor"] = cursor }
        return try call("list", .object(params))
    }

    /// Cancels a job (and its descendants); returns the job as it is now.
    public func cancel(id: String, reason: String? = nil) throws(ClientError) -> JSON {
        var params: JSONObject = ["id": .string(id)]
        if let reason { params["reason"] = .string(reason) }
        return try call("cancel", .object(params))
    }

    /// Runs a failed, cancelled or partially successful job's unfinished units again.
    public func retry(id: String) throws(ClientError) -> JSON {
        try call("retry", ["id": .string(id)])
    }

    /// One page of a job's log: `{lines:[{seq,ts,level,message}], next}`.
    public func logs(id: String, since: Int = 0, limit: Int? = nil) throws(ClientError) -> JSON {
        var params: JSONObject = ["id": .string(id), "since": .int(since)]
        if let limit { params["limit"] = .int(limit) }
        return try call("logs", .object(params))
    }

    /// Subscribes to events; returns `{subscription, seq, jobs?}`. Events then arrive through
    /// `nextNotification` as `event` notifications (see `KernelEvent`).
    public func subscribe(
        ids: [String]? = nil, types: [String]? = nil, kinds: [String]? = nil, since: Int? = nil
    ) throws(ClientError) -> JSON {
        var params: JSONObject = [:]
        if let ids { params["ids"] = .array(ids.map { .string($0) }) }
        if let types { params["types"] = .array(types.map { .string($0) }) }
        if let kinds { params["kinds"] = .array(kinds.map { .string($0) }) }
        if let since { params["since"] = .int(since) }
        return try call("subscribe", .object(params))
    }

    /// Ends a subscription and forgets the events of it that were already buffered.
    public func unsubscribe(_ subscription: String) throws(ClientError) {
        try call("unsubscribe", ["subscription": .string(subscription)])
        dropNotifications(subscription: subscription)
    }

    /// True for the statuses a job does not leave on its own (docs/promises.md §5).
    public static func isTerminal(status: String?) -> Bool {
        status.flatMap(JobStatus.init(rawValue:))?.isTerminal ?? false
    }

    /// Blocks until the job `id` is terminal and returns it.
    ///
    /// Subscribes with `ids: [id]` and reads the job's snapshot from the subscribe result, so a job
    /// that already ended is seen without a race. With `follow`, `onEvent` first receives the job's
    /// log lines written so far (as `job.log` events with `seq` 0, read with `logs`), then every
    /// live `job.status`, `job.progress`, `job.log` and `item.status` event, with no log line twice;
    /// without it, `onEvent` receives the `job.status` events. A subscription the kernel drops is
    /// resumed with `since`. Notifications of other subscriptions stay queued for the caller.
    public func waitForJob(
        id: String, follow: Bool = false, onEvent: ((KernelEvent) -> Void)? = nil
    ) throws(ClientError) -> JSON {
        let kinds = follow ? ["job.status", "job.progress", "job.log", "item.status"] : ["job.status"]
        let subscribed = try subscribe(ids: [id], kinds: kinds)
        guard var subscription = subscribed["subscription"]?.stringValue,
            let subscribedSeq = subscribed["seq"]?.intValue,
            let snapshot = subscribed["jobs"]?.arrayValue?.first
        else { throw .protocolError("the subscribe result lacks subscription, seq or jobs") }

        var lastLogSeq = 0
        if follow {
            var since = 0
            while true {
                let page = try logs(id: id, since: since)
                for line in page["lines"]?.arrayValue ?? [] {
                    let seq = line["seq"]?.intValue ?? 0
                    lastLogSeq = max(lastLogSeq, seq)
                    let data: JSON = [
                        "seq": .int(seq), "level": line["level"] ?? "info", "message": line["message"] ?? "",
                    ]
                    onEvent?(KernelEvent(
                        subscription: subscription, seq: 0, ts: line["ts"]?.stringValue ?? "",
                        kind: "job.log", jobID: id, data: data))
                }
                guard let next = page["next"]?.intValue else { break }
                since = next
            }
        }
        if KernelClient.isTerminal(status: snapshot["status"]?.stringValue) {
            try unsubscribe(subscription)
            return snapshot
        }

        var others: [(method: String, params: JSON)] = []
        defer { requeue(others) }
        var lastSeq = subscribedSeq
        while true {
            guard let (method, params) = try nextNotification() else { continue }
            if method == "subscription.dropped", params["subscription"]?.stringValue == subscription {
                let resumed = try subscribe(ids: [id], kinds: kinds, since: params["last_seq"]?.intValue ?? lastSeq)
                guard let next = resumed["subscription"]?.stringValue else {
                    throw .protocolError("the subscribe result lacks subscription")
                }
                subscription = next
                continue
            }
            guard method == "event", let event = KernelEvent(params: params), event.subscription == subscription
            else {
                others.append((method, params))
                continue
            }
            lastSeq = event.seq
            if event.kind == "job.log" {
                let seq = event.data["seq"]?.intValue ?? 0
                if seq <= lastLogSeq { continue }
                lastLogSeq = seq
            }
            onEvent?(event)
            if event.kind == "job.status", let job = event.job,
                KernelClient.isTerminal(status: job["status"]?.stringValue)
            {
                try unsubscribe(subscription)
                return job
            }
        }
    }
}

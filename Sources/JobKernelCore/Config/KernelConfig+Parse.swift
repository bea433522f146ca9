/// Building a `KernelConfig` from the generic tree of a config file, with every check of docs/promises.md §2.
///
/// What is refused, beyond values of the wrong type and keys no table knows:
/// - `pipeline`: `max_parallel_jobs` 1…65536; `priority_lane_slots` 0 ..< `max_parallel_jobs` so
///   the normal lane keeps a slot (left unset it becomes `min(1, max_parallel_jobs - 1)`);
///   `heartbeat` > 0; `stale_after` > `heartbeat`; `max_attempts_default` ≥ 1;
///   `backoff_max` ≥ `backoff_base`; `backoff_base` and `cancel_grace` may be 0.
/// - `pools`: 1…1024 processes each.
/// - Type, schedule and toggle names: 1 to 64 letters, digits, `_` or `-`, because they appear in
///   settings keys, NATS subjects and idempotency keys.
/// - A type names the handler its `mode` needs: `internal` exactly one of `command`/`worker`
///   (non-empty arrays of non-empty strings), `sync_api` an `http://` `endpoint`, `async_api`
///   none. `batch_size` (1…`limits.max_items`) and `http_timeout` are for `sync_api` only.
///   `priority` fits in 32 bits; `timeout` > 0; `max_attempts` 1…1000000; `concurrency` ≥ 1.
/// - `requires` and `next[].when` name toggles declared in `[workflow]`; `next[].type` and a
///   schedule's `type` name an enabled type.
/// - Schedules: unique names, exactly one of `every` (> 0) or `cron` (five fields), and
///   `timezone` (an IANA name) only with `cron`.
/// - `storage.keep_finished`: a duration > 0 or `"forever"`.
/// - `limits`: every limit > 0. `broker.url`: a `nats://` or `tls://` URL.
extension KernelConfig {
    static let topLevelKeys = ["pipeline", "pools", "workflow", "types", "schedules", "storage", "limits", "broker", "security"]
    static let pipelineKeys = [
        "max_parallel_jobs", "priority_lane_slots", "priority_threshold", "heartbeat", "stale_after",
        "max_attempts_default", "backoff_base", "backoff_max", "cancel_grace",
    ]
    static let poolKeys = ["internal", "sync_api", "scheduling"]
    static let typeKeys = [
        "mode", "command", "worker", "endpoint", "priority", "timeout", "max_attempts", "concurrency",
        "batch_size", "http_timeout", "requires", "next", "enabled",
    ]
    static let nextKeys = ["type", "when"]
    static let scheduleKeys = ["name", "type", "every", "cron", "timezone", "priority", "payload"]
    static let storageKeys = ["durability", "keep_finished"]
    static let limitKeys = [
        "max_message_bytes", "max_depth", "max_items", "max_payload_bytes", "max_log_bytes",
        "max_outbound_bytes", "event_retention",
    ]
    static let brokerKeys = ["kind", "url"]
    static let securityKeys = ["allow_uids"]

    static let priorityRange = Int(Int32.min)...Int(Int32.max)

    /// Builds the configuration from a config tree (tables as objects), checking everything;
    /// the first problem found is thrown. An empty object gives `defaults`.
    public static func parse(_ tree: JSON) throws(ConfigError) -> KernelConfig {
        let root = try ConfigTable(tree, path: "", keys: topLevelKeys)
        var config = KernelConfig()
        if let value = root.value("pipeline") { config.pipeline = try parsePipeline(value) }
        if let value = root.value("pools") { config.pools = try parsePools(value) }
        if let value = root.value("workflow") { config.workflow = try parseWorkflow(value) }
        if let value = root.value("storage") { config.storage = try parseStorage(value) }
        if let value = root.value("limits") { config.limits = try parseLimits(value) }
        if let value = root.value("broker") { config.broker = try parseBroker(value) }
        if let value = root.value("security") { config.security = try parseSecurity(value) }
        if let value = root.value("types") {
            config.types = try parseTypes(value, workflow: config.workflow, limits: config.limits)
        }
        if root.has("schedules") {
            config.schedules = try parseSchedules(root, types: config.types)
        }
        return config
    }

    // MARK: Tables

    static func parsePipeline(_ value: JSON) throws(ConfigError) -> PipelineConfig {
        let table = try ConfigTable(value, path: "pipeline", keys: pipelineKeys)
        var pipeline = PipelineConfig()
        pipeline.maxParallelJobs = try table.int(
            "max_parallel_jobs", in: 1...65_536, "the number of units that may run at once in the local pools"
        ) ?? pipeline.maxParallelJobs
        if let slots = try table.int("priority_lane_slots", in: 0...Int.max) {
            guard slots < pipeline.maxParallelJobs else {
                throw table.error(
                    "priority_lane_slots",
                    "must be less than max_parallel_jobs (\(pipeline.maxParallelJobs)), got \(slots)",
                    fix: "the normal lane needs at least one slot; lower it or raise max_parallel_jobs")
            }
            pipeline.priorityLaneSlots = slots
        } else {
            pipeline.priorityLaneSlots = min(pipeline.priorityLaneSlots, pipeline.maxParallelJobs - 1)
        }
        pipeline.priorityThreshold = try table.int("priority_threshold", in: priorityRange) ?? pipeline.priorityThreshold
        pipeline.heartbeatMs = try table.duration("heartbeat", minimumMs: 1) ?? pipeline.heartbeatMs
        pipeline.staleAfterMs = try table.duration("stale_after", minimumMs: 1) ?? pipeline.staleAfterMs
        guard pipeline.staleAfterMs > pipeline.heartbeatMs else {
            throw table.error(
                "stale_after",
                "must be longer than heartbeat (\(pipeline.heartbeatMs)ms), got \(pipeline.staleAfterMs)ms",
                fix: "a worker is presumed lost after stale_after without a heartbeat; several heartbeats is usual")
        }
        pipeline.maxAttemptsDefault = try table.int("max_attempts_default", in: 1...1_000_000) ?? pipeline.maxAttemptsDefault
        pipeline.backoffBaseMs = try table.duration("backoff_base") ?? pipeline.backoffBaseMs
        pipeline.backoffMaxMs = try table.duration("backoff_max") ?? pipeline.backoffMaxMs
        guard pipeline.backoffMaxMs >= pipeline.backoffBaseMs else {
            throw table.error(
                "backoff_max",
                "must be at least backoff_base (\(pipeline.backoffBaseMs)ms), got \(pipeline.backoffMaxMs)ms",
                fix: "backoff_max caps the wait that starts at backoff_base")
        }
        pipeline.cancelGraceMs = try table.duration("cancel_grace") ?? pipeline.cancelGraceMs
        return pipeline
    }

    static func parsePools(_ value: JSON) throws(ConfigError) -> PoolsConfig {
        let table = try ConfigTable(value, path: "pools", keys: poolKeys, what: "[pools] (async_api has no local pool)")
        var pools = PoolsConfig()
        pools.internalWorkers = try table.int("internal", in: 1...1_024, "the number of worker processes of the internal pool") ?? pools.internalWorkers
        pools.syncAPIWorkers = try table.int("sync_api", in: 1...1_024, "the number of worker processes of the sync_api pool") ?? pools.syncAPIWorkers
        pools.scheduling = try table.choice("scheduling", PoolsConfig.Scheduling.self) ?? pools.scheduling
        return pools
    }

    static func parseWorkflow(_ value: JSON) throws(ConfigError) -> WorkflowConfig {
        guard case .object(let object) = value else {
            throw ConfigError(keyPath: "workflow", problem: "expected a table of toggles, got \(ConfigTable.describe(value))")
        }
        var workflow = WorkflowConfig()
        for (name, toggle) in object {
            let path = ConfigTable.join("workflow", name)
            try checkName(name, path: path, what: "toggle")
            guard case .bool(let on) = toggle else {
                throw ConfigError(keyPath: path, problem: "expected true or false, got \(ConfigTable.describe(toggle))",
                                  fix: "[workflow] holds named boolean toggles")
            }
            workflow[name] = on
        }
        return workflow
    }

    static func parseStorage(_ value: JSON) throws(ConfigError) -> StorageConfig {
        let table = try ConfigTable(value, path: "storage", keys: storageKeys)
        var storage = StorageConfig()
        storage.durability = try table.choice("durability", StorageConfig.Durability.self) ?? storage.durability
        if table.value("keep_finished") == .string("forever") {
            storage.keepFinishedMs = nil
        } else if let ms = try table.duration("keep_finished", minimumMs: 1) {
            storage.keepFinishedMs = ms
        }
        return storage
    }

    static func parseLimits(_ value: JSON) throws(ConfigError) -> LimitsConfig {
        let table = try ConfigTable(value, path: "limits", keys: limitKeys)
        var limits = LimitsConfig()
        limits.maxMessageBytes = try table.size("max_message_bytes") ?? limits.maxMessageBytes
        limits.maxDepth = try table.int("max_depth", in: 1...Int.max) ?? limits.maxDepth
        limits.maxItems = try table.int("max_items", in: 1...Int.max) ?? limits.maxItems
        limits.maxPayloadBytes = try table.size("max_payload_bytes") ?? limits.maxPayloadBytes
        limits.maxLogBytes = try table.size("max_log_bytes") ?? limits.maxLogBytes
        limits.maxOutboundBytes = try table.size("max_outbound_bytes") ?? limits.maxOutboundBytes
        limits.eventRetentionMs = try table.duration("event_retention", minimumMs: 1) ?? limits.eventRetentionMs
        return limits
    }

    static func parseBroker(_ value: JSON) throws(ConfigError) -> BrokerConfig {
        let table = try ConfigTable(value, path: "broker", keys: brokerKeys)
        var broker = BrokerConfig()
        broker.kind = try table.choice("kind", BrokerConfig.Kind.self) ?? broker.kind
        if let url = try table.string("url") {
            let scheme = url.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
            guard ["nats", "tls"].contains(scheme), url.hasPrefix(scheme + "://"), url.count > scheme.count + 3 else {
                throw table.error("url", "not a NATS URL: \(ConfigTable.describe(.string(url)))",
                                  fix: "write nats://HOST:PORT, e.g. \"nats://127.0.0.1:4222\"")
            }
            broker.url = url
        }
        return broker
    }

    static func parseSecurity(_ value: JSON) throws(ConfigError) -> SecurityConfig {
        let table = try ConfigTable(value, path: "security", keys: securityKeys)
        var security = SecurityConfig()
        if let value = table.value("allow_uids") {
            guard case .array(let elements) = value else {
                throw table.error("allow_uids", "expected an array of uids, got \(ConfigTable.describe(value))")
            }
            for (index, element) in elements.enumerated() {
                guard let uid = element.intValue, uid >= 0, uid <= Int(UInt32.max) else {
                    throw ConfigError(keyPath: "security.allow_uids[\(index)]",
                                      problem: "expected a uid (an integer from 0 to \(UInt32.max)), got \(ConfigTable.describe(element))")
                }
                security.allowUIDs.append(UInt32(uid))
            }
        }
        return security
    }

    // MARK: Names

    /// Names end up in settings keys, NATS subjects and idempotency keys: keep them plain.
    static func checkName(_ name: String, path: String, what: String) throws(ConfigError) {
        guard ConfigTable.isBareKey(name), name.utf8.count <= 64 else {
            throw ConfigError(keyPath: path, problem: "\(what) name \(ConfigTable.describe(.string(name))) is not allowed",
                              fix: "use 1 to 64 letters, digits, _ or -")
        }
    }
}

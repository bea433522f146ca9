import Testing
import JobKernelCore

/// docs/promises.md §2: the example config, the defaults, and what the keys turn into.
struct ConfigTests {
    /// The docs/promises.md §2 example, key for key, as the TOML loader hands it over.
    static let specExample: JSON = [
        "pipeline": [
            "max_parallel_jobs": 4, "priority_lane_slots": 1, "priority_threshold": 90,
            "heartbeat": "5s", "stale_after": "30s", "max_attempts_default": 3,
            "backoff_base": "1s", "backoff_max": "5m", "cancel_grace": "5s",
        ],
        "pools": ["internal": 4, "sync_api": 2],
        "workflow": ["publishing": true, "auto_publish": false],
        "types": [
            "thumbnail": [
                "mode": "internal", "command": ["./bin/thumbnail", "--fast"], "priority": 50,
                "timeout": "10m", "max_attempts": 3, "concurrency": 2,
            ],
            "embed": ["mode": "internal", "worker": ["python3", "workers/embed.py"]],
            "detect": [
                "mode": "sync_api", "endpoint": "http://127.0.0.1:2000/process", "batch_size": 8,
                "http_timeout": "30s",
            ],
            "detect_remote": ["mode": "async_api"],
            "enrich": [
                "mode": "internal", "command": ["./bin/enrich"], "requires": ["enrichment"],
                "next": [["type": "publish", "when": ["auto_publish", "publishing"]]],
            ],
        ],
        "schedules": [
            ["name": "trash_maintenance", "type": "trash_maintenance", "every": "1h", "priority": 100, "payload": [:]],
        ],
        "storage": ["durability": "normal"],
        "limits": ["max_message_bytes": 16_777_216],
        "broker": ["kind": "nats", "url": "nats://127.0.0.1:4222"],
    ]

    /// The example with what it refers to but does not declare: the toggle `enrichment` and the
    /// types `publish` and `trash_maintenance`.
    static func completed(_ tree: JSON = specExample, toggle: Bool = true, publish: Bool = true, trash: Bool = true) -> JSON {
        guard case .object(var root) = tree, case .object(var workflow)? = root["workflow"],
              case .object(var types)? = root["types"]
        else { return tree }
        if toggle { workflow["enrichment"] = true }
        if publish { types["publish"] = ["mode": "async_api"] }
        if trash { types["trash_maintenance"] = ["mode": "internal", "command": ["./bin/trash"]] }
        root["workflow"] = .object(workflow)
        root["types"] = .object(types)
        return .object(root)
    }

    @Test("the docs/promises.md §2 example parses once the names it uses are declared")
    func specExampleParses() throws {
        let config = try KernelConfig.parse(Self.completed())

        #expect(config.pipeline == PipelineConfig())
        #expect(config.pools == PoolsConfig())
        #expect(config.workflow.names == ["publishing", "auto_publish", "enrichment"])
        #expect(config.workflow.toggles == ["publishing": true, "auto_publish": false, "enrichment": true])
        #expect(config.typeNames == [
            "command", "detect", "detect_remote", "embed", "enrich", "publish", "thumbnail", "trash_maintenance",
        ])

        let thumbnail = try #require(config.types["thumbnail"])
        #expect(thumbnail.mode == .internal)
        #expect(thumbnail.handler == .command(["./bin/thumbnail", "--fast"]))
        #expect(thumbnail.priority == 50)
        #expect(thumbnail.timeoutMs == 600_000)
        #expect(thumbnail.maxAttempts == 3)
        #expect(thumbnail.concurrency == 2)

        let embed = try #require(config.types["embed"])
        #expect(embed.handler == .worker(["python3", "workers/embed.py"]))
        #expect(embed.timeoutMs == nil && embed.maxAttempts == nil && embed.concurrency == nil)
        #expect(config.maxAttempts(for: embed) == 3)

        let detect = try #require(config.types["detect"])
        #expect(detect.mode == .syncAPI)
        #expect(detect.handler == .endpoint("http://127.0.0.1:2000/process"))
        #expect(detect.batchSize == 8)
        #expect(detect.httpTimeoutMs == 30_000)

        let remote = try #require(config.types["detect_remote"])
        #expect(remote.mode == .asyncAPI)
        #expect(remote.handler == .external)

        let enrich = try #require(config.types["enrich"])
        #expect(enrich.requires == ["enrichment"])
        #expect(enrich.next == [NextRule(type: "publish", when: ["auto_publish", "publishing"])])

        #expect(config.schedules.count == 1)
        let schedule = try #require(config.schedules.first)
        #expect(schedule.name == "trash_maintenance")
        #expect(schedule.type == "trash_maintenance")
        #expect(schedule.everyMs == 3_600_000)
        #expect(schedule.every == "1h")
        #expect(schedule.everyText == "1h")
        #expect(schedule.priority == 100)
        #expect(schedule.payload == [:])

        #expect(config.storage.durability == .normal)
        #expect(config.limits == LimitsConfig())
        #expect(config.broker.kind == .nats)
        #expect(config.broker.url == "nats://127.0.0.1:4222")
        #expect(config.security.allowUIDs == [])
        #expect(config.types["command"] == .builtinCommand)
    }

    /// The example as printed uses three names it never declares; each is an error naming it.
    static let specExampleGaps: [(JSON, String)] = [
        (completed(toggle: false), "types.enrich.requires[0]"),
        (completed(publish: false), "types.enrich.next[0].type"),
        (completed(trash: false), "schedules[0].type"),
        (specExample, "types.enrich.requires[0]"),
    ]

    @Test("the docs/promises.md §2 example as printed refers to undeclared names", arguments: specExampleGaps)
    func specExampleGapsAreErrors(tree: JSON, keyPath: String) {
        #expect {
            try KernelConfig.parse(tree)
        } throws: { error in
            (error as? ConfigError)?.keyPath == keyPath
        }
    }

    @Test("an empty config is the documented defaults")
    func emptyConfigIsDefaults() throws {
        #expect(try KernelConfig.parse([:]) == KernelConfig.defaults)
        #expect(try KernelConfig.parse(["pipeline": [:], "pools": [:], "workflow": [:], "types": [:],
                                        "schedules": [], "storage": [:], "limits": [:], "broker": [:],
                                        "security": [:]]) == KernelConfig.defaults)
    }

    @Test("the defaults are the ones docs/promises.md §2, §7 and §10 give")
    func defaultsMatchTheSpec() {
        let config = KernelConfig.defaults
        #expect(config.pipeline.maxParallelJobs == 4)
        #expect(config.pipeline.priorityLaneSlots == 1)
        #expect(config.pipeline.priorityThreshold == 90)
        #expect(config.pipeline.heartbeatMs == 5_000)
        #expect(config.pipeline.staleAfterMs == 30_000)
        #expect(config.pipeline.maxAttemptsDefault == 3)
        #expect(config.pipeline.backoffBaseMs == 1_000)
        #expect(config.pipeline.backoffMaxMs == 300_000)
        #expect(config.pipeline.cancelGraceMs == 5_000)
        #expect(config.pools.internalWorkers == 4)
        #expect(config.pools.syncAPIWorkers == 2)
        #expect(config.pools.scheduling == .batch)
        #expect(config.pools.workers(for: .asyncAPI) == nil)
        #expect(config.workflow.names.isEmpty)
        #expect(config.typeNames == ["command"])
        #expect(config.types["command"]?.mode == .internal)
        #expect(config.types["command"]?.handler == .builtinCommand)
        #expect(config.types["command"]?.priority == 50)
        #expect(config.schedules.isEmpty)
        #expect(config.storage.durability == .normal)
        #expect(config.limits.maxMessageBytes == 16 * 1024 * 1024)
        #expect(config.limits.maxDepth == 64)
        #expect(config.limits.maxItems == 100_000)
        #expect(config.limits.maxPayloadBytes == 1024 * 1024)
        #expect(config.limits.maxLogBytes == 1024 * 1024)
        #expect(config.limits.maxOutboundBytes == 16 * 1024 * 1024)
        #expect(config.limits.eventRetentionMs == 24 * 3_600_000)
        #expect(config.broker.kind == .embedded)
        #expect(config.broker.url == "nats://127.0.0.1:4222")
        #expect(config.security.allowUIDs.isEmpty)
    }

    @Test("a type's defaults: priority 50, batch_size 1, http_timeout 30s, no timeout, cap or chains")
    func typeDefaults() throws {
        let config = try KernelConfig.parse(["types": [
            "a": ["mode": "internal", "command": ["/bin/true"]],
            "b": ["mode": "sync_api", "endpoint": "http://localhost:8080"],
        ]])
        for name in ["a", "b"] {
            let type = try #require(config.types[name])
            #expect(type.priority == 50)
            #expect(type.batchSize == 1)
            #expect(type.httpTimeoutMs == 30_000)
            #expect(type.timeoutMs == nil)
            #expect(type.maxAttempts == nil)
            #expect(type.concurrency == nil)
            #expect(type.requires.isEmpty && type.next.isEmpty)
        }
    }

    @Test("the built-in command type exists unless [types.command] enabled = false")
    func builtinCommandType() throws {
        #expect(try KernelConfig.parse(["types": ["command": ["enabled": true]]]).types["command"] == .builtinCommand)
        #expect(try KernelConfig.parse(["types": ["command": ["enabled": false]]]).types["command"] == nil)

        let tuned = try KernelConfig.parse(["types": ["command": [
            "mode": "internal", "priority": 70, "timeout": "1m", "max_attempts": 1, "concurrency": 3,
        ]]])
        var expected = TypeConfig.builtinCommand
        expected.priority = 70
        expected.timeoutMs = 60_000
        expected.maxAttempts = 1
        expected.concurrency = 3
        #expect(tuned.types["command"] == expected)
    }

    @Test("other types may be disabled too, and then do not exist")
    func disabledTypes() throws {
        let config = try KernelConfig.parse(["types": [
            "off": ["mode": "internal", "command": ["x"], "enabled": false],
            "on": ["mode": "async_api"],
        ]])
        #expect(config.typeNames == ["command", "on"])
    }

    @Test("priority_lane_slots left unset keeps the normal lane a slot when max_parallel_jobs is 1")
    func laneSlotsFollowASingleSlot() throws {
        let config = try KernelConfig.parse(["pipeline": ["max_parallel_jobs": 1]])
        #expect(config.pipeline.maxParallelJobs == 1)
        #expect(config.pipeline.priorityLaneSlots == 0)
        #expect(try KernelConfig.parse(["pipeline": ["max_parallel_jobs": 8, "priority_lane_slots": 0]])
            .pipeline.priorityLaneSlots == 0)
    }

    @Test("durations may be numbers of seconds and sizes strings with units")
    func durationAndSizeForms() throws {
        let config = try KernelConfig.parse([
            "pipeline": ["heartbeat": 0.5, "stale_after": 10, "backoff_base": 0, "cancel_grace": "250ms"],
            "limits": ["max_message_bytes": "1MiB", "max_payload_bytes": "512KiB", "max_log_bytes": 4096,
                       "max_outbound_bytes": "64MB", "event_retention": "7d", "max_depth": 32, "max_items": 10],
        ])
        #expect(config.pipeline.heartbeatMs == 500)
        #expect(config.pipeline.staleAfterMs == 10_000)
        #expect(config.pipeline.backoffBaseMs == 0)
        #expect(config.pipeline.cancelGraceMs == 250)
        #expect(config.limits.maxMessageBytes == 1_048_576)
        #expect(config.limits.maxPayloadBytes == 524_288)
        #expect(config.limits.maxLogBytes == 4096)
        #expect(config.limits.maxOutboundBytes == 64_000_000)
        #expect(config.limits.eventRetentionMs == 7 * 86_400_000)
        #expect(config.limits.maxDepth == 32)
        #expect(config.limits.maxItems == 10)
    }

    @Test("a schedule keeps every as configured, takes the type's priority by default and an empty payload")
    func scheduleEveryAsConfigured() throws {
        let config = try KernelConfig.parse(["schedules": [
            ["name": "tick", "type": "command", "every": 90],
            ["name": "tock", "type": "command", "every": "1h30m", "payload": ["argv": ["true"]]],
        ]])
        #expect(config.schedules.map(\.name) == ["tick", "tock"])
        #expect(config.schedules[0].everyMs == 90_000)
        #expect(config.schedules[0].every == 90)
        #expect(config.schedules[0].everyText == "90")
        #expect(config.schedules[0].priority == nil)
        #expect(config.schedules[0].payload == [:])
        #expect(config.schedules[1].everyMs == 5_400_000)
        #expect(config.schedules[1].every == "1h30m")
        #expect(config.schedules[1].payload == ["argv": ["true"]])
    }

    @Test("workflow toggles keep the order of the tree")
    func workflowOrder() throws {
        let config = try KernelConfig.parse(["workflow": ["zeta": false, "alpha": true, "mid": true]])
        #expect(config.workflow.names == ["zeta", "alpha", "mid"])
        #expect(config.workflow["alpha"] == true)
        #expect(config.workflow["zeta"] == false)
        #expect(config.workflow["nope"] == nil)
    }

    @Test("security.allow_uids lists uids")
    func allowUIDs() throws {
        let config = try KernelConfig.parse(["security": ["allow_uids": [0, 1000, 4_294_967_295]]])
        #expect(config.security.allowUIDs == [0, 1000, UInt32.max])
    }

    @Test("sync_api endpoints: http URLs with a host and an optional port")
    func endpoints() throws {
        for url in ["http://127.0.0.1:2000/process", "http://localhost", "http://[::1]:8080/x?y=1", "http://host/"] {
            let config = try KernelConfig.parse(["types": ["d": ["mode": "sync_api", "endpoint": .string(url)]]])
            #expect(config.types["d"]?.handler == .endpoint(url))
        }
    }

    @Test("a ConfigError reads file:line:column: key: problem; fix")
    func errorDescription() {
        var error = ConfigError(keyPath: "pipeline.max_parallel_jobs", problem: "must be at least 1, got 0", fix: "raise it")
        #expect(error.description == "pipeline.max_parallel_jobs: must be at least 1, got 0; raise it")
        error.file = "jobkernel.toml"
        #expect(error.description == "jobkernel.toml: pipeline.max_parallel_jobs: must be at least 1, got 0; raise it")
        let syntax = ConfigError(file: "jobkernel.toml", line: 3, column: 7, problem: "TOML syntax error: x")
        #expect(syntax.description == "jobkernel.toml:3:7: TOML syntax error: x")
    }
}

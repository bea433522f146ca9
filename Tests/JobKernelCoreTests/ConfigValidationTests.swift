import Testing
import JobKernelCore

/// docs/promises.md §1: a config error (an unknown key included) names the key and the problem.
struct ConfigValidationTests {
    /// A config that must be refused, the key path its error must name, and optionally a phrase
    /// the message must contain.
    struct Bad: Sendable, CustomTestStringConvertible {
        let tree: JSON
        let keyPath: String
        let mentions: String?
        init(_ keyPath: String, _ tree: JSON, mentions: String? = nil) {
            self.tree = tree
            self.keyPath = keyPath
            self.mentions = mentions
        }
        var testDescription: String { keyPath + (mentions.map { " (\($0))" } ?? "") }
    }

    /// A config with one type `x`.
    static func type(_ entry: JSON, workflow: JSON = [:]) -> JSON {
        ["workflow": workflow, "types": ["x": entry, "y": ["mode": "async_api"]]]
    }

    static let internalX: JSON = ["mode": "internal", "command": ["./x"]]

    static func with(_ base: JSON, _ key: String, _ value: JSON) -> JSON {
        guard case .object(var object) = base else { return base }
        object[key] = value
        return .object(object)
    }

    static let cases: [Bad] = [
        // Unknown keys at every level.
        Bad("pipline", ["pipline": [:]], mentions: "did you mean pipeline"),
        Bad("pipeline.max_paralel_jobs", ["pipeline": ["max_paralel_jobs": 2]], mentions: "did you mean max_parallel_jobs"),
        Bad("pools.async_api", ["pools": ["async_api": 1]]),
        Bad("storage.path", ["storage": ["path": "/tmp"]]),
        Bad("limits.max_bytes", ["limits": ["max_bytes": 1]]),
        Bad("broker.host", ["broker": ["host": "x"]]),
        Bad("security.allow_users", ["security": ["allow_users": []]]),
        Bad("types.x.comand", type(with(internalX, "comand", ["./x"])), mentions: "did you mean command"),
        Bad("types.x.next[0].typ", type(with(internalX, "next", [["typ": "y"]]))),
        Bad("schedules[0].cron", ["schedules": [["name": "s", "type": "command", "every": "1h", "cron": "* * * * *"]]],
            mentions: "not both"),
        Bad("schedules[0].cron", ["schedules": [["name": "s", "type": "command", "cron": "61 * * * *"]]], mentions: "out of range"),
        Bad("schedules[0].cron", ["schedules": [["name": "s", "type": "command", "cron": "* * *"]]], mentions: "5 fields"),
        Bad("schedules[0].timezone", ["schedules": [["name": "s", "type": "command", "cron": "0 3 * * *", "timezone": "../x"]]]),
        Bad("schedules[0].timezone", ["schedules": [["name": "s", "type": "command", "every": "1h", "timezone": "UTC"]]],
            mentions: "only a `cron` schedule"),
        Bad("storage.keep_finished", ["storage": ["keep_finished": "sometimes"]]),
        Bad("storage.keep_finished", ["storage": ["keep_finished": 0]]),

        // Wrong kinds of values.
        Bad("pipeline", ["pipeline": 4], mentions: "expected a table"),
        Bad("pipeline.max_parallel_jobs", ["pipeline": ["max_parallel_jobs": "4"]], mentions: "expected an integer"),
        Bad("pipeline.priority_threshold", ["pipeline": ["priority_threshold": 9.5]]),
        Bad("workflow", ["workflow": ["a", "b"]]),
        Bad("workflow.publishing", ["workflow": ["publishing": "yes"]], mentions: "true or false"),
        Bad("types", ["types": ["x"]]),
        Bad("types.x", ["types": ["x": 5]], mentions: "expected a table"),
        Bad("types.x.priority", type(with(internalX, "priority", 1.5))),
        Bad("types.x.priority", type(with(internalX, "priority", 5_000_000_000))),
        Bad("types.x.enabled", type(with(internalX, "enabled", "no"))),
        Bad("schedules", ["schedules": ["name": "s"]], mentions: "array of tables"),
        Bad("schedules[0]", ["schedules": [5]]),
        Bad("security.allow_uids", ["security": ["allow_uids": 1000]]),
        Bad("security.allow_uids[1]", ["security": ["allow_uids": [1000, -1]]]),
        Bad("security.allow_uids[0]", ["security": ["allow_uids": [4_294_967_296]]]),

        // [pipeline] values that make no sense.
        Bad("pipeline.max_parallel_jobs", ["pipeline": ["max_parallel_jobs": 0]], mentions: "got 0"),
        Bad("pipeline.priority_lane_slots", ["pipeline": ["priority_lane_slots": 4]], mentions: "less than max_parallel_jobs"),
        Bad("pipeline.priority_lane_slots", ["pipeline": ["max_parallel_jobs": 2, "priority_lane_slots": 2]]),
        Bad("pipeline.priority_lane_slots", ["pipeline": ["priority_lane_slots": -1]]),
        Bad("pipeline.heartbeat", ["pipeline": ["heartbeat": "5 s"]], mentions: "not a duration"),
        Bad("pipeline.heartbeat", ["pipeline": ["heartbeat": "0s"]], mentions: "more than 0"),
        Bad("pipeline.heartbeat", ["pipeline": ["heartbeat": true]]),
        Bad("pipeline.stale_after", ["pipeline": ["stale_after": "5s"]], mentions: "longer than heartbeat"),
        Bad("pipeline.stale_after", ["pipeline": ["heartbeat": "1m"]]),
        Bad("pipeline.max_attempts_default", ["pipeline": ["max_attempts_default": 0]]),
        Bad("pipeline.backoff_base", ["pipeline": ["backoff_base": -1]]),
        Bad("pipeline.backoff_max", ["pipeline": ["backoff_max": "500ms"]], mentions: "at least backoff_base"),
        Bad("pipeline.cancel_grace", ["pipeline": ["cancel_grace": "soon"]]),
        Bad("pools.internal", ["pools": ["internal": 0]]),
        Bad("pools.sync_api", ["pools": ["sync_api": 5000]]),

        // Names.
        Bad(#"workflow."bad name""#, ["workflow": ["bad name": true]], mentions: "letters, digits"),
        Bad(#"types."a.b""#, ["types": ["a.b": ["mode": "async_api"]]]),
        Bad(#"schedules[0].name"#, ["schedules": [["name": "every:hour", "type": "command", "every": "1h"]]]),

        // A type's mode and handler.
        Bad("types.x.mode", type(["command": ["./x"]]), mentions: "missing"),
        Bad("types.x.mode", type(["mode": "batch", "command": ["./x"]]), mentions: "sync_api"),
        Bad("types.x", type(["mode": "internal"]), mentions: "needs a handler"),
        Bad("types.x.command", type(["mode": "internal", "command": []]), mentions: "must not be empty"),
        Bad("types.x.command", type(["mode": "internal", "command": "./bin/x --fast"]), mentions: "array of strings"),
        Bad("types.x.command[1]", type(["mode": "internal", "command": ["./x", 1]])),
        Bad("types.x.command[0]", type(["mode": "internal", "command": [""]])),
        Bad("types.x.worker", type(["mode": "internal", "worker": []])),
        Bad("types.x.worker", type(["mode": "internal", "command": ["./x"], "worker": ["./w"]]), mentions: "exactly one"),
        Bad("types.x.endpoint", type(["mode": "internal", "endpoint": "http://h/"])),
        Bad("types.x.endpoint", type(["mode": "sync_api"]), mentions: "missing"),
        Bad("types.x.command", type(["mode": "sync_api", "command": ["./x"], "endpoint": "http://h/"])),
        Bad("types.x.endpoint", type(["mode": "sync_api", "endpoint": "https://h/"]), mentions: "https"),
        Bad("types.x.endpoint", type(["mode": "sync_api", "endpoint": "ftp://h/"])),
        Bad("types.x.endpoint", type(["mode": "sync_api", "endpoint": "http://:80/"])),
        Bad("types.x.endpoint", type(["mode": "sync_api", "endpoint": "http://h:99999/"])),
        Bad("types.x.endpoint", type(["mode": "sync_api", "endpoint": 80])),
        Bad("types.x.worker", type(["mode": "async_api", "worker": ["./w"]]), mentions: "external workers"),
        Bad("types.x.endpoint", type(["mode": "async_api", "endpoint": "http://h/"])),

        // A type's other keys.
        Bad("types.x.batch_size", type(with(internalX, "batch_size", 8)), mentions: "sync_api types only"),
        Bad("types.x.http_timeout", type(["mode": "async_api", "http_timeout": "5s"])),
        Bad("types.x.batch_size", type(["mode": "sync_api", "endpoint": "http://h/", "batch_size": 0])),
        Bad("types.x.batch_size", ["limits": ["max_items": 4], "types": ["x": ["mode": "sync_api", "endpoint": "http://h/", "batch_size": 5]]]),
        Bad("types.x.http_timeout", type(["mode": "sync_api", "endpoint": "http://h/", "http_timeout": 0])),
        Bad("types.x.timeout", type(with(internalX, "timeout", "0s"))),
        Bad("types.x.timeout", type(with(internalX, "timeout", "10 minutes"))),
        Bad("types.x.max_attempts", type(with(internalX, "max_attempts", 0))),
        Bad("types.x.concurrency", type(with(internalX, "concurrency", 0))),

        // Workflow references.
        Bad("types.x.requires[0]", type(with(internalX, "requires", ["enrichment"])), mentions: "not declared in [workflow]"),
        Bad("types.x.requires[1]", type(with(internalX, "requires", ["on", "off"]), workflow: ["on": true])),
        Bad("types.x.requires", type(with(internalX, "requires", "on"), workflow: ["on": true])),
        Bad("types.x.next[0].when[0]", type(with(internalX, "next", [["type": "y", "when": ["auto_publish"]]]))),
        Bad("types.x.next[0].type", type(with(internalX, "next", [["type": "publish"]])), mentions: "no type \"publish\""),
        Bad("types.x.next[1].type", type(with(internalX, "next", [["type": "y"], ["type": "z"]]))),
        Bad("types.x.next[0].type", type(with(internalX, "next", [["when": []]])), mentions: "missing"),
        Bad("types.x.next", type(with(internalX, "next", ["type": "y"]))),
        Bad("types.x.next[0]", type(with(internalX, "next", ["y"]))),
        Bad("types.x.next[0].type", ["types": ["x": with(internalX, "next", [["type": "command"]]), "command": ["enabled": false]]],
            mentions: "disabled"),

        // The built-in command type.
        Bad("types.command.command", ["types": ["command": ["command": ["./x"]]]], mentions: "payload.argv"),
        Bad("types.command.endpoint", ["types": ["command": ["endpoint": "http://h/"]]]),
        Bad("types.command.mode", ["types": ["command": ["mode": "sync_api"]]]),
        Bad("types.command.enabled", ["types": ["command": ["enabled": 0]]]),

        // Schedules.
        Bad("schedules[0].name", ["schedules": [["type": "command", "every": "1h"]]], mentions: "missing"),
        Bad("schedules[0].type", ["schedules": [["name": "s", "every": "1h"]]], mentions: "missing"),
        Bad("schedules[0].type", ["schedules": [["name": "s", "type": "nope", "every": "1h"]]], mentions: "no type"),
        Bad("schedules[0].type", ["schedules": [["name": "s", "type": "command", "every": "1h"]], "types": ["command": ["enabled": false]]]),
        Bad("schedules[0].every", ["schedules": [["name": "s", "type": "command"]]], mentions: "missing"),
        Bad("schedules[0].every", ["schedules": [["name": "s", "type": "command", "every": "0s"]]], mentions: "more than 0"),
        Bad("schedules[0].every", ["schedules": [["name": "s", "type": "command", "every": 0]]]),
        Bad("schedules[0].every", ["schedules": [["name": "s", "type": "command", "every": "hourly"]]]),
        Bad("schedules[0].priority", ["schedules": [["name": "s", "type": "command", "every": "1h", "priority": "high"]]]),
        Bad("schedules[1].name", ["schedules": [
            ["name": "s", "type": "command", "every": "1h"], ["name": "s", "type": "command", "every": "2h"],
        ]], mentions: "duplicate schedule name"),

        // The other tables.
        Bad("storage.durability", ["storage": ["durability": "fast"]], mentions: "\"normal\", \"full\""),
        Bad("pools.scheduling", ["pools": ["scheduling": "idle"]], mentions: "\"batch\", \"normal\""),
        Bad("limits.max_message_bytes", ["limits": ["max_message_bytes": 0]]),
        Bad("limits.max_payload_bytes", ["limits": ["max_payload_bytes": "1 megabyte"]]),
        Bad("limits.max_log_bytes", ["limits": ["max_log_bytes": -1]]),
        Bad("limits.max_outbound_bytes", ["limits": ["max_outbound_bytes": "1.5MiB"]]),
        Bad("limits.max_depth", ["limits": ["max_depth": 0]]),
        Bad("limits.max_items", ["limits": ["max_items": "100k"]]),
        Bad("limits.event_retention", ["limits": ["event_retention": "forever"]]),
        Bad("broker.kind", ["broker": ["kind": "redis"]]),
        Bad("broker.url", ["broker": ["kind": "nats", "url": "http://127.0.0.1:4222"]]),
    ]

    @Test("each invalid config is refused with an error naming its key path", arguments: cases)
    func refusedNamingTheKey(bad: Bad) {
        do {
            let config = try KernelConfig.parse(bad.tree)
            Issue.record("accepted: \(config)")
        } catch {
            #expect(error.keyPath == bad.keyPath)
            #expect(error.description.hasPrefix(bad.keyPath + ": "), "\(error.description)")
            if let mentions = bad.mentions {
                #expect(error.description.contains(mentions), "\(error.description)")
            }
        }
    }

    @Test("a config that is not a table is refused")
    func rootMustBeATable() {
        #expect(throws: ConfigError.self) { try KernelConfig.parse([1, 2]) }
    }

    @Test("an unknown key's error lists the keys its table takes")
    func unknownKeyListsTheKeys() {
        do {
            _ = try KernelConfig.parse(["storage": ["wal": true]])
            Issue.record("accepted")
        } catch {
            #expect(error.description == "storage.wal: unknown key; [storage] takes durability, keep_finished")
        }
    }
}

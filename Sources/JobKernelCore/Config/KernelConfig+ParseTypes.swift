/// Parsing `[types.*]` and `[[schedules]]`, the parts that refer to each other and to
/// `[workflow]`.
extension KernelConfig {
    /// The enabled types by name, the built-in `command` type included unless disabled.
    static func parseTypes(_ value: JSON, workflow: WorkflowConfig, limits: LimitsConfig)
        throws(ConfigError) -> [String: TypeConfig]
    {
        guard case .object(let entries) = value else {
            throw ConfigError(keyPath: "types", problem: "expected a table of types, got \(ConfigTable.describe(value))",
                              fix: "declare each type as [types.NAME]")
        }
        var types: [String: TypeConfig] = [:]
        var disabled: Set<String> = []
        var nextPaths: [String: [String]] = [:]  // type name -> path of each next entry
        for (name, entry) in entries {
            let table = try ConfigTable(entry, path: ConfigTable.join("types", name), keys: typeKeys,
                                        what: "a [types.NAME] entry")
            try checkName(name, path: table.path, what: "type")
            let (type, paths) = try parseType(name, table, workflow: workflow, limits: limits)
            if try table.bool("enabled") ?? true {
                types[name] = type
                nextPaths[name] = paths
            } else {
                disabled.insert(name)
            }
        }
        if !disabled.contains(TypeConfig.builtinCommandName), types[TypeConfig.builtinCommandName] == nil {
            types[TypeConfig.builtinCommandName] = .builtinCommand
        }
        // Chains are checked once every type is known; a disabled type's chains never run.
        for name in entries.keys {
            guard let type = types[name], let paths = nextPaths[name] else { continue }
            for (rule, path) in zip(type.next, paths) where types[rule.type] == nil {
                throw unknownType(rule.type, path: path + ".type", disabled: disabled.contains(rule.type))
            }
        }
        return types
    }

    /// One type, and the key path of each of its `next` entries.
    static func parseType(_ name: String, _ table: ConfigTable, workflow: WorkflowConfig, limits: LimitsConfig)
        throws(ConfigError) -> (TypeConfig, nextPaths: [String])
    {
        let isBuiltin = name == TypeConfig.builtinCommandName
        guard let mode = try table.choice("mode", DispatchMode.self) ?? (isBuiltin ? .internal : nil) else {
            throw table.error("mode", "missing", fix: #"set mode = "internal", "sync_api" or "async_api""#)
        }
        let handler: TypeConfig.Handler
        if isBuiltin {
            guard mode == .internal else {
                throw table.error("mode", "the built-in command type is internal, got \"\(mode.rawValue)\"",
                                  fix: "remove mode, or give your type another name")
            }
            for key in ["command", "worker", "endpoint"] where table.has(key) {
                throw table.error(key, "the built-in command type runs payload.argv; its handler cannot be set",
                                  fix: "remove \(key), or give your type another name")
            }
            handler = .builtinCommand
        } else {
            handler = try parseHandler(table, mode: mode)
        }

        var type = TypeConfig(name: name, mode: mode, handler: handler)
        type.priority = try table.int("priority", in: priorityRange) ?? type.priority
        type.timeoutMs = try table.duration("timeout", minimumMs: 1)
        type.maxAttempts = try table.int("max_attempts", in: 1...1_000_000)
        type.concurrency = try table.int("concurrency", in: 1...Int.max, "the most units of this type that may run at once")
        for key in ["batch_size", "http_timeout"] where table.has(key) && mode != .syncAPI {
            throw table.error(key, "applies to sync_api types only, and this type is \(mode.rawValue)",
                              fix: "remove \(key)")
        }
        type.batchSize = try table.int("batch_size", in: 1...limits.maxItems, "the number of items per POST") ?? type.batchSize
        type.httpTimeoutMs = try table.duration("http_timeout", minimumMs: 1) ?? type.httpTimeoutMs
        type.requires = try table.strings("requires") ?? []
        for (index, toggle) in type.requires.enumerated() {
            try checkToggle(toggle, path: table.keyPath("requires") + "[\(index)]", workflow: workflow)
        }
        var nextPaths: [String] = []
        for (path, value) in try table.tables("next") ?? [] {
            let rule = try ConfigTable(value, path: path, keys: nextKeys, what: "a next entry")
            guard let target = try rule.string("type") else {
                throw rule.error("type", "missing", fix: "name the type to enqueue when this one succeeds")
            }
            let when = try rule.strings("when") ?? []
            for (index, toggle) in when.enumerated() {
                try checkToggle(toggle, path: rule.keyPath("when") + "[\(index)]", workflow: workflow)
            }
            type.next.append(NextRule(type: target, when: when))
            nextPaths.append(path)
        }
        return (type, nextPaths)
    }

    /// The handler `mode` calls for: exactly one of `command`/`worker` for internal, `endpoint`
    /// for sync_api, none for async_api.
    static func parseHandler(_ table: ConfigTable, mode: DispatchMode) throws(ConfigError) -> TypeConfig.Handler {
        let command = try table.strings("command", nonEmpty: true)
        let worker = try table.strings("worker", nonEmpty: true)
        let endpoint = try table.string("endpoint")
        switch mode {
        case .internal:
            if endpoint != nil {
                throw table.error("endpoint", "endpoint is for sync_api types, and this type is internal",
                                  fix: #"use command or worker, or set mode = "sync_api""#)
            }
            switch (command, worker) {
            case (let argv?, nil): return .command(argv)
            case (nil, let argv?): return .worker(argv)
            case (_?, _?):
                throw table.error("worker", "an internal type names exactly one of command and worker, not both",
                                  fix: "keep command (spawned per unit) or worker (a persistent worker)")
            case (nil, nil):
                throw ConfigError(keyPath: table.path, problem: "an internal type needs a handler",
                                  fix: "set command = [ARGV…] (spawned per unit) or worker = [ARGV…] (a persistent worker)")
            }
        case .syncAPI:
            for key in ["command", "worker"] where table.has(key) {
                throw table.error(key, "a sync_api type is served over HTTP and names endpoint, not \(key)",
                                  fix: #"remove \#(key), or set mode = "internal""#)
            }
            guard let endpoint else {
                throw table.error("endpoint", "missing: a sync_api type needs the URL its batches are POSTed to",
                                  fix: #"set endpoint = "http://HOST:PORT/PATH""#)
            }
            if let problem = httpURLProblem(endpoint) {
                throw table.error("endpoint", problem, fix: #"write an http:// URL, e.g. "http://127.0.0.1:2000/process""#)
            }
            return .endpoint(endpoint)
        case .asyncAPI:
            for key in ["command", "worker", "endpoint"] where table.has(key) {
                throw table.error(key, "an async_api type is served by external workers and names no handler",
                                  fix: #"remove \#(key), or set mode = "internal" or "sync_api""#)
            }
            return .external
        }
    }

    /// Why `url` is not a usable `http://` URL, or nil if it is.
    static func httpURLProblem(_ url: String) -> String? {
        let shown = ConfigTable.describe(.string(url))
        if url.hasPrefix("https://") { return "https is not supported, got \(shown): the sync_api pool speaks plain HTTP" }
        guard url.hasPrefix("http://") else { return "not an http:// URL: \(shown)" }
        guard !url.contains(where: { $0.isWhitespace }) else { return "a URL has no spaces: \(shown)" }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        var host = Substring(authority)
        var port: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return "unclosed IPv6 address in \(shown)" }
            host = authority[...close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return "bad host in \(shown)" }
                port = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains("@") else { return "no host in \(shown)" }
        if let port {
            guard let number = Int(port), (1...65_535).contains(number) else { return "bad port in \(shown)" }
        }
        return nil
    }

    static func checkToggle(_ toggle: String, path: String, workflow: WorkflowConfig) throws(ConfigError) {
        guard workflow.isDeclared(toggle) else {
            throw ConfigError(keyPath: path, problem: "toggle \"\(toggle)\" is not declared in [workflow]",
                              fix: "declare it there, e.g. \(ConfigTable.join("", toggle)) = true")
        }
    }

    static func unknownType(_ name: String, path: String, disabled: Bool) -> ConfigError {
        if disabled {
            return ConfigError(keyPath: path, problem: "type \"\(name)\" is disabled",
                               fix: "enable it, or remove this reference")
        }
        return ConfigError(keyPath: path, problem: "no type \"\(name)\" is configured",
                           fix: "declare [\(ConfigTable.join("types", name))], or fix the name")
    }

    // MARK: Schedules

    static func parseSchedules(_ root: ConfigTable, types: [String: TypeConfig]) throws(ConfigError) -> [ScheduleConfig] {
        var schedules: [ScheduleConfig] = []
        var seen: [String: String] = [:]  // name -> path of its first entry
        for (path, value) in try root.tables("schedules") ?? [] {
            let table = try ConfigTable(value, path: path, keys: scheduleKeys, what: "a [[schedules]] entry")
            guard let name = try table.string("name") else {
                throw table.error("name", "missing", fix: "give the schedule a unique name")
            }
            try checkName(name, path: table.keyPath("name"), what: "schedule")
            if let first = seen[name] {
                throw table.error("name", "duplicate schedule name \"\(name)\" (also \(first))",
                                  fix: "schedule names must be unique: they key each slot's job")
            }
            seen[name] = path
            guard let type = try table.string("type") else {
                throw table.error("type", "missing", fix: "name the job type to enqueue")
            }
            guard types[type] != nil else {
                throw unknownType(type, path: table.keyPath("type"), disabled: false)
            }
            var schedule: ScheduleConfig
            if let cronText = try table.string("cron") {
                if table.has("every") {
                    throw table.error("cron", "give `every` or `cron`, not both", fix: "remove one of them")
                }
                let cron: CronExpression
                do {
                    cron = try CronExpression(parsing: cronText)
                } catch {
                    throw table.error("cron", "\(error.message) in \(ConfigTable.describe(.string(cronText)))",
                                      fix: #"write five fields: minute hour day-of-month month day-of-week, e.g. "30 3 * * *""#)
                }
                let zone = try table.string("timezone") ?? "UTC"
                guard CronExpression.isZoneName(zone) else {
                    throw table.error("timezone", "not an IANA time zone name: \(ConfigTable.describe(.string(zone)))",
                                      fix: #"write a name such as "Europe/Berlin" or "UTC""#)
                }
                schedule = ScheduleConfig(name: name, type: type, everyMs: 0, every: .null)
                schedule.cron = cron
                schedule.cronText = cronText
                schedule.timezone = zone
            } else {
                guard let every = table.value("every"), let everyMs = try table.duration("every", minimumMs: 1) else {
                    throw table.error("every", "missing", fix: #"set every = "1h" (or cron = "30 3 * * *")"#)
                }
                if table.has("timezone") {
                    throw table.error("timezone", "only a `cron` schedule has a time zone", fix: "remove it, or use cron")
                }
                schedule = ScheduleConfig(name: name, type: type, everyMs: everyMs, every: every)
            }
            schedule.priority = try table.int("priority", in: priorityRange)
            schedule.payload = table.value("payload") ?? .object([:])
            schedules.append(schedule)
        }
        return schedules
    }
}

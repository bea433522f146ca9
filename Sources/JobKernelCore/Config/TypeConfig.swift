/// One `[types.<name>]` entry: a job type, how its units are dispatched and run (docs/promises.md §2, §5).
public struct TypeConfig: Equatable, Sendable {
    /// What runs a unit of the type.
    public enum Handler: Equatable, Sendable {
        /// `command = [...]`: argv spawned per unit (5.1).
        case command([String])
        /// `worker = [...]`: argv of a persistent worker speaking the worker protocol (5.2).
        case worker([String])
        /// `endpoint = "http://…"`: the URL the `sync_api` pool POSTs batches to (5.3).
        case endpoint(String)
        /// No local handler: units are offered to external workers (`async_api`, 5.4).
        case external
        /// The built-in `command` type: exec of `payload.argv` with optional `payload.cwd` and
        /// `payload.env`.
        case builtinCommand
    }

    /// The name of the built-in type that runs `payload.argv`.
    public static let builtinCommandName = "command"

    /// The type's name, the key under `[types]`.
    public var name: String
    /// How units reach their workers.
    public var mode: DispatchMode
    /// What runs a unit; always consistent with `mode`.
    public var handler: Handler
    /// The priority of the type's jobs when enqueue does not give one; default 50.
    public var priority: Int = 50
    /// A unit running longer is stopped and fails retryably; nil: no limit.
    public var timeoutMs: Int64?
    /// Attempts per unit; nil: `pipeline.maxAttemptsDefault`.
    public var maxAttempts: Int?
    /// At most this many units of the type at once; nil: no cap beyond the lanes.
    public var concurrency: Int?
    /// Items per POST of a `sync_api` type; default 1 (one item per request). Always 1 for
    /// other modes, where the key is refused.
    public var batchSize: Int = 1
    /// Timeout of one POST of a `sync_api` type; default 30 s.
    public var httpTimeoutMs: Int64 = 30_000
    /// `[workflow]` toggles that must all be on for a non-manual job to start (8.3).
    public var requires: [String] = []
    /// Jobs to enqueue when a job of this type ends in `success` (8.3).
    public var next: [NextRule] = []

    /// A type with the defaults for everything but its name, mode and handler.
    public init(name: String, mode: DispatchMode, handler: Handler) {
        self.name = name
        self.mode = mode
        self.handler = handler
    }

    /// The built-in `command` type with its defaults.
    public static var builtinCommand: TypeConfig {
        TypeConfig(name: builtinCommandName, mode: .internal, handler: .builtinCommand)
    }
}

/// One entry of a type's `next`: chain a job of `type` when every toggle in `when` is on (or
/// the finished job was `manual`).
public struct NextRule: Equatable, Sendable {
    /// The type of the job to enqueue; a configured type.
    public var type: String
    /// `[workflow]` toggles that must all be on; empty: always.
    public var when: [String]

    /// A rule chaining `type` under the toggles `when`.
    public init(type: String, when: [String] = []) {
        self.type = type
        self.when = when
    }
}

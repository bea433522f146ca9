/// A JSON-RPC error object (docs/promises.md §4). `data.reason` is always set to a stable snake_case word.
public struct RPCError: Error, Hashable, Sendable {
    /// The JSON-RPC error code (`-32700`, `-32001`, …).
    public var code: Int
    /// A sentence for humans: what went wrong and what to do about it.
    public var message: String
    /// Machine-readable details: `reason`, and where it helps `field`, `job_id`, `status`, …
    public var data: JSON?

    /// An error with exactly these members (also used for errors that workers send back).
    public init(code: Int, message: String, data: JSON? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    private init(_ code: Int, _ reason: String, _ message: String, _ extra: (String, JSON)...) {
        var data: JSONObject = ["reason": .string(reason)]
        for (key, value) in extra { data[key] = value }
        self.init(code: code, message: message, data: .object(data))
    }

    /// `data.reason`, when there is one.
    public var reason: String? { data?["reason"]?.stringValue }

    /// The error object as it goes on the wire: `{code, message, data?}`.
    public var json: JSON {
        var object: JSONObject = ["code": .int(code), "message": .string(message)]
        if let data { object["data"] = data }
        return .object(object)
    }

    // MARK: - The docs/promises.md §4 table

    /// -32700: the message is not valid JSON (or not valid UTF-8).
    public static func parseError(_ detail: String) -> RPCError {
        RPCError(-32700, "parse_error", "Parse error: \(detail). Send each message as one valid UTF-8 JSON value.")
    }

    /// -32600: the message is JSON but not a valid JSON-RPC 2.0 request.
    public static func invalidRequest(_ detail: String) -> RPCError {
        RPCError(-32600, "invalid_request", "Invalid request: \(detail). See https://www.jsonrpc.org/specification.")
    }

    /// -32600: the message is over `limits.max_message_bytes`.
    public static func tooLarge(limit: Int) -> RPCError {
        RPCError(-32600, "too_large",
                 "Message too large: over the limit of \(limit) bytes (limits.max_message_bytes). Send smaller messages.",
                 ("limit", .int(limit)))
    }

    /// -32600: the message nests arrays and objects deeper than `limit` levels.
    public static func tooDeep(limit: Int) -> RPCError {
        RPCError(-32600, "too_deep",
                 "Message nested too deeply: over \(limit) levels of arrays and objects. Flatten the data.",
                 ("limit", .int(limit)))
    }

    /// -32600: nested deeper than the default 64 levels.
    public static var tooDeep: RPCError { tooDeep(limit: 64) }

    /// -32601: no such method (also any request whose method starts with `$/`).
    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(-32601, "method_not_found",
                 "Method not found: `\(method)`. Call `rpc.discover` for the list of methods.")
    }

    /// -32602: the params are wrong; `message` names the parameter and the problem.
    public static func invalidParams(_ message: String, field: String? = nil) -> RPCError {
        if let field { return RPCError(-32602, "invalid_params", message, ("field", .string(field))) }
        return RPCError(-32602, "invalid_params", message)
    }

    /// -32602: a parameter is over a configured limit (`max_items`, `max_payload_bytes`).
    public static func paramTooLarge(field: String, limit: Int) -> RPCError {
        RPCError(-32602, "too_large",
                 "`\(field)` is too large: the limit is \(limit). Split the work into smaller jobs.",
                 ("field", .string(field)), ("limit", .int(limit)))
    }

    /// -32603: a bug or an unexpected failure inside the kernel.
    public static func internalError(_ detail: String) -> RPCError {
        RPCError(-32603, "internal", "Internal error: \(detail). Check the kernel's log; retrying may help.")
    }

    /// -32001: no job has this id.
    public static func notFound(jobID: String) -> RPCError {
        RPCError(-32001, "not_found", "Job \(jobID) not found; `jobkernel status` lists the jobs there are.", ("job_id", .string(jobID)))
    }

    /// -32002: the job type is not configured.
    public static func unknownType(_ type: String) -> RPCError {
        RPCError(-32002, "unknown_type",
                 "Unknown job type `\(type)`. Declare it under [types.\(type)] in the config.",
                 ("field", "type"))
    }

    /// -32003: the idempotency key was used before with different parameters.
    public static func idempotencyConflict(jobID: String) -> RPCError {
        RPCError(-32003, "idempotency_conflict",
                 "Idempotency key already used for job \(jobID) with different parameters. Use a new key or the same parameters.",
                 ("job_id", .string(jobID)))
    }

    /// -32004: not allowed while the job is in `status`.
    public static func invalidState(status: String, jobID: String? = nil) -> RPCError {
        guard let jobID else {
            return RPCError(-32004, "invalid_state", "Not allowed while the job is `\(status)`.", ("status", .string(status)))
        }
        return RPCError(-32004, "invalid_state", "Not allowed while job \(jobID) is `\(status)`.",
                        ("status", .string(status)), ("job_id", .string(jobID)))
    }

    /// -32005: the lease is unknown or has expired (the unit may have been handed to another worker).
    public static var leaseExpired: RPCError {
        RPCError(-32005, "lease_expired",
                 "Lease unknown or expired: the unit may have been given to another worker. Fetch again.")
    }

    /// -32006: `since` is older than the retained event log.
    public static func cursorExpired(oldestSeq: Int) -> RPCError {
        RPCError(-32006, "cursor_expired",
                 "`since` is older than the retained event log, which starts at seq \(oldestSeq). Resubscribe without `since` and take a fresh snapshot.",
                 ("oldest_seq", .int(oldestSeq)))
    }

    /// -32007: the kernel is shutting down or over a limit.
    public static func unavailable(_ detail: String) -> RPCError {
        RPCError(-32007, "unavailable", "Unavailable: \(detail). Try again later.")
    }

    /// -32800: the request was cancelled (worker protocol).
    public static var cancelled: RPCError {
        RPCError(-32800, "cancelled", "Request cancelled.")
    }
}

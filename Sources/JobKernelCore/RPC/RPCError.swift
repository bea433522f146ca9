/// A JSON-RPC error with the kernel's stable `data.reason` (SPEC §4).
public struct RPCError: Error, Hashable, Sendable {
    public var code: Int
    public var message: String
    public var data: JSON?

    public init(code: Int, message: String, data: JSON? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    private init(_ code: Int, _ message: String, _ reason: String, _ extra: JSONObject = [:]) {
        var data: JSONObject = ["reason": .string(reason)]
        for (k, v) in extra { data[k] = v }
        self.init(code: code, message: message, data: .object(data))
    }

    /// `data.reason`, when present.
    public var reason: String? { data?["reason"]?.stringValue }

    public var json: JSON {
        var o: JSONObject = ["code": .int(code), "message": .string(message)]
        if let data { o["data"] = data }
        return .object(o)
    }

    public static func parseError(_ detail: String) -> RPCError {
        RPCError(-32700, "Parse error: \(detail)", "parse_error")
    }
    public static func invalidRequest(_ detail: String) -> RPCError {
        RPCError(-32600, "Invalid request: \(detail)", "invalid_request")
    }
    public static func tooLarge(limit: Int) -> RPCError {
        RPCError(-32600, "Message too large: the limit is \(limit) bytes (limits.max_message_bytes); the message was skipped",
                 "too_large", ["limit": .int(limit)])
    }
    public static func tooDeep(limit: Int = 64) -> RPCError {
        RPCError(-32600, "Message nested too deep: the limit is \(limit) levels", "too_deep", ["limit": .int(limit)])
    }
    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(-32601, "Method not found: \(method) (rpc.discover lists the methods)", "method_not_found",
                 ["method": .string(method)])
    }
    public static func invalidParams(_ message: String, field: String? = nil) -> RPCError {
        RPCError(-32602, "Invalid params: \(message)", "invalid_params", field.map { ["field": .string($0)] } ?? [:])
    }
    public static func paramTooLarge(field: String, limit: Int) -> RPCError {
        RPCError(-32602, "Invalid params: `\(field)` is over the limit of \(limit)", "too_large",
                 ["field": .string(field), "limit": .int(limit)])
    }
    public static func internalError(_ detail: String) -> RPCError {
        RPCError(-32603, "Internal error: \(detail)", "internal")
    }
    public static func notFound(jobID: String) -> RPCError {
        RPCError(-32001, "Job not found: \(jobID)", "not_found", ["job_id": .string(jobID)])
    }
    public static func unknownType(_ type: String) -> RPCError {
        RPCError(-32002, "Unknown job type: \(type) (configure it under [types.\(type)])", "unknown_type",
                 ["type": .string(type)])
    }
    public static func idempotencyConflict(jobID: String) -> RPCError {
        RPCError(-32003, "Idempotency key reused with different parameters (job \(jobID) holds it)",
                 "idempotency_conflict", ["job_id": .string(jobID)])
    }
    public static func invalidState(status: String) -> RPCError {
        RPCError(-32004, "Not allowed while the job is \(status)", "invalid_state", ["status": .string(status)])
    }
    public static var leaseExpired: RPCError {
        RPCError(-32005, "Lease unknown or expired: stop working on this unit", "lease_expired")
    }
    public static func cursorExpired(oldestSeq: Int) -> RPCError {
        RPCError(-32006, "`since` is older than the retained event log (oldest seq \(oldestSeq)); resubscribe without since and reload state",
                 "cursor_expired", ["oldest_seq": .int(oldestSeq)])
    }
    public static func unavailable(_ detail: String) -> RPCError {
        RPCError(-32007, "Unavailable: \(detail)", "unavailable")
    }
    public static var cancelled: RPCError {
        RPCError(-32800, "Request cancelled", "cancelled")
    }
}

/// A JSON-RPC 2.0 message as received.
public enum RPCMessage: Hashable, Sendable {
    case request(id: JSON, method: String, params: JSON?)
    case notification(method: String, params: JSON?)
    /// A response to a request the kernel sent (to a worker).
    case response(id: JSON, result: Result<JSON, RPCError>)
}

/// One element of what a frame held: a message, or an invalid request to answer with an error.
public enum RPCEntry: Hashable, Sendable {
    case message(RPCMessage)
    case invalid(id: JSON, error: RPCError)
}

/// What one frame held: a single entry or a batch.
public enum RPCInbound: Hashable, Sendable {
    case single(RPCEntry)
    case batch([RPCEntry])
}

/// Decodes frames into JSON-RPC messages (SPEC §4).
public enum RPCDecoder {
    public static func decode(_ frame: [UInt8], maxDepth: Int = 64) -> RPCInbound {
        let value: JSON
        do {
            value = try JSONParser.parse(frame, maxDepth: maxDepth)
        } catch {
            switch error {
            case .tooDeep:
                return .single(.invalid(id: .null, error: .tooDeep(limit: maxDepth)))
            case .invalidUTF8(let offset):
                return .single(.invalid(id: .null, error: .parseError("invalid UTF-8 at byte \(offset)")))
            case .syntax(let offset, let message):
                return .single(.invalid(id: .null, error: .parseError("\(message) at byte \(offset)")))
            }
        }
        if case .array(let elements) = value {
            if elements.isEmpty { return .single(.invalid(id: .null, error: .invalidRequest("empty batch"))) }
            return .batch(elements.map(entry))
        }
        return .single(entry(value))
    }

    /// Validates one request object.
    public static func entry(_ value: JSON) -> RPCEntry {
        guard case .object(let o) = value else {
            return .invalid(id: .null, error: .invalidRequest("a request must be an object"))
        }
        var id: JSON?
        if let raw = o["id"] {
            switch raw {
            case .string, .int, .double, .rawNumber, .null: id = raw
            default: return .invalid(id: .null, error: .invalidRequest("`id` must be a string, a number or null"))
            }
        }
        guard o["jsonrpc"] == .string("2.0") else {
            return .invalid(id: id ?? .null, error: .invalidRequest("`jsonrpc` must be \"2.0\""))
        }
        if let methodValue = o["method"] {
            guard case .string(let method) = methodValue else {
                return .invalid(id: id ?? .null, error: .invalidRequest("`method` must be a string"))
            }
            let params = o["params"]
            if let params {
                switch params {
                case .object, .array: break
                default: return .invalid(id: id ?? .null, error: .invalidRequest("`params` must be an object or an array"))
                }
            }
            if let id { return .message(.request(id: id, method: method, params: params)) }
            return .message(.notification(method: method, params: params))
        }
        if let id, o["result"] != nil || o["error"] != nil {
            if let result = o["result"] { return .message(.response(id: id, result: .success(result))) }
            let e = o["error"]!
            let error = RPCError(code: e["code"]?.intValue ?? -32603, message: e["message"]?.stringValue ?? "error",
                                 data: e["data"])
            return .message(.response(id: id, result: .failure(error)))
        }
        return .invalid(id: id ?? .null, error: .invalidRequest("`method` is missing"))
    }
}

/// Builds outgoing JSON-RPC messages.
public enum RPCEncoder {
    public static func response(id: JSON, result: JSON) -> JSON {
        ["jsonrpc": "2.0", "id": id, "result": result]
    }

    public static func error(id: JSON, _ e: RPCError) -> JSON {
        ["jsonrpc": "2.0", "id": id, "error": e.json]
    }

    public static func notification(method: String, params: JSON) -> JSON {
        ["jsonrpc": "2.0", "method": .string(method), "params": params]
    }

    public static func request(id: JSON, method: String, params: JSON) -> JSON {
        ["jsonrpc": "2.0", "id": id, "method": .string(method), "params": params]
    }
}

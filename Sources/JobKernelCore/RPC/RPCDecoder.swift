/// Turns one frame into JSON-RPC 2.0 messages, or into the errors to answer (docs/promises.md §4).
///
/// Only the shape is checked here (`-32600`); methods and params are the method layer's job, so
/// positional (array) params pass and are rejected with `-32602` after the method lookup.
/// `"params": null` is an invalid request (JSON-RPC 2.0: params, when present, is structured);
/// extra members are ignored.
public enum RPCDecoder {
    /// Decodes one frame's bytes, nested at most `maxDepth` levels deep.
    public static func decode(_ frame: [UInt8], maxDepth: Int = 64) -> RPCInbound {
        if let entry = frame.withUnsafeBytes({ envelope($0, maxDepth: maxDepth) }) { return .single(entry) }
        let parsed = frame.withUnsafeBytes { bytes in
            Result { () throws(JSONParseError) -> JSON in try JSONParser.parse(bytes, maxDepth: maxDepth) }
        }
        switch parsed {
        case .failure(.tooDeep):
            return .single(.invalid(id: .null, error: .tooDeep(limit: maxDepth)))
        case .failure(let error):
            return .single(.invalid(id: .null, error: .parseError(error.description)))
        case .success(let value):
            return decode(value)
        }
    }

    /// Decodes an already parsed JSON value.
    public static func decode(_ value: JSON) -> RPCInbound {
        switch value {
        case .array(let elements):
            guard !elements.isEmpty else {
                return .single(.invalid(id: .null, error: .invalidRequest("an empty batch (`[]`) holds no request")))
            }
            return .batch(elements.map(entry))
        case .object:
            return .single(entry(value))
        default:
            return .single(.invalid(id: .null, error: .invalidRequest("expected an object or a batch array, got \(value.typeName)")))
        }
    }

    /// Validates one message (a whole frame or one batch element).
    public static func entry(_ value: JSON) -> RPCEntry {
        guard case .object(let object) = value else {
            return .invalid(id: .null, error: .invalidRequest("expected an object, got \(value.typeName)"))
        }
        let id = object["id"]
        if let id, !isValidID(id) {
            return .invalid(id: .null, error: .invalidRequest("`id` must be a string, a number or null, got \(id.typeName)"))
        }
        let echoedID = id ?? .null
        func invalid(_ detail: String) -> RPCEntry { .invalid(id: echoedID, error: .invalidRequest(detail)) }

        guard let version = object["jsonrpc"] else { return invalid("`jsonrpc` is missing; it must be \"2.0\"") }
        guard version == .string("2.0") else { return invalid("`jsonrpc` must be \"2.0\", got \(version.compactString)") }

        if let method = object["method"] {
            guard case .string(let name) = method else { return invalid("`method` must be a string, got \(method.typeName)") }
            let params = object["params"]
            switch params {
            case nil, .object?, .array?: break
            case let other?: return invalid("`params` must be an object or an array, got \(other.typeName)")
            }
            guard let id else { return .message(.notification(method: name, params: params)) }
            return .message(.request(id: id, method: name, params: params))
        }

        let result = object["result"]
        let error = object["error"]
        guard result != nil || error != nil else { return invalid("`method` is missing") }
        guard let id else { return invalid("a response must carry the `id` of its request") }
        if result != nil, error != nil { return invalid("a response must not carry both `result` and `error`") }
        if let result { return .message(.response(id: id, result: .success(result))) }
        guard let error, let rpcError = rpcError(error) else {
            return invalid("`error` must be an object with an integer `code` and a string `message`")
        }
        return .message(.response(id: id, result: .failure(rpcError)))
    }

    private static func isValidID(_ id: JSON) -> Bool {
        switch id {
        case .string, .int, .double, .rawNumber, .null: return true
        case .bool, .array, .object, .serialized: return false
        }
    }

    private static func rpcError(_ value: JSON) -> RPCError? {
        guard case .object(let object) = value,
            case .int(let code)? = object["code"],
            case .string(let message)? = object["message"]
        else { return nil }
        return RPCError(code: code, message: message, data: object["data"])
    }
}

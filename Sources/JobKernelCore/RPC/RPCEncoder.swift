/// Builds outbound JSON-RPC 2.0 messages with members in a fixed order: `jsonrpc`, `id`, then
/// `result`/`error` (or `method`, `params`).
public enum RPCEncoder {
    /// A success response.
    public static func response(id: JSON, result: JSON) -> JSON {
        .object(["jsonrpc": "2.0", "id": id, "result": result])
    }

    /// An error response.
    public static func error(id: JSON, _ error: RPCError) -> JSON {
        .object(["jsonrpc": "2.0", "id": id, "error": error.json])
    }

    /// A success or error response.
    public static func response(id: JSON, _ result: Result<JSON, RPCError>) -> JSON {
        switch result {
        case .success(let value): return response(id: id, result: value)
        case .failure(let failure): return error(id: id, failure)
        }
    }

    /// A success or error response written straight to bytes: the bytes of
    /// `response(id:_:)`'s compact serialization, without building the object.
    public static func writeResponse(id: JSON, _ result: Result<JSON, RPCError>, into b: inout ByteWriter) {
        b.append(#"{"jsonrpc":"2.0","id":"#)
        JSONWriter.write(id, into: &b)
        switch result {
        case .success(let value):
            b.append(#","result":"#)
            JSONWriter.write(value, into: &b)
        case .failure(let error):
            b.append(#","error":"#)
            JSONWriter.write(error.json, into: &b)
        }
        b.append(UInt8(ascii: "}"))
    }

    /// A notification; `params` is left out when nil.
    public static func notification(method: String, params: JSON?) -> JSON {
        var object: JSONObject = ["jsonrpc": "2.0", "method": .string(method)]
        if let params { object["params"] = params }
        return .object(object)
    }

    /// A request; `params` is left out when nil.
    public static func request(id: JSON, method: String, params: JSON?) -> JSON {
        var object: JSONObject = ["jsonrpc": "2.0", "id": id, "method": .string(method)]
        if let params { object["params"] = params }
        return .object(object)
    }

    /// Any message, encoded as above.
    public static func message(_ message: RPCMessage) -> JSON {
        switch message {
        case .request(let id, let method, let params): return request(id: id, method: method, params: params)
        case .notification(let method, let params): return notification(method: method, params: params)
        case .response(let id, let result): return response(id: id, result)
        }
    }
}

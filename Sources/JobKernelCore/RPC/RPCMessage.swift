/// One well-formed JSON-RPC 2.0 message, in either direction.
public enum RPCMessage: Hashable, Sendable {
    /// A call that expects an answer. `id` is a string, a number or null.
    case request(id: JSON, method: String, params: JSON?)
    /// A call that must never be answered.
    case notification(method: String, params: JSON?)
    /// An answer to a request of ours (workers answer the kernel's `run` requests).
    case response(id: JSON, result: Result<JSON, RPCError>)
}

import JobKernelCore

/// Why a call to the kernel did not produce a result.
public enum ClientError: Error, CustomStringConvertible, Sendable {
    /// Nothing accepted a connection at `path` (no socket file, a stale one, or no permission).
    case noKernel(path: String, reason: String)
    /// The kernel answered the request with a JSON-RPC error.
    case rpc(code: Int, message: String, data: JSON?)
    /// Reading or writing the socket failed, or the kernel closed the connection.
    case io(String)
    /// The kernel sent something that is not JSON-RPC 2.0 as this client understands it.
    case protocolError(String)

    /// The stable snake_case `data.reason` of an RPC error, if the kernel gave one.
    public var reason: String? {
        if case .rpc(_, _, let data) = self { return data?["reason"]?.stringValue }
        return nil
    }

    public var description: String {
        switch self {
        case .noKernel(let path, let reason):
            return "no kernel answers at \(path) (\(reason))"
        case .rpc(let code, let message, let data):
            if let reason = data?["reason"]?.stringValue { return "\(message) (code \(code), \(reason))" }
            return "\(message) (code \(code))"
        case .io(let detail):
            return detail
        case .protocolError(let detail):
            return "protocol error: \(detail)"
        }
    }
}

import CLibUV

/// A libuv (negative errno) failure with the operation that produced it.
public struct UVError: Error, Equatable, CustomStringConvertible {
    /// The libuv status code (negative errno, e.g. `UV_EPIPE`).
    public let code: Int32
    /// What was being done, e.g. "write" or "uv_pipe_open".
    public let operation: String

    /// Wraps a libuv status code.
    public init(_ code: Int32, _ operation: String) {
        self.code = code
        self.operation = operation
    }

    /// The symbolic name, e.g. "EPIPE".
    public var name: String { String(cString: uv_err_name(code)) }

    /// "write: broken pipe (EPIPE)".
    public var description: String { "\(operation): \(String(cString: uv_strerror(code))) (\(name))" }

    /// Throws when `status` is a libuv error.
    static func check(_ status: Int32, _ operation: String) throws(UVError) {
        if status < 0 { throw UVError(status, operation) }
    }
}

import CNATS

/// A failure of the NATS client or of a JetStream API call, with what was being done.
public struct NATSError: Error, Equatable, CustomStringConvertible {
    /// The libnats status (`NATS_OK` is never thrown).
    public let status: Int32
    /// The JetStream API error code (e.g. 10058, stream name in use), or 0.
    public let jetStreamCode: Int32
    /// What was being done, e.g. "connect to nats://127.0.0.1:4222" or "js_AddStream(JOBKERNEL)".
    public let operation: String
    /// libnats's text for the failure (its last error when it has one), plus any hint.
    public let message: String

    /// Wraps a status, reading libnats's thread-local last error for detail.
    init(_ status: natsStatus, _ operation: String, jetStreamCode: jsErrCode = jsErrCode(rawValue: 0), hint: String? = nil) {
        self.status = Int32(bitPattern: status.rawValue)
        self.jetStreamCode = Int32(bitPattern: jetStreamCode.rawValue)
        self.operation = operation
        var detail = String(cString: natsStatus_GetText(status))
        var lastStatus = NATS_OK
        if let last = nats_GetLastError(&lastStatus), last.pointee != 0 {
            let text = String(cString: last)
            if text != detail { detail += " (\(text))" }
        }
        if let hint { detail += "; \(hint)" }
        message = detail
    }

    /// A failure detected by the bridge itself (bad argument), not by libnats.
    init(invalidArgument operation: String, _ message: String) {
        status = Int32(bitPattern: NATS_INVALID_ARG.rawValue)
        jetStreamCode = 0
        self.operation = operation
        self.message = message
    }

    /// "connect to nats://…: No server available for connection; is a server running …".
    public var description: String { "\(operation): \(message)" }

    /// Throws unless `status` is `NATS_OK`.
    static func check(_ status: natsStatus, _ operation: String, jetStreamCode: jsErrCode = jsErrCode(rawValue: 0)) throws(NATSError) {
        if status != NATS_OK { throw NATSError(status, operation, jetStreamCode: jetStreamCode) }
    }
}

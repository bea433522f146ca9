import Glibc
import JobKernelCore

/// A blocking JSON-RPC 2.0 client for a kernel's Unix socket, speaking newline-delimited JSON.
///
/// One request is in flight at a time: `call` sends a request and reads until the response with
/// its id arrives. Notifications (`event`, `subscription.dropped`) that arrive meanwhile are kept,
/// in order, for `nextNotification`. Not thread-safe; use one client per thread.
public final class KernelClient {
    /// The socket path this client is connected to.
    public let socketPath: String

    private var fd: Int32
    private var nextID = 1
    private var inbox: [UInt8] = []
    private var inboxStart = 0
    private var notifications: [(method: String, params: JSON)] = []
    private var notificationsStart = 0
    private var peerClosed = false

    /// Deep enough for any job the kernel accepts (payloads are limited to 64 levels) wrapped in
    /// an event notification.
    private static let maxDepth = 256

    /// Connects to the kernel listening at `socketPath`.
    public init(socketPath: String) throws(ClientError) {
        self.socketPath = socketPath
        fd = try UnixSocket.connect(path: socketPath)
    }

    deinit { close() }

    /// Closes the connection; the kernel ends this connection's subscriptions. Idempotent.
    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    /// Calls `method` and returns its result. `params` nil sends no `params` member.
    /// Throws `.rpc` when the kernel answers with an error.
    @discardableResult
    public func call(_ method: String, _ params: JSON? = nil) throws(ClientError) -> JSON {
        let id = nextID
        nextID += 1
        var request: JSONObject = ["jsonrpc": "2.0", "id": .int(id), "method": .string(method)]
        if let params { request["params"] = params }
        try send(JSON.object(request))
        while true {
            guard let message = try readMessage(timeoutMs: nil) else { continue }
            guard case .object(let object) = message else {
                throw .protocolError("expected a JSON-RPC object, got \(message.typeName)")
            }
            if let method = object["method"]?.stringValue {
                if object["id"] == nil { keep(method: method, params: object["params"] ?? .null) }
                continue  // the kernel sends clients no requests; ignore one rather than fail
            }
            guard let responseID = object["id"], responseID.intValue == id else { continue }
            if let error = object["error"] {
                throw .rpc(
                    code: error["code"]?.intValue ?? 0,
                    message: error["message"]?.stringValue ?? "error without a message",
                    data: error["data"])
            }
            guard let result = object["result"] else {
                throw .protocolError("response \(id) has neither result nor error")
            }
            return result
        }
    }

    /// The next notification from the kernel: a buffered one first, else one read from the socket.
    /// Waits at most `timeoutMs` milliseconds (nil: forever) and returns nil when none came.
    public func nextNotification(timeoutMs: Int? = nil) throws(ClientError) -> (method: String, params: JSON)? {
        if let buffered = takeBuffered() { return buffered }
        let deadline = timeoutMs.map { KernelClient.nowMs() + $0 }
        while true {
            let remaining = deadline.map { max(0, $0 - KernelClient.nowMs()) }
            guard let message = try readMessage(timeoutMs: remaining) else {
                if let deadline, KernelClient.nowMs() >= deadline { return nil }
                continue
            }
            if case .object(let object) = message, let method = object["method"]?.stringValue,
                object["id"] == nil
            {
                return (method, object["params"] ?? .null)
            }
            // A stray response (to a request that was abandoned) is dropped.
        }
    }

    // MARK: - Framing

    private func keep(method: String, params: JSON) {
        notifications.append((method, params))
    }

    /// Puts notifications back at the front of the queue, in order.
    func requeue(_ taken: [(method: String, params: JSON)]) {
        guard !taken.isEmpty else { return }
        notifications = taken + notifications[notificationsStart...]
        notificationsStart = 0
    }

    /// Forgets the buffered events of a subscription that has ended.
    func dropNotifications(subscription: String) {
        notifications = notifications[notificationsStart...].filter {
            !($0.method == "event" && $0.params["subscription"]?.stringValue == subscription)
        }
        notificationsStart = 0
    }

    private func takeBuffered() -> (method: String, params: JSON)? {
        guard notificationsStart < notifications.count else { return nil }
        let next = notifications[notificationsStart]
        notificationsStart += 1
        if notificationsStart == notifications.count {
            notifications.removeAll(keepingCapacity: true)
            notificationsStart = 0
        }
        return next
    }

    private func send(_ message: JSON) throws(ClientError) {
        guard fd >= 0 else { throw .io("the connection is closed") }
        var bytes = message.serialized()
        bytes.append(0x0A)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw .io("cannot write to the kernel at \(socketPath): \(KernelClient.lastError())")
            }
            offset += written
        }
    }

    /// One complete JSON message, or nil when `timeoutMs` passed first (or a blank line was read).
    private func readMessage(timeoutMs: Int?) throws(ClientError) -> JSON? {
        while true {
            if let newline = inbox[inboxStart...].firstIndex(of: 0x0A) {
                let line = inbox[inboxStart..<newline]
                inboxStart = newline + 1
                if inboxStart == inbox.count {
                    inbox.removeAll(keepingCapacity: true)
                    inboxStart = 0
                }
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                do {
                    return try JSONParser.parse(Array(line), maxDepth: KernelClient.maxDepth)
                } catch {
                    throw .protocolError("the kernel sent a line that is not JSON (\(error))")
                }
            }
            if peerClosed {
                throw .io("the kernel closed the connection")
            }
            guard try fill(timeoutMs: timeoutMs) else { return nil }
        }
    }

    /// Reads what the socket has; false when `timeoutMs` passed with nothing to read.
    private func fill(timeoutMs: Int?) throws(ClientError) -> Bool {
        guard fd >= 0 else { throw .io("the connection is closed") }
        var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pollFD, 1, Int32(clamping: timeoutMs ?? -1))
        if ready < 0 {
            if errno == EINTR { return false }
            throw .io("cannot read from the kernel: \(KernelClient.lastError())")
        }
        if ready == 0 { return false }
        if inboxStart > 0 && inboxStart > inbox.count / 2 {
            inbox.removeFirst(inboxStart)
            inboxStart = 0
        }
        let chunk = 65536
        let oldCount = inbox.count
        inbox.append(contentsOf: repeatElement(0, count: chunk))
        let got = inbox.withUnsafeMutableBytes { raw in
            recv(fd, raw.baseAddress! + oldCount, chunk, 0)
        }
        if got < 0 {
            inbox.removeLast(chunk)
            if errno == EINTR || errno == EAGAIN { return true }
            throw .io("cannot read from the kernel: \(KernelClient.lastError())")
        }
        inbox.removeLast(chunk - got)
        if got == 0 { peerClosed = true }
        return true
    }

    static func lastError() -> String { String(cString: strerror(errno)) }

    static func nowMs() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return now.tv_sec * 1000 + now.tv_nsec / 1_000_000
    }
}

import CNATS
import Glibc
import JobKernelIO
import JobKernelNATS
import Testing

/// A `nats-server` of the test's own, on a free loopback port with storage in a temp dir.
///
/// Runs under `timeout` so that it dies even if the test process crashes before `stop()`.
final class NATSTestServer {
    let port: Int
    let directory: String
    private var pid: pid_t = 0

    var url: String { "nats://127.0.0.1:\(port)" }

    init(jetStream: Bool = true) throws {
        port = try freeLoopbackPort()
        var template = Array("/tmp/jknats-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw TestFailure("mkdtemp failed")
        }
        directory = String(cString: template)
        self.jetStream = jetStream
        try start()
    }

    private let jetStream: Bool

    private func start() throws {
        var arguments = ["timeout", "120", "nats-server", "-a", "127.0.0.1", "-p", String(port)]
        if jetStream { arguments += ["-js", "-sd", directory + "/js"] }
        pid = try spawn(arguments, log: directory + "/server.log")
        try waitUntilListening()
    }

    /// Stops the server process, keeping its storage; `start` brings it back on the same port.
    func crash() {
        guard pid > 0 else { return }
        resume()
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }

    /// Stops the server process (SIGSTOP) without closing its connections: a server that no
    /// longer answers. `timeout` made itself a process group leader, so the group holds the server.
    /// Returns once every thread of the group has stopped (at most 5 s): the signal only starts
    /// the stop, and a server thread woken meanwhile by a message would still answer it.
    func pause() {
        guard pid > 0 else { return }
        kill(-pid, SIGSTOP)
        var waitedMs = 0
        while !processGroupStopped(pid) && waitedMs < 5000 {
            usleep(1000)
            waitedMs += 1
        }
    }

    /// Lets a paused server go on; harmless on one that is not paused.
    func resume() {
        if pid > 0 { kill(-pid, SIGCONT) }
    }

    /// Deletes the JetStream store after `crash()`, as a server brought back without its volume finds it.
    func wipe() throws {
        precondition(pid == 0, "wipe() of a running server")
        var status: Int32 = 0
        waitpid(try spawn(["rm", "-rf", directory + "/js"], log: "/dev/null"), &status, 0)
    }

    /// Starts the server again after `crash()`, with the same port and storage.
    func restart() throws {
        precondition(pid == 0, "restart() of a running server")
        try start()
    }

    /// Waits until the port accepts connections (the server is ready), at most 5 s.
    private func waitUntilListening() throws {
        for _ in 0..<500 {
            if canConnect(port: port) { return }
            usleep(10_000)
        }
        stop()
        throw TestFailure("nats-server did not listen on port \(port) within 5 s")
    }

    /// Kills the server (if running) and removes its directory; idempotent.
    func stop() {
        crash()
        var status: Int32 = 0
        if let rm = try? spawn(["rm", "-rf", directory], log: "/dev/null") {
            waitpid(rm, &status, 0)
        }
    }

    deinit { stop() }
}

/// True when every thread of every process in process group `group` is stopped, as /proc says.
func processGroupStopped(_ group: pid_t) -> Bool {
    /// State and process group from a `stat` file: the fields after the command's closing ')'.
    func stateAndGroup(_ path: String) -> (state: Character, group: pid_t)? {
        guard let text = readSmallFile(path), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let state = fields[0].first, let group = pid_t(fields[2]) else { return nil }
        return (state, group)
    }
    var sawMember = false
    for process in directoryEntries("/proc") where Int(process) != nil {
        guard let (_, processGroup) = stateAndGroup("/proc/\(process)/stat"), processGroup == group else { continue }
        sawMember = true
        for thread in directoryEntries("/proc/\(process)/task") where Int(thread) != nil {
            // A thread that exited meanwhile has no stat file left: it answers nothing either.
            guard let (state, _) = stateAndGroup("/proc/\(process)/task/\(thread)/stat") else { continue }
            if state != "T" && state != "t" { return false }
        }
    }
    return sawMember
}

/// The names in directory `path` (without "." and ".."); empty if it cannot be read.
func directoryEntries(_ path: String) -> [String] {
    guard let directory = opendir(path) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// The first 4 KiB of the file at `path`, or nil if it cannot be read.
func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = read(fd, &buffer, buffer.count)
    guard count > 0 else { return nil }
    return String(decoding: buffer[..<count], as: UTF8.self)
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Starts `arguments` (looked up in PATH) with stdout and stderr appended to `log`.
func spawn(_ arguments: [String], log: String) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    // Test threads (libdispatch workers) block signals and children inherit the mask: without
    // this reset `timeout` would never see our SIGTERM.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var pid: pid_t = 0
    let status = posix_spawnp(&pid, arguments[0], &actions, &attributes, &argv, environ)
    guard status == 0 else { throw TestFailure("posix_spawnp \(arguments[0]): \(String(cString: strerror(status)))") }
    return pid
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw TestFailure("no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}

/// Runs `loop` until `done()` holds (checked every 5 ms) or `timeoutMs` passes; returns `done()`.
@discardableResult
func runUntil(_ loop: EventLoop, timeoutMs: UInt64 = 5000, _ done: @escaping () -> Bool) -> Bool {
    let deadline = loop.hrtimeNs + timeoutMs * 1_000_000
    let poll = LoopTimer(loop: loop)
    poll.start(afterMs: 0, repeatMs: 5) {
        if done() || loop.hrtimeNs > deadline { loop.stop() }
    }
    loop.run()
    poll.close()
    return done()
}

/// A remote worker as any libnats program would write it: its own connection, a durable pull
/// consumer per job type on the units stream, and plain publishes for results and progress.
final class TestWorker {
    private var connection: OpaquePointer?
    private var jetStream: OpaquePointer?
    private var subscriptions: [String: OpaquePointer] = [:]

    init(url: String) throws {
        try check(natsConnection_ConnectTo(&connection, url), "worker connect")
        try check(natsConnection_JetStream(&jetStream, connection, nil), "worker JetStream")
    }

    /// Fetches up to `batch` units of `type`, waiting at most `timeoutMs`, and acks each (the work is done).
    func fetchUnits(type: String, batch: Int32 = 10, timeoutMs: Int64 = 2000) throws -> [[UInt8]] {
        let subscription = try pullSubscription(type: type)
        var list = natsMsgList()
        var code = jsErrCode(rawValue: 0)
        let status = natsSubscription_Fetch(&list, subscription, batch, timeoutMs, &code)
        if status == NATS_TIMEOUT { return [] }
        try check(status, "fetch \(type)")
        defer { natsMsgList_Destroy(&list) }
        var bodies: [[UInt8]] = []
        for index in 0..<Int(list.Count) {
            guard let message = list.Msgs[index] else { continue }
            let count = Int(natsMsg_GetDataLength(message))
            bodies.append(count == 0 ? [] : Array(UnsafeRawBufferPointer(start: natsMsg_GetData(message), count: count)))
            try check(natsMsg_AckSync(message, nil, &code), "ack unit")
        }
        return bodies
    }

    private func pullSubscription(type: String) throws -> OpaquePointer {
        if let existing = subscriptions[type] { return existing }
        var subscription: OpaquePointer?
        var code = jsErrCode(rawValue: 0)
        var options = jsSubOptions()
        jsSubOptions_Init(&options)
        let status = "JOBKERNEL".withCString { stream in
            options.Stream = stream
            return js_PullSubscribe(&subscription, jetStream, "jobkernel.units.\(type)", "worker-\(type)", nil, &options, &code)
        }
        try check(status, "pull subscribe \(type) (code \(code.rawValue))")
        subscriptions[type] = subscription!
        return subscription!
    }

    /// Publishes a result through JetStream and waits for the stream to store it.
    func publishResult(_ json: String) throws {
        var code = jsErrCode(rawValue: 0)
        let status = js_Publish(nil, jetStream, "jobkernel.results", json, Int32(json.utf8.count), nil, &code)
        try check(status, "publish result (code \(code.rawValue))")
    }

    /// Publishes progress over core NATS and flushes.
    func publishProgress(_ json: String) throws {
        try check(natsConnection_PublishString(connection, "jobkernel.progress", json), "publish progress")
        try check(natsConnection_Flush(connection), "flush")
    }

    /// Messages currently stored in `stream`.
    func storedMessages(stream: String) throws -> UInt64 {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(rawValue: 0)
        try check(js_GetStreamInfo(&info, jetStream, stream, nil, &code), "stream info \(stream)")
        defer { jsStreamInfo_Destroy(info) }
        return info!.pointee.State.Msgs
    }

    func close() {
        for subscription in subscriptions.values { natsSubscription_Destroy(subscription) }
        subscriptions = [:]
        jsCtx_Destroy(jetStream)
        jetStream = nil
        natsConnection_Destroy(connection)
        connection = nil
    }

    deinit { close() }

    private func check(_ status: natsStatus, _ what: String) throws {
        if status != NATS_OK { throw TestFailure("\(what): \(String(cString: natsStatus_GetText(status)))") }
    }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

/// The bodies of the results `bridge` delivers, in order, each acknowledged as it comes (as the
/// kernel does once the result is committed). Set as the bridge's `onResult` when made.
final class AckedResults {
    private(set) var bodies: [String] = []

    init(_ bridge: NATSBridge) {
        bridge.onResult = { body, ack in
            self.bodies.append(body.text)
            ack()
        }
    }
}

/// Runs `bridge`'s loop until the server has confirmed every unit sent with `send` (none awaits
/// its answer, none is held to publish again), at most `timeoutMs`; returns whether it did.
@discardableResult
func runUntilConfirmed(_ bridge: NATSBridge, timeoutMs: UInt64 = 5000) -> Bool {
    runUntil(bridge.loop, timeoutMs: timeoutMs) { bridge.unconfirmedUnits == 0 }
}

/// Runs `body` with a server of its own, a loop and a bridge connected to that server; whatever
/// `body` does, closes the bridge (closing it again is harmless), then the loop, then stops the server.
func withBridge(
    options: NATSBridge.Options = .init(),
    _ body: (NATSTestServer, EventLoop, NATSBridge) throws -> Void
) throws {
    let server = try NATSTestServer()
    defer { server.stop() }
    try withBridge(to: server, options: options) { loop, bridge in try body(server, loop, bridge) }
}

/// Runs `body` with a new loop and a bridge connected to `server`; whatever `body` does, closes the
/// bridge (closing it again is harmless), then the loop. The server stays up.
func withBridge(
    to server: NATSTestServer,
    options: NATSBridge.Options = .init(),
    _ body: (EventLoop, NATSBridge) throws -> Void
) throws {
    let loop = try EventLoop()
    defer { loop.close() }
    let bridge = try NATSBridge(loop: loop, url: server.url, options: options)
    defer { bridge.close() }
    try body(loop, bridge)
}

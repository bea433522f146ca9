import CNATS
import JobKernelIO

/// The async_api broker over NATS JetStream (protocol/nats.md), used by the kernel on its loop thread.
///
/// Units go out with `send` to `jobkernel.units.<type>` (stream `streamName`, work-queue
/// retention); workers report on `jobkernel.results` (stream `<streamName>_RESULTS`, read through
/// the durable push consumer `jobkernel`, so results survive a kernel restart) and may send progress
/// on `jobkernel.progress` (core NATS). libnats delivers on its own threads; an `AsyncSignal` brings
/// every message, and every loss or recovery of the connection, to the loop thread, where
/// `onResult`, `onProgress` and `onConnectionChange` run.
///
/// `send` does not wait for the server: its answer comes later through the inbox, at most
/// `maxUnconfirmed` units are out unanswered at a time (`hasPublishRoom`), and each stays kept
/// until it is confirmed. While the server is away libnats reconnects by itself; `health` says so.
/// A unit whose publish got no answer (or an error) may or may not be stored, so the bridge holds
/// it and `resume` sends it again under the same `Nats-Msg-Id`, which the server stores at most
/// once. When a publish finds no stream (a server back without its store) `resume`
/// first creates the streams and the results consumer again.
///
/// Every method, and every `ack` handed to `onResult`, is for the loop thread only.
public final class NATSBridge {
    /// Subject prefix of units; the job type is the last token.
    public static let unitSubjectPrefix = "jobkernel.units."
    /// Subject workers publish `{lease,status,result?,error?}` to.
    public static let resultSubject = "jobkernel.results"
    /// Subject workers publish progress and log messages to.
    public static let progressSubject = "jobkernel.progress"
    /// Durable name of the kernel's consumer on the results stream.
    public static let resultConsumer = "jobkernel"

    /// Tunables; the defaults suit a kernel and a server on one network.
    public struct Options: Sendable {
        /// How long to wait for the TCP connection and the server's INFO.
        public var connectTimeoutMs: Int64 = 2000
        /// How long a JetStream API call or publish waits for the server's answer.
        public var requestTimeoutMs: Int64 = 2000
        /// Window in which a repeated `Nats-Msg-Id` is dropped by the server (both streams).
        public var duplicateWindowSeconds: Int64 = 600
        /// How long a delivered result may stay unacknowledged before JetStream redelivers it.
        public var resultAckWaitSeconds: Int64 = 30
        /// Results delivered and not yet acknowledged, at most.
        public var maxResultsInFlight: Int64 = 1000
        /// How often libnats pings the server; with `maxPingsOut` it bounds how long a server
        /// that stopped answering goes unnoticed.
        public var pingIntervalMs: Int64 = 2000
        /// Unanswered pings after which the connection counts as lost and libnats reconnects.
        public var maxPingsOut: Int32 = 2
        /// How long after a publish that got no answer `onReady` runs, to publish held units again.
        public var retryMs: UInt64 = 1000
        /// Units sent with `send` and not yet answered by the server, at most.
        public var maxUnconfirmed: Int = 4096

        /// The defaults.
        public init() {}
    }

    /// Whether the server is reachable, as libnats last reported it.
    public struct Health: Sendable, Equatable {
        /// False from a lost connection until libnats has reconnected.
        public var connected: Bool
        /// When `connected` last changed (or the bridge connected), in ms since the Unix epoch.
        public var sinceMs: Int64
        /// Connections lost since the bridge connected.
        public var disconnects: Int
        /// How long the latest loss lasted, once the connection is back (0 before).
        public var lastOutageMs: Int64 = 0
    }

    /// The loop every callback runs on.
    public let loop: EventLoop
    /// The server URL given at creation.
    public let url: String
    /// Name of the units stream; the results stream is `resultStreamName`.
    public let streamName: String
    /// Name of the results stream.
    public var resultStreamName: String { streamName + "_RESULTS" }
    /// The options given at creation.
    public let options: Options

    /// A result from a worker, with the acknowledgement to call once its outcome is committed.
    /// Until the handler is set, results wait (unacknowledged) in the bridge.
    public var onResult: ((_ body: [UInt8], _ ack: @escaping () -> Void) -> Void)? {
        didSet {
            if onResult != nil && !heldResults.isEmpty {
                backlog = heldResults + backlog
                heldResults = []
                signal.send()
            }
        }
    }
    /// A progress or log message from a worker; dropped while unset.
    public var onProgress: (([UInt8]) -> Void)?
    /// The connection was lost or is back (`health` already says which).
    public var onConnectionChange: ((Health) -> Void)?
    /// Publishing may go on: the connection is back, `retryMs` passed since a publish got no
    /// answer, or the server confirmed units sent with `send` (room in the window again). The
    /// handler calls `resume`, then publishes what else waits.
    public var onReady: (() -> Void)?

    /// The connection's state, updated on the loop thread as libnats reports changes.
    public private(set) var health: Health
    /// Units whose publish got no answer, kept to publish again (`resume`).
    public var heldUnits: Int { held.count }
    /// Units not confirmed by the server: held, or sent with `send` and not yet answered.
    public var unconfirmedUnits: Int { held.count + sent.count }
    /// True while fewer than `maxUnconfirmed` units sent with `send` await their answer.
    public var hasPublishRoom: Bool { sent.count < options.maxUnconfirmed }

    /// True once `close()` was called.
    public private(set) var isClosed = false

    let connection: OpaquePointer
    let jetStream: OpaquePointer
    var resultSubscription: OpaquePointer?
    var progressSubscription: OpaquePointer?
    private let signal: AsyncSignal
    private let inbox: NATSInbox
    private let retryTimer: LoopTimer
    /// Units to publish again, oldest first.
    private var held: [Unit] = []
    /// Units sent with `send`, by msgID, until the server's answer comes through the inbox.
    private var sent: [String: Unit] = [:]
    /// Set when a publish found no stream: the server lost its store, so `resume` creates the
    /// streams and the results consumer again (idempotently). Not done on every reconnect: a
    /// server just restarted may take seconds to answer JetStream calls, each of which would
    /// block the loop meanwhile.
    private var needsSetUp = false
    /// Taken from the inbox, not yet delivered.
    private var backlog: [NATSIncoming] = []
    /// Results that arrived while `onResult` was unset, in arrival order.
    private var heldResults: [NATSIncoming] = []

    /// Connects to `url`, creates or updates both streams and the results consumer, and subscribes.
    /// Throws a `NATSError` naming the URL when the server is unreachable or lacks JetStream.
    public init(loop: EventLoop, url: String, streamName: String = "JOBKERNEL", options: Options = Options()) throws {
        guard NATSBridge.isSubjectToken(streamName) else {
            throw NATSError(invalidArgument: "NATSBridge", "stream name \"\(streamName)\" must be a non-empty name without spaces, '.', '*' or '>'")
        }
        self.loop = loop
        self.url = url
        self.streamName = streamName
        self.options = options

        // The signal's stream retains its callback; a weak box keeps that from retaining `self`.
        let box = WeakBridge()
        let signal = try AsyncSignal(loop: loop) { box.bridge?.drain() }
        let inbox = NATSInbox(wake: signal.sender)
        let connection: OpaquePointer
        do {
            connection = try NATSBridge.connect(url: url, options: options, inbox: inbox)
        } catch {
            signal.close()
            throw error
        }
        var jetStream: OpaquePointer?
        var jsOptions = jsOptions()
        jsOptions_Init(&jsOptions)
        jsOptions.Wait = options.requestTimeoutMs
        // libnats stalls `js_PublishAsync` past this many unanswered publishes; `send` never gets
        // there (`hasPublishRoom`). The context keeps this reference to the inbox for good:
        // libnats tells of no last answer callback after which it could be released.
        jsOptions.PublishAsync.MaxPending = Int64(options.maxUnconfirmed)
        jsOptions.PublishAsync.AckHandler = natsInboxPublished
        jsOptions.PublishAsync.AckHandlerClosure = inbox.retainForSubscription()
        let status = natsConnection_JetStream(&jetStream, connection, &jsOptions)
        guard status == NATS_OK, let jetStream else {
            natsConnection_Destroy(connection)
            signal.close()
            throw NATSError(status, "JetStream context on \(url)")
        }
        self.signal = signal
        self.inbox = inbox
        self.connection = connection
        self.jetStream = jetStream
        retryTimer = LoopTimer(loop: loop)
        health = Health(connected: true, sinceMs: natsWallClockMs(), disconnects: 0)
        box.bridge = self

        do {
            try setUpStreams()
            try subscribe()
        } catch {
            close()
            throw error
        }
    }

    deinit {
        if !isClosed { close() }
    }

    /// A unit to publish: its job type, body (the lease object as JSON) and msgID (the lease id).
    private struct Unit {
        let type: String
        let body: [UInt8]
        let msgID: String
    }

    /// Throws for a closed bridge, a type that is not a subject token, or an empty msgID, which no
    /// retry can fix.
    private func checkUnit(type: String, msgID: String) throws {
        let operation = "publish unit \(msgID) to \(NATSBridge.unitSubjectPrefix)\(type)"
        guard !isClosed else { throw NATSError(invalidArgument: operation, "the bridge is closed") }
        guard NATSBridge.isSubjectToken(type) else {
            throw NATSError(invalidArgument: operation, "a job type used as a subject token must be non-empty without spaces, '.', '*' or '>'")
        }
        guard !msgID.isEmpty else { throw NATSError(invalidArgument: operation, "msgID must not be empty") }
    }

    /// Publishes one unit (the lease object as JSON) to `jobkernel.units.<type>` with header
    /// `Nats-Msg-Id: msgID`, without waiting for the server's answer, which comes later through the
    /// inbox: a confirmation ends it (and runs `onReady`, there being room in the window again); an
    /// error or no answer within `requestTimeoutMs` holds it for `resume`. Within the duplicate
    /// window the server stores a second unit with the same `msgID` not at all, and confirms it.
    /// Returns false, holding it at once, when the connection is down or libnats refuses it. The
    /// caller keeps within the window: call only while `hasPublishRoom`.
    /// Throws only for a closed bridge or an invalid type or msgID, which no retry can fix.
    public func send(type: String, body: [UInt8], msgID: String) throws -> Bool {
        try checkUnit(type: type, msgID: msgID)
        let unit = Unit(type: type, body: body, msgID: msgID)
        guard isConnected, sendUnit(unit) else {
            held.append(unit)
            armRetry()
            return false
        }
        return true
    }

    /// Calls `body` with the options of a unit's publish: its `Nats-Msg-Id`, the stream it must
    /// land in, and how long the server may take to confirm it (libnats answers a publish not
    /// confirmed in that time with NATS_TIMEOUT).
    private func withUnitOptions(msgID: String, _ body: (inout jsPubOptions) -> natsStatus) -> natsStatus {
        msgID.withCString { msgID in
            streamName.withCString { stream in
                var publish = jsPubOptions()
                jsPubOptions_Init(&publish)
                publish.MsgId = msgID
                publish.ExpectStream = stream
                publish.MaxWait = options.requestTimeoutMs
                return body(&publish)
            }
        }
    }

    /// Hands `unit` to libnats to publish and records it as sent; false if libnats refused it.
    private func sendUnit(_ unit: Unit) -> Bool {
        let subject = NATSBridge.unitSubjectPrefix + unit.type
        let status = withUnitOptions(msgID: unit.msgID) { publish in
            unit.body.withUnsafeBytes { bytes in
                js_PublishAsync(jetStream, subject, bytes.baseAddress, Int32(bytes.count), &publish)
            }
        }
        guard status == NATS_OK else { return false }
        sent[unit.msgID] = unit
        return true
    }

    /// The server's answer to a unit sent with `send`: a confirmation ends it; anything else holds
    /// it to publish again under the same msgID. True for a confirmation.
    private func published(msgID: String, status: natsStatus) -> Bool {
        guard let unit = sent.removeValue(forKey: msgID) else { return false }
        if status == NATS_OK { return true }
        if status == NATS_NO_RESPONDERS { needsSetUp = true }
        held.append(unit)
        armRetry()
        return false
    }

    /// Gets publishing going again: if a publish found no stream, creates both streams and the
    /// results consumer again; then publishes the held units again, oldest first, each under its
    /// first msgID (with `send`, so without waiting for their answers), dropping those `isWanted`
    /// refuses (their lease ended meanwhile). Stops at the first step that gets no answer and arms
    /// the retry, or when the window of unanswered units is full. True when new units may be published.
    ///
    /// Until that retry is due it tries nothing and returns false: the kernel calls this on every
    /// turn that queues a unit, and on a server that stopped answering each setup of the streams
    /// would block the loop for `requestTimeoutMs`, each unit sent again would only time out again.
    public func resume(isWanted: (String) -> Bool) -> Bool {
        if retryTimer.isActive { return false }
        if needsSetUp {
            do {
                try setUpStreams()
                needsSetUp = false
            } catch {
                armRetry()
                return false
            }
        }
        var next = 0
        defer { held.removeFirst(next) }
        while next < held.count {
            let unit = held[next]
            guard isWanted(unit.msgID) else {
                next += 1
                continue
            }
            guard hasPublishRoom else { return false }
            guard isConnected, sendUnit(unit) else {
                armRetry()
                return false
            }
            next += 1
        }
        return true
    }

    private func armRetry() {
        guard !retryTimer.isActive, !isClosed else { return }
        // The loop's clock may have been read before a setup of the streams that just waited for
        // its timeout; counted from then, the retry would be due at once.
        loop.updateTime()
        retryTimer.start(afterMs: options.retryMs) { [unowned self] in
            if self.isConnected { self.onReady?() }
        }
    }

    /// True while the connection is up (false during libnats's reconnect attempts and after
    /// `close()`), as libnats's callbacks last told the loop. Asking libnats instead
    /// (`natsConnection_Status`) takes the connection's lock, which a reconnect attempt to a
    /// server that accepts but does not answer holds for the whole connect timeout.
    public var isConnected: Bool {
        !isClosed && health.connected
    }

    /// Progress messages dropped because the loop thread fell `NATSInbox.maxQueuedProgress` behind.
    public var droppedProgress: Int { inbox.droppedProgress }

    /// Unsubscribes, hands undelivered results back to JetStream (nak, so they are redelivered at
    /// once to the next bridge), flushes pending acks, and closes the connection. Idempotent.
    /// Acks called after this are dropped; those results come back after `resultAckWaitSeconds`.
    public func close() {
        if isClosed { return }
        isClosed = true
        let leftovers = heldResults + backlog + inbox.close()
        heldResults = []
        backlog = []
        for case .result(let message) in leftovers {
            natsMsg_Nak(message.raw, nil)
            natsMsg_Destroy(message.raw)
        }
        held = []
        sent = [:]
        retryTimer.close()
        natsConnection_FlushTimeout(connection, options.requestTimeoutMs)
        // A bound subscription leaves its durable consumer in place on unsubscribe.
        for subscription in [resultSubscription, progressSubscription] {
            guard let subscription else { continue }
            natsSubscription_Unsubscribe(subscription)
            natsSubscription_Destroy(subscription)
        }
        resultSubscription = nil
        progressSubscription = nil
        jsCtx_Destroy(jetStream)
        natsConnection_Destroy(connection)
        signal.close()
        onResult = nil
        onProgress = nil
        onConnectionChange = nil
        onReady = nil
    }

    /// A +1 reference to the inbox for one subscription's closure.
    func inboxReference() -> UnsafeMutableRawPointer { inbox.retainForSubscription() }

    /// Acknowledges a delivered result (fire and forget; a lost ack means one redelivery).
    func acknowledge(_ message: OpaquePointer) {
        natsMsg_Ack(message, nil)
    }

    /// Delivers what the inbox holds, in arrival order. Runs on the loop thread after a wake-up.
    private func drain() {
        guard !isClosed else { return }
        backlog.append(contentsOf: inbox.takeAll())
        var confirmed = false
        defer { if confirmed && isConnected { onReady?() } }
        // A handler may close the bridge; `close()` then naks whatever is still in `backlog`.
        while !isClosed, !backlog.isEmpty {
            let item = backlog.removeFirst()
            switch item {
            case .progress(let body):
                onProgress?(body)
            case .connection(let connected, let atMs):
                // libnats may report a loss and its recovery before the loop looks; each counts.
                guard connected != health.connected else { continue }
                if connected { health.lastOutageMs = max(0, atMs - health.sinceMs) }
                health.connected = connected
                health.sinceMs = atMs
                if !connected { health.disconnects += 1 }
                onConnectionChange?(health)
                if connected && !isClosed { onReady?() }
            case .result(let message):
                guard let onResult else {
                    heldResults.append(item)
                    continue
                }
                let result = NATSResultMessage(message.raw, bridge: self)
                onResult(result.body, { result.ack() })
            case .published(let msgID, let status):
                if published(msgID: msgID, status: status) { confirmed = true }
            }
        }
    }

    /// True for a valid subject token: non-empty, printable, no separators or wildcards.
    static func isSubjectToken(_ token: String) -> Bool {
        !token.isEmpty && token.unicodeScalars.allSatisfy { scalar in
            scalar.value > 0x20 && scalar.value != 0x7F && scalar != "." && scalar != "*" && scalar != ">"
        }
    }
}

/// Lets the signal's callback reach the bridge without keeping it alive.
private final class WeakBridge {
    weak var bridge: NATSBridge?
}

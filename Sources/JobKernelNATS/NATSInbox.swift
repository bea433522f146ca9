import CNATS
import Glibc
import JobKernelIO
import Synchronization

/// A libnats message owned by Swift until `natsMsg_Destroy`; it crosses threads once, through the inbox.
/// `@unchecked Sendable`: the pointer moves from a libnats thread to the loop under the inbox's
/// mutex and is used by one thread at a time (libnats touches a message no more once delivered).
struct NATSMessagePointer: @unchecked Sendable {
    let raw: OpaquePointer
}

/// What arrived on a libnats thread, queued for the loop thread.
enum NATSIncoming: Sendable {
    /// A message of the results consumer, not yet acknowledged.
    case result(NATSMessagePointer)
    /// The body of a `jobkernel.progress` message (core NATS, nothing to acknowledge).
    case progress([UInt8])
    /// libnats lost the connection (`connected` false) or got it back, at `atMs` (Unix ms).
    case connection(connected: Bool, atMs: Int64)
    /// The server's answer to the asynchronous publish of the unit `msgID`: `NATS_OK` when it
    /// stored it (or had it already), else why not (an error, `NATS_TIMEOUT`, `NATS_NO_RESPONDERS`).
    case published(msgID: String, status: natsStatus)
}

/// The hand-off from libnats's delivery threads to the loop thread: a locked queue and a wake-up.
///
/// Holds no loop object, so libnats may keep it past the bridge: each subscription retains it and
/// releases it in the subscription's completion callback, which libnats runs after that
/// subscription's last message callback returned.
final class NATSInbox: Sendable {
    /// Progress is advisory; past this many undelivered messages new ones are dropped.
    static let maxQueuedProgress = 10_000

    private struct State {
        var queue: [NATSIncoming] = []
        var queuedProgress = 0
        var droppedProgress = 0
        var isOpen = true
    }

    private let state = Mutex(State())
    private let wake: AsyncSignal.Sender

    init(wake: AsyncSignal.Sender) {
        self.wake = wake
    }

    /// Queues `item` and wakes the loop if the queue was empty (a non-empty queue has a wake-up pending).
    /// Any thread. After `close()` results are dropped unacknowledged, so JetStream redelivers them.
    func push(_ item: NATSIncoming) {
        let wasEmpty: Bool? = state.withLock { state in
            guard state.isOpen else { return nil }
            if case .progress = item {
                if state.queuedProgress >= NATSInbox.maxQueuedProgress {
                    state.droppedProgress += 1
                    return false
                }
                state.queuedProgress += 1
            }
            state.queue.append(item)
            return state.queue.count == 1
        }
        switch wasEmpty {
        case nil:
            if case .result(let message) = item { natsMsg_Destroy(message.raw) }
        case true?:
            wake.send()
        case false?:
            break
        }
    }

    /// Everything queued so far, in arrival order. Loop thread.
    func takeAll() -> [NATSIncoming] {
        state.withLock { state in
            let items = state.queue
            state.queue = []
            state.queuedProgress = 0
            return items
        }
    }

    /// Progress messages dropped because the loop fell behind.
    var droppedProgress: Int { state.withLock { $0.droppedProgress } }

    /// Refuses further messages and returns those still queued.
    func close() -> [NATSIncoming] {
        state.withLock { state in
            state.isOpen = false
            let items = state.queue
            state.queue = []
            state.queuedProgress = 0
            return items
        }
    }

    /// A +1 reference for a subscription's closure, given back by `subscriptionCompleted`.
    func retainForSubscription() -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(self).toOpaque()
    }
}

/// `natsMsgHandler` of the results subscription; runs on a libnats thread.
func natsInboxReceiveResult(_ connection: OpaquePointer?, _ subscription: OpaquePointer?,
                            _ message: OpaquePointer?, _ closure: UnsafeMutableRawPointer?) {
    guard let message else { return }
    guard let closure else { return natsMsg_Destroy(message) }
    Unmanaged<NATSInbox>.fromOpaque(closure).takeUnretainedValue().push(.result(NATSMessagePointer(raw: message)))
}

/// `natsMsgHandler` of the progress subscription; copies the body and frees the message at once.
func natsInboxReceiveProgress(_ connection: OpaquePointer?, _ subscription: OpaquePointer?,
                              _ message: OpaquePointer?, _ closure: UnsafeMutableRawPointer?) {
    guard let message else { return }
    defer { natsMsg_Destroy(message) }
    guard let closure else { return }
    Unmanaged<NATSInbox>.fromOpaque(closure).takeUnretainedValue().push(.progress(natsMessageBody(message)))
}

/// `natsConnectionHandler` for the disconnected callback; runs on libnats's callback thread.
func natsInboxDisconnected(_ connection: OpaquePointer?, _ closure: UnsafeMutableRawPointer?) {
    guard let closure else { return }
    Unmanaged<NATSInbox>.fromOpaque(closure).takeUnretainedValue().push(.connection(connected: false, atMs: natsWallClockMs()))
}

/// `natsConnectionHandler` for the reconnected callback.
func natsInboxReconnected(_ connection: OpaquePointer?, _ closure: UnsafeMutableRawPointer?) {
    guard let closure else { return }
    Unmanaged<NATSInbox>.fromOpaque(closure).takeUnretainedValue().push(.connection(connected: true, atMs: natsWallClockMs()))
}

/// `natsConnectionHandler` for the closed callback: libnats's last callback of the connection,
/// so the connection's reference to the inbox goes.
func natsInboxConnectionClosed(_ connection: OpaquePointer?, _ closure: UnsafeMutableRawPointer?) {
    guard let closure else { return }
    Unmanaged<NATSInbox>.fromOpaque(closure).release()
}

/// `jsPubAckHandler` of the JetStream context: the answer (or the timeout) of one asynchronous
/// publish, on a libnats thread. The unit is told by its `Nats-Msg-Id`; the message is freed here.
func natsInboxPublished(_ jetStream: OpaquePointer?, _ message: OpaquePointer?, _ ack: UnsafeMutablePointer<jsPubAck>?,
                        _ failure: UnsafeMutablePointer<jsPubAckErr>?, _ closure: UnsafeMutableRawPointer?) {
    guard let message else { return }
    defer { natsMsg_Destroy(message) }
    var value: UnsafePointer<CChar>?
    guard let closure, natsMsgHeader_Get(message, "Nats-Msg-Id", &value) == NATS_OK, let value else { return }
    let status = ack != nil ? NATS_OK : (failure?.pointee.Err ?? NATS_ERR)
    Unmanaged<NATSInbox>.fromOpaque(closure).takeUnretainedValue()
        .push(.published(msgID: String(cString: value), status: status))
}

/// Now, in milliseconds since the Unix epoch.
func natsWallClockMs() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
}

/// `natsOnCompleteCB`: the subscription will not call back again, so its reference goes.
func natsInboxSubscriptionCompleted(_ closure: UnsafeMutableRawPointer?) {
    guard let closure else { return }
    Unmanaged<NATSInbox>.fromOpaque(closure).release()
}

/// A copy of a message's payload.
func natsMessageBody(_ message: OpaquePointer) -> [UInt8] {
    let count = Int(natsMsg_GetDataLength(message))
    guard count > 0, let data = natsMsg_GetData(message) else { return [] }
    return Array(UnsafeRawBufferPointer(start: data, count: count))
}

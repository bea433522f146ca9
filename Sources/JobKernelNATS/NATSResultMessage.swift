import CNATS

/// One delivered result awaiting the kernel's commit; owns the libnats message until then.
///
/// `msg->sub` is a bare pointer inside libnats, so acknowledging is only safe while the bridge
/// (and with it the subscription) is open; after `NATSBridge.close()` an ack is dropped and
/// JetStream redelivers the result to the next bridge once `ackWait` runs out.
final class NATSResultMessage {
    private var message: OpaquePointer?
    private weak var bridge: NATSBridge?

    init(_ message: OpaquePointer, bridge: NATSBridge) {
        self.message = message
        self.bridge = bridge
    }

    deinit {
        if let message { natsMsg_Destroy(message) }
    }

    /// The payload, copied.
    var body: [UInt8] { message.map(natsMessageBody) ?? [] }

    /// Acknowledges once (later calls are no-ops) and frees the message. Loop thread.
    func ack() {
        guard let message else { return }
        self.message = nil
        if let bridge, !bridge.isClosed {
            bridge.acknowledge(message)
        }
        natsMsg_Destroy(message)
    }
}

import NIOCore

/// `POST /rpc` (SPEC §14): one JSON-RPC request or batch, answered as the kernel answers it.
///
/// Each request gets a connection of its own: the body goes out as one line, the gateway
/// half-closes, and the kernel answers everything it received before closing its side (SPEC §3).
/// Nothing is parsed or rewritten, so ids, batches, notifications and errors are the kernel's own.
struct RPCForwarder: Sendable {
    let link: KernelLink

    /// The kernel's answer: the response line, or nil when there is none (a notification, or a
    /// batch of only notifications).
    func forward(_ body: ByteBuffer) async throws -> ByteBuffer? {
        let connection = try await link.connect(halfClosable: true)
        return try await connection.executeThenClose { inbound, outbound in
            try await outbound.write(KernelLink.line(body.readableBytesView))
            outbound.finish()
            var answer: ByteBuffer?
            for try await line in inbound where line.readableBytes > 0 {
                // One message was sent, so at most one comes back; keep the first.
                if answer == nil { answer = line }
            }
            return answer
        }
    }
}

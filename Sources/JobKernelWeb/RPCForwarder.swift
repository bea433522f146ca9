import NIOCore

/// `POST /rpc` (docs/web.md): one JSON-RPC request or batch, answered as the kernel answers it.
///
/// Each request gets a connection of its own: the body goes out as one line, the gateway
/// half-closes, and the kernel answers everything it received before closing its side (docs/promises.md §3).
/// Nothing is parsed or rewritten, so ids, batches, notifications and errors are the kernel's own.
struct RPCForwarder: Sendable {
    let link: KernelLink

    /// The kernel's answer: the response line, or nil when there is none (a notification, or a
    /// batch of only notifications).
    ///
    /// The body becomes a line in place, its own newlines turned to spaces, and leaves with a
    /// newline of its own: a 16 MiB body costs 16 MiB, not three copies of it.
    func forward(_ body: consuming ByteBuffer) async throws -> ByteBuffer? {
        var line = body
        line.withUnsafeMutableReadableBytes { raw in
            for index in raw.indices where raw[index] == 0x0A || raw[index] == 0x0D { raw[index] = 0x20 }
        }
        let connection = try await link.connect(halfClosable: true)
        return try await connection.executeThenClose { [line] inbound, outbound in
            try await outbound.write(contentsOf: [line, ByteBuffer(integer: UInt8(0x0A))])
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

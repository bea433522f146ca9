import HummingbirdWebSocket
import NIOCore

/// `GET /ws` (docs/promises.md §14): JSON-RPC over a WebSocket, one message per frame, bridged to a kernel
/// connection of its own. Everything passes through unchanged, `subscribe` and its events
/// included; when either side closes, so does the other.
struct WebSocketBridge: Sendable {
    let link: KernelLink
    /// The largest message a browser may send; the kernel's own limit is the same by default.
    static let maxMessageBytes = 16 << 20

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let connection: KernelLink.Connection
        do {
            connection = try await link.connect()
        } catch {
            try await outbound.close(.unexpectedServerError, reason: "no kernel answers; try again shortly")
            return
        }
        try await connection.executeThenClose { kernelInbound, kernelOutbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await line in kernelInbound where line.readableBytes > 0 {
                        try await outbound.write(.text(String(buffer: line)))
                    }
                    // The kernel went away (a restart): 1012 tells the page to reconnect.
                    try? await outbound.close(.init(codeNumber: 1012), reason: "the kernel closed the connection")
                }
                group.addTask {
                    for try await message in inbound.messages(maxSize: WebSocketBridge.maxMessageBytes) {
                        switch message {
                        case .text(let text): try await kernelOutbound.write(KernelLink.line(text.utf8))
                        case .binary(let bytes): try await kernelOutbound.write(KernelLink.line(bytes.readableBytesView))
                        }
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }
}

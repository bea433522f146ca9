import JobKernelCore
import NIOCore

/// One line from the kernel, sorted by what the gateway does with it.
enum KernelMessage: Equatable {
    /// An `event` notification (docs/promises.md §7): its seq and its params (the event object), unparsed.
    case event(seq: Int, object: ByteBuffer)
    /// `subscription.dropped`: the kernel stopped queueing events for a slow subscriber.
    case dropped(lastSeq: Int?)
    /// A response: its id, and its result or error.
    case response(id: JSON, result: JSON?, error: JSON?)
    /// Anything else (another notification); the gateway ignores it.
    case other

    /// How the kernel writes every event: its serializer keeps this key order. Lines in this shape
    /// are read without a JSON parse, which matters at 100 streams × 1,000 events/s; any other line
    /// takes the parser.
    private static let eventPrefix = Array(#"{"jsonrpc":"2.0","method":"event","params":"#.utf8)
    private static let subscriptionKey = Array(#"{"subscription":""#.utf8)
    private static let seqKey = Array(#","seq":"#.utf8)

    /// Sorts `line`; throws when it is not JSON.
    static func classify(_ line: ByteBuffer) throws -> KernelMessage {
        if let fast = fastEvent(line) { return fast }
        let message = try line.withUnsafeReadableBytes { raw in try JSONParser.parse(raw, maxDepth: 512) }
        if let method = message["method"]?.stringValue {
            let params = message["params"] ?? .null
            switch method {
            case "event":
                guard let seq = params["seq"]?.intValue else { return .other }
                return .event(seq: seq, object: ByteBuffer(bytes: params.serialized()))
            case "subscription.dropped":
                return .dropped(lastSeq: params["last_seq"]?.intValue)
            default:
                return .other
            }
        }
        guard let id = message["id"] else { return .other }
        return .response(id: id, result: message["result"], error: message["error"])
    }

    /// The event in a line shaped `{"jsonrpc":"2.0","method":"event","params":{"subscription":"S","seq":N,…}}`.
    private static func fastEvent(_ line: ByteBuffer) -> KernelMessage? {
        line.withUnsafeReadableBytes { raw -> KernelMessage? in
            let prefix = eventPrefix, subscription = subscriptionKey, seqKey = seqKey
            guard raw.count > prefix.count + subscription.count + 2, raw.last == UInt8(ascii: "}"),
                raw.starts(with: prefix)
            else { return nil }
            var index = prefix.count
            guard raw[index...].starts(with: subscription) else { return nil }
            index += subscription.count
            // The subscription id: plain digits or letters, never an escape.
            while index < raw.count, raw[index] != UInt8(ascii: "\"") {
                if raw[index] == UInt8(ascii: "\\") { return nil }
                index += 1
            }
            index += 1
            guard raw[index...].starts(with: seqKey) else { return nil }
            index += seqKey.count
            var seq = 0
            var digits = 0
            while index < raw.count, raw[index] >= 0x30, raw[index] <= 0x39, digits < 18 {
                seq = seq * 10 + Int(raw[index] - 0x30)
                index += 1
                digits += 1
            }
            guard digits > 0, index < raw.count, raw[index] == UInt8(ascii: ",") else { return nil }
            // The params object runs from its brace to the line's last brace but one.
            let objectStart = prefix.count
            let objectEnd = raw.count - 1
            return .event(seq: seq, object: line.getSlice(at: line.readerIndex + objectStart, length: objectEnd - objectStart)!)
        }
    }
}

/// How a connection frames its messages (SPEC §3).
public enum Framing: Sendable {
    /// One JSON value per line.
    case ndjson
    /// LSP: `Content-Length: N` headers, a blank line, then N bytes.
    case contentLength
}

/// One unit the decoder cut out of a byte stream.
public enum Frame: Hashable, Sendable {
    case message([UInt8])
    /// A message over the size limit; its bytes were skipped.
    case tooLarge
    /// A Content-Length header block that could not be read.
    case badHeader(String)
}

/// Cuts a connection's byte stream into frames, detecting the framing from the first bytes.
///
/// A frame over `maxMessageBytes` is reported once as `.tooLarge` and skipped without being
/// buffered, however many reads it spans; then decoding goes on.
public struct FrameDecoder: Sendable {
    public private(set) var framing: Framing?
    private let maxMessageBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    /// Where the newline search resumes, so a long line arriving in pieces is scanned once.
    private var scanned = 0
    /// Bytes of an oversize Content-Length body still to drop.
    private var skipBytes = 0
    /// Dropping an oversize NDJSON line up to its newline.
    private var skippingLine = false
    private var pending: [Frame] = []

    public init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        var bytes = bytes
        if skipBytes > 0 {
            let n = min(skipBytes, bytes.count)
            skipBytes -= n
            bytes = UnsafeRawBufferPointer(rebasing: bytes[n...])
        }
        buffer.append(contentsOf: bytes)
        decode()
    }

    public mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// The next complete frame, if any.
    public mutating func next() -> Frame? {
        pending.isEmpty ? nil : pending.removeFirst()
    }

    /// At end of input: an unterminated last line is still a message.
    public mutating func finish() -> Frame? {
        if let f = next() { return f }
        defer { buffer.removeAll(); start = 0; scanned = 0 }
        guard framing != .contentLength, !skippingLine, start < buffer.count else { return nil }
        let rest = Array(buffer[start...])
        if rest.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }) { return nil }
        return rest.count > maxMessageBytes ? .tooLarge : .message(rest)
    }

    /// Encodes a message body in `framing`.
    public static func encode(_ body: [UInt8], as framing: Framing) -> [UInt8] {
        switch framing {
        case .ndjson: return body + [0x0A]
        case .contentLength: return Array("Content-Length: \(body.count)\r\n\r\n".utf8) + body
        }
    }

    private static let headerPrefix = Array("content-length:".utf8)

    private mutating func decode() {
        while true {
            if framing == nil && !detect() { break }
            let progressed = framing == .contentLength ? decodeContentLength() : decodeLine()
            if !progressed { break }
        }
        if start > 0 && (start == buffer.count || start > 65536) {
            buffer.removeFirst(start)
            scanned -= start
            start = 0
        }
    }

    /// Decides the framing from the first non-blank bytes; false while undecided.
    private mutating func detect() -> Bool {
        while start < buffer.count, [0x20, 0x09, 0x0D, 0x0A].contains(buffer[start]) { start += 1 }
        scanned = max(scanned, start)
        let available = buffer.count - start
        let n = min(available, Self.headerPrefix.count)
        guard n > 0 else { return false }
        for k in 0..<n where lower(buffer[start + k]) != Self.headerPrefix[k] {
            framing = .ndjson
            return true
        }
        if n == Self.headerPrefix.count {
            framing = .contentLength
            return true
        }
        return false
    }

    private func lower(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c + 32 : c }

    private mutating func decodeLine() -> Bool {
        guard let nl = buffer[scanned...].firstIndex(of: 0x0A) else {
            scanned = buffer.count
            let lineLength = buffer.count - start
            if lineLength > maxMessageBytes {
                if !skippingLine { pending.append(.tooLarge) }
                skippingLine = true
                start = buffer.count
                scanned = start
            }
            return false
        }
        let lineStart = start
        start = nl + 1
        scanned = start
        if skippingLine {
            skippingLine = false
            return true
        }
        var end = nl
        if end > lineStart, buffer[end - 1] == 0x0D { end -= 1 }
        if end - lineStart > maxMessageBytes {
            pending.append(.tooLarge)
            return true
        }
        let line = buffer[lineStart..<end]
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return true }
        pending.append(.message(Array(line)))
        return true
    }

    private mutating func decodeContentLength() -> Bool {
        // Headers end at the first CRLF CRLF.
        var k = start
        var headerEnd: Int?
        while k + 3 < buffer.count {
            if buffer[k] == 0x0D, buffer[k + 1] == 0x0A, buffer[k + 2] == 0x0D, buffer[k + 3] == 0x0A {
                headerEnd = k
                break
            }
            k += 1
        }
        guard let headerEnd else {
            if buffer.count - start > 8192 {
                pending.append(.badHeader("the header block is over 8 KiB without a blank line"))
                start = buffer.count
            }
            return false
        }
        let header = String(decoding: buffer[start..<headerEnd], as: UTF8.self)
        var length: Int?
        for line in header.split(separator: "\r\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == "content-length" {
                length = Int(line[line.index(after: colon)...].trimmingSpaces)
            }
        }
        let bodyStart = headerEnd + 4
        guard let length, length >= 0 else {
            pending.append(.badHeader("missing or invalid Content-Length header"))
            start = bodyStart
            return true
        }
        if length > maxMessageBytes {
            pending.append(.tooLarge)
            let available = buffer.count - bodyStart
            if available >= length {
                start = bodyStart + length
            } else {
                skipBytes = length - available
                start = buffer.count
            }
            scanned = start
            return true
        }
        guard buffer.count - bodyStart >= length else { return false }
        pending.append(.message(Array(buffer[bodyStart..<(bodyStart + length)])))
        start = bodyStart + length
        scanned = start
        return true
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}

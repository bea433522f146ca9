/// Cuts one connection's byte stream into messages (docs/promises.md §3). Pure: the caller feeds bytes as they
/// are read and pops frames; there is one decoder per connection.
///
/// - Framing is detected from the first non-whitespace bytes: `Content-Length:` or `Content-Type:`
///   (any case) means LSP framing, anything else NDJSON. The decoder waits while the bytes seen so
///   far could still be such a header.
/// - A message over `maxMessageBytes` yields `.tooLarge` once; the rest of it (to the next newline,
///   or past its Content-Length) is discarded as it arrives, never buffered, and decoding goes on.
/// - LSP: whitespace between messages is tolerated; a header section without a valid
///   `Content-Length` yields `.badHeader` and the decoder skips to the next `Content-Length:`.
///   A malformed header section that still has a valid length yields `.badHeader` and skips that body.
/// - Feeding is linear in the bytes fed: searches resume where they stopped, and consumed bytes are
///   dropped once they are at least half of the buffer.
public struct FrameDecoder: Sendable {
    /// The largest message body accepted, in bytes.
    public let maxMessageBytes: Int
    /// The connection's framing, once its first bytes have decided it.
    public private(set) var framing: Framing?

    /// The default for `maxHeaderSectionBytes`.
    public static let maxHeaderBytes = 8192
    /// The longest LSP header section accepted (without its final `\r\n\r\n`); a longer one is
    /// reported as bad however the reads split it.
    public let maxHeaderSectionBytes: Int

    private enum State: Sendable {
        case detecting
        /// NDJSON: collecting a line.
        case line
        /// NDJSON: discarding an oversize line up to its newline.
        case skippingLine
        /// LSP: collecting a header section.
        case headers
        /// LSP: waiting for a body of this many bytes.
        case body(Int)
        /// LSP: discarding this many more bytes of a body that will not be delivered.
        case skippingBody(Int)
        /// LSP: after a header section without a usable length, discarding up to the next
        /// `Content-Length:`.
        case resync
    }

    private var state = State.detecting
    /// Unconsumed bytes are `buffer[start...]`.
    private var buffer: [UInt8] = []
    private var start = 0
    /// Where the search for the current line's newline (or header section's end) resumes.
    private var scanned = 0
    /// Decoded frames not yet popped: `pending[pendingHead...]`.
    private var pending: [Frame] = []
    private var pendingHead = 0
    private var finished = false

    /// A decoder that reports messages over `maxMessageBytes` as `.tooLarge`.
    public init(maxMessageBytes: Int, maxHeaderSectionBytes: Int = FrameDecoder.maxHeaderBytes) {
        precondition(maxMessageBytes > 0, "maxMessageBytes must be positive")
        precondition(maxHeaderSectionBytes > 0, "maxHeaderSectionBytes must be positive")
        self.maxMessageBytes = maxMessageBytes
        self.maxHeaderSectionBytes = maxHeaderSectionBytes
    }

    /// Takes the next bytes read from the connection. Ignored after `finish()`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard !finished, !bytes.isEmpty else { return }
        var input = bytes[...]
        // While skipping, discard straight from the input so the skipped frame is never copied.
        if start == buffer.count {
            switch state {
            case .skippingLine:
                guard let newline = input.firstIndex(of: UInt8(ascii: "\n")) else { return }
                input = input[(newline + 1)...]
                state = .line
            case .skippingBody(let remaining):
                let skipped = min(remaining, input.count)
                input = input.dropFirst(skipped)
                guard skipped == remaining else {
                    state = .skippingBody(remaining - skipped)
                    return
                }
                state = .headers
            default:
                break
            }
        }
        guard !input.isEmpty else { return }
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: input))
        decode()
        compact()
    }

    /// Takes the next bytes read from the connection. Ignored after `finish()`.
    public mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// Pops the next complete frame, or nil when more bytes are needed.
    public mutating func next() -> Frame? {
        guard pendingHead < pending.count else { return nil }
        let frame = pending[pendingHead]
        pending[pendingHead] = .tooLarge  // release the message bytes now
        pendingHead += 1
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: pending.count <= 64)
            pendingHead = 0
        }
        return frame
    }

    /// Marks the end of input (the peer closed its side) and pops the next frame; call it until it
    /// returns nil. An unterminated last NDJSON line is still a message; a truncated LSP message
    /// is a `.badHeader`.
    public mutating func finish() -> Frame? {
        if !finished {
            finished = true
            flushAtEnd()
            buffer = []
            start = 0
            scanned = 0
        }
        return next()
    }

    /// Frames `body` for sending in `framing`.
    public static func encode(_ body: [UInt8], as framing: Framing) -> [UInt8] {
        var out: [UInt8] = []
        switch framing {
        case .ndjson:
            out.reserveCapacity(body.count + 1)
            out.append(contentsOf: body)
            out.append(UInt8(ascii: "\n"))
        case .contentLength:
            out.reserveCapacity(body.count + 32)
            out.append(contentsOf: "Content-Length: ".utf8)
            JSONWriter.writeInt(body.count, into: &out)
            out.append(contentsOf: [0x0D, 0x0A, 0x0D, 0x0A])
            out.append(contentsOf: body)
        }
        return out
    }

    /// Serializes `value` and frames it for sending in `framing`.
    public static func encode(_ value: JSON, as framing: Framing) -> [UInt8] {
        switch framing {
        case .ndjson:
            var out: [UInt8] = []
            value.write(into: &out)
            out.append(UInt8(ascii: "\n"))
            return out
        case .contentLength:
            return encode(value.serialized(), as: .contentLength)
        }
    }

    /// Bytes held for an incomplete frame (tests check that skipped frames are not held).
    var bufferedByteCount: Int { buffer.count - start }

    // MARK: - Decoding

    private mutating func emit(_ frame: Frame) {
        pending.append(frame)
    }

    private mutating func enter(_ newState: State) {
        state = newState
        scanned = start
    }

    /// Decodes as many frames as the buffer holds.
    private mutating func decode() {
        while true {
            switch state {
            case .detecting:
                guard detectFraming() else { return }

            case .line:
                guard let newline = find(UInt8(ascii: "\n"), from: max(scanned, start)) else {
                    scanned = buffer.count
                    if lineIsOversize(buffer.count - start, lastByte: buffer.last) {
                        emit(.tooLarge)
                        start = buffer.count
                        enter(.skippingLine)
                    }
                    return
                }
                emitLine(start..<newline)
                start = newline + 1
                scanned = start

            case .skippingLine:
                guard let newline = find(UInt8(ascii: "\n"), from: start) else {
                    start = buffer.count
                    return
                }
                start = newline + 1
                enter(.line)

            case .headers:
                while start < buffer.count, isWhitespace(buffer[start]) { start += 1 }
                // Too long whether its end is here or still to come (it may begin in the last 3
                // bytes), so that the answer does not depend on how the reads split the section.
                let end = findHeaderEnd()
                if (end ?? buffer.count - 3) - start > maxHeaderSectionBytes {
                    emit(.badHeader("header section longer than \(maxHeaderSectionBytes) bytes"))
                    start += 1
                    enter(.resync)
                    continue
                }
                guard let end else {
                    scanned = buffer.count
                    return
                }
                let header = parseHeaderSection(start..<end)
                let sectionStart = start
                start = end + 4
                switch (header.length, header.problem) {
                case (let length?, nil) where length > maxMessageBytes:
                    emit(.tooLarge)
                    enter(.skippingBody(length))
                case (let length?, nil):
                    enter(.body(length))
                case (let length?, let problem?):
                    emit(.badHeader(problem))
                    enter(.skippingBody(length))
                case (nil, let problem):
                    emit(.badHeader(problem ?? "missing Content-Length header"))
                    // Search again from inside this section: a body shorter than its declared
                    // length leaves garbage in front of the next `Content-Length:`.
                    start = sectionStart + 1
                    enter(.resync)
                }

            case .body(let length):
                guard buffer.count - start >= length else { return }
                emit(.message(Array(buffer[start..<(start + length)])))
                start += length
                enter(.headers)

            case .skippingBody(let remaining):
                let skipped = min(remaining, buffer.count - start)
                start += skipped
                guard skipped == remaining else {
                    state = .skippingBody(remaining - skipped)
                    return
                }
                enter(.headers)

            case .resync:
                if let match = findHeaderName(contentLength, from: start) {
                    start = match
                    enter(.headers)
                } else {
                    // Keep only what could be the beginning of a `Content-Length:` split across reads.
                    start = max(start, buffer.count - (contentLength.count - 1))
                    return
                }
            }
        }
    }

    /// Decides the framing from the first non-whitespace bytes; false while undecided.
    private mutating func detectFraming() -> Bool {
        while start < buffer.count, isWhitespace(buffer[start]) { start += 1 }
        guard start < buffer.count else { return false }
        let available = buffer.count - start
        var undecided = false
        for name in [contentLength, contentType] {
            let compared = min(available, name.count)
            if hasPrefixIgnoringCase(name, at: start, count: compared) {
                if compared == name.count {
                    framing = .contentLength
                    enter(.headers)
                    return true
                }
                undecided = true
            }
        }
        if undecided { return false }
        framing = .ndjson
        enter(.line)
        return true
    }

    /// Whether an NDJSON line of `length` bytes with no newline yet is already over the limit
    /// (one more byte is allowed when it is the `\r` of a `\r\n`).
    private func lineIsOversize(_ length: Int, lastByte: UInt8?) -> Bool {
        length > maxMessageBytes + 1 || (length == maxMessageBytes + 1 && lastByte != 0x0D)
    }

    private mutating func emitLine(_ range: Range<Int>) {
        var end = range.upperBound
        if end > range.lowerBound, buffer[end - 1] == 0x0D { end -= 1 }
        let line = range.lowerBound..<end
        if line.count > maxMessageBytes {
            emit(.tooLarge)
            return
        }
        var blank = true
        for position in line where !isWhitespace(buffer[position]) {
            blank = false
            break
        }
        if !blank { emit(.message(Array(buffer[line]))) }
    }

    /// What the peer left when the stream ended.
    private mutating func flushAtEnd() {
        let rest = start..<buffer.count
        let hasContent = rest.contains { !isWhitespace(buffer[$0]) }
        switch state {
        case .detecting:
            guard hasContent else { return }
            framing = .ndjson
            emitLine(rest)
        case .line:
            emitLine(rest)
        case .headers:
            if hasContent { emit(.badHeader("connection closed inside a header section")) }
        case .body(let length):
            emit(.badHeader("connection closed after \(rest.count) of \(length) body bytes"))
        case .skippingLine, .skippingBody, .resync:
            break
        }
    }

    // MARK: - LSP headers

    private struct HeaderSection {
        var length: Int?
        var problem: String?
    }

    /// Reads `Content-Length` from the header lines in `range` (without the final `\r\n\r\n`).
    /// Other headers are ignored.
    private func parseHeaderSection(_ range: Range<Int>) -> HeaderSection {
        var result = HeaderSection()
        var lengthText: String?
        var lineStart = range.lowerBound
        while lineStart <= range.upperBound {
            var lineEnd = lineStart
            while lineEnd + 1 < range.upperBound, !(buffer[lineEnd] == 0x0D && buffer[lineEnd + 1] == 0x0A) { lineEnd += 1 }
            if lineEnd + 1 >= range.upperBound { lineEnd = range.upperBound }
            let line = lineStart..<lineEnd
            lineStart = lineEnd + 2

            guard let colon = line.first(where: { buffer[$0] == UInt8(ascii: ":") }) else {
                if result.problem == nil { result.problem = "malformed header line `\(text(line))`" }
                continue
            }
            guard hasPrefixIgnoringCase(contentLength, at: line.lowerBound, count: contentLength.count),
                colon == line.lowerBound + contentLength.count - 1
            else { continue }
            let value = text(trimmed((colon + 1)..<line.upperBound))
            if let previous = lengthText, previous != value {
                return HeaderSection(length: nil, problem: "conflicting Content-Length headers `\(previous)` and `\(value)`")
            }
            lengthText = value
        }
        guard let lengthText else {
            return HeaderSection(length: nil, problem: result.problem ?? "missing Content-Length header")
        }
        guard !lengthText.isEmpty, lengthText.utf8.count <= 18, lengthText.utf8.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }),
            let length = Int(lengthText)
        else {
            return HeaderSection(length: nil, problem: "invalid Content-Length `\(lengthText)`: expected a byte count")
        }
        result.length = length
        return result
    }

    private func trimmed(_ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, buffer[lower] == 0x20 || buffer[lower] == 0x09 { lower += 1 }
        while upper > lower, buffer[upper - 1] == 0x20 || buffer[upper - 1] == 0x09 { upper -= 1 }
        return lower..<upper
    }

    private func text(_ range: Range<Int>) -> String {
        String(decoding: buffer[range.lowerBound..<min(range.upperBound, range.lowerBound + 200)], as: UTF8.self)
    }

    // MARK: - Searching

    private func find(_ byte: UInt8, from position: Int) -> Int? {
        guard position < buffer.count else { return nil }
        return buffer.withUnsafeBufferPointer { bytes in
            var index = position
            while index < bytes.count {
                if bytes[index] == byte { return index }
                index += 1
            }
            return nil
        }
    }

    /// The start of the first `\r\n\r\n` at or after the current header section's start.
    private func findHeaderEnd() -> Int? {
        var index = max(start, scanned - 3)
        while let cr = find(0x0D, from: index) {
            guard cr + 3 < buffer.count else { return nil }
            if buffer[cr + 1] == 0x0A, buffer[cr + 2] == 0x0D, buffer[cr + 3] == 0x0A { return cr }
            index = cr + 1
        }
        return nil
    }

    /// The first position at or after `position` where `name` occurs, ignoring ASCII case.
    private func findHeaderName(_ name: [UInt8], from position: Int) -> Int? {
        var index = position
        while index + name.count <= buffer.count {
            if hasPrefixIgnoringCase(name, at: index, count: name.count) { return index }
            index += 1
        }
        return nil
    }

    /// Whether `buffer[position..<position+count]` equals the first `count` bytes of `name`
    /// (lowercase ASCII), ignoring case.
    private func hasPrefixIgnoringCase(_ name: [UInt8], at position: Int, count: Int) -> Bool {
        for offset in 0..<count {
            let byte = buffer[position + offset]
            let lowered = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            if lowered != name[offset] { return false }
        }
        return true
    }

    @inline(__always)
    private func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    /// Drops consumed bytes once they are at least half the buffer, so each byte moves O(1) times.
    private mutating func compact() {
        if start == buffer.count {
            if buffer.capacity > 1 << 20 { buffer = [] } else { buffer.removeAll(keepingCapacity: true) }
            start = 0
            scanned = 0
        } else if start > 0, start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            scanned = max(0, scanned - start)
            start = 0
        }
    }
}

private let contentLength = Array("content-length:".utf8)
private let contentType = Array("content-type:".utf8)

import Testing
@testable import JobKernelCore

/// docs/promises.md §3: framing detected per connection, frames cut from arbitrary reads, oversize frames skipped.
struct FrameDecoderTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Feeds `input` in chunks of `chunkSize` bytes, popping frames as they come, then finishes.
    private func decode(_ input: [UInt8], chunkSize: Int, max: Int = 1024) -> (frames: [Frame], framing: Framing?) {
        var decoder = FrameDecoder(maxMessageBytes: max)
        var frames: [Frame] = []
        var offset = 0
        while offset < input.count {
            let end = Swift.min(offset + chunkSize, input.count)
            decoder.feed(Array(input[offset..<end]))
            while let frame = decoder.next() { frames.append(frame) }
            offset = end
        }
        while let frame = decoder.finish() { frames.append(frame) }
        return (frames, decoder.framing)
    }

    private func messages(_ texts: String...) -> [Frame] { texts.map { .message(Array($0.utf8)) } }

    @Test("NDJSON: one message per line, CRLF allowed, blank lines ignored, whatever the chunking",
          arguments: [1, 2, 3, 7, 64, 10_000])
    func ndjson(chunkSize: Int) {
        let input = bytes("{\"a\":1}\n\n[2]\r\n   \r\n\t\n\"x y\"\n{\"b\":\n")
        let (frames, framing) = decode(input, chunkSize: chunkSize)
        #expect(framing == .ndjson)
        #expect(frames == messages(#"{"a":1}"#, "[2]", #""x y""#, #"{"b":"#))
    }

    @Test("Content-Length framing: detected in any case, other headers ignored, split anywhere",
          arguments: [1, 2, 5, 16, 10_000])
    func contentLength(chunkSize: Int) {
        let first = #"{"jsonrpc":"2.0","id":1,"method":"a"}"#
        let second = "{\"s\":\"é\"}"
        let input = bytes("Content-Length: \(first.utf8.count)\r\n\r\n\(first)"
            + "content-type: application/vscode-jsonrpc; charset=utf-8\r\nCONTENT-LENGTH:\(second.utf8.count)\r\n\r\n\(second)"
            + "\r\nContent-Length: 2 \r\n\r\n[]")
        let (frames, framing) = decode(input, chunkSize: chunkSize)
        #expect(framing == .contentLength)
        #expect(frames == messages(first, second, "[]"))
    }

    @Test("framing is undecided while the first bytes could still be a header")
    func detectionWaits() {
        var decoder = FrameDecoder(maxMessageBytes: 100)
        decoder.feed(bytes("\r\n  Content-Len"))
        #expect(decoder.framing == nil)
        #expect(decoder.next() == nil)
        decoder.feed(bytes("gth: 2\r\n\r\n{}"))
        #expect(decoder.framing == .contentLength)
        #expect(decoder.next() == .message(bytes("{}")))
        #expect(decoder.next() == nil)

        var ndjson = FrameDecoder(maxMessageBytes: 100)
        ndjson.feed(bytes("Cont"))
        #expect(ndjson.framing == nil)
        ndjson.feed(bytes("x\n"))
        #expect(ndjson.framing == .ndjson)
        #expect(ndjson.next() == .message(bytes("Contx")))

        var json = FrameDecoder(maxMessageBytes: 100)
        json.feed(bytes("{"))
        #expect(json.framing == .ndjson)
        #expect(json.next() == nil)
    }

    @Test("a Content-Type header first also means LSP framing")
    func contentTypeFirst() {
        let (frames, framing) = decode(bytes("Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"), chunkSize: 3)
        #expect(framing == .contentLength)
        #expect(frames == messages("{}"))
    }

    @Test("EOF: an unterminated last NDJSON line is still a message, once")
    func eofLine() {
        var decoder = FrameDecoder(maxMessageBytes: 100)
        decoder.feed(bytes("{\"id\":1}\n{\"id\":2}"))
        #expect(decoder.next() == .message(bytes(#"{"id":1}"#)))
        #expect(decoder.next() == nil)
        #expect(decoder.finish() == .message(bytes(#"{"id":2}"#)))
        #expect(decoder.finish() == nil)
        decoder.feed(bytes("[3]\n"))
        #expect(decoder.next() == nil)
    }

    @Test("EOF: trailing whitespace is not a message; a truncated LSP body is a bad header")
    func eofOther() {
        var blank = FrameDecoder(maxMessageBytes: 100)
        blank.feed(bytes("[1]\n  \r"))
        #expect(blank.finish() == .message(bytes("[1]")))
        #expect(blank.finish() == nil)

        var truncated = FrameDecoder(maxMessageBytes: 100)
        truncated.feed(bytes("Content-Length: 10\r\n\r\n{}"))
        #expect(truncated.next() == nil)
        #expect(truncated.finish() == .badHeader("connection closed after 2 of 10 body bytes"))

        var undecided = FrameDecoder(maxMessageBytes: 100)
        undecided.feed(bytes("Con"))
        #expect(undecided.finish() == .message(bytes("Con")))
        #expect(undecided.framing == .ndjson)
    }

    @Test("NDJSON oversize line: one tooLarge, skipped to its newline across chunks, then decoding goes on",
          arguments: [1, 3, 10, 100, 100_000])
    func ndjsonOversize(chunkSize: Int) {
        let big = "[" + String(repeating: "1,", count: 5_000) + "1]"
        let input = bytes("[1]\n\(big)\n[2]\n\(big)\r\n\(big)")
        let (frames, _) = decode(input, chunkSize: chunkSize, max: 100)
        #expect(frames == [.message(bytes("[1]")), .tooLarge, .message(bytes("[2]")), .tooLarge, .tooLarge])
    }

    @Test("NDJSON: a line of exactly the limit passes, with or without CR; one byte more does not")
    func ndjsonLimitEdge() {
        let exact = String(repeating: "7", count: 10)
        for chunkSize in [1, 4, 100] {
            let (frames, _) = decode(bytes("\(exact)\n\(exact)\r\n\(exact)1\n\(exact)1\r\n"), chunkSize: chunkSize, max: 10)
            #expect(frames == [.message(bytes(exact)), .message(bytes(exact)), .tooLarge, .tooLarge])
        }
    }

    @Test("an oversize frame is not buffered while it streams in")
    func oversizeNotBuffered() {
        var decoder = FrameDecoder(maxMessageBytes: 1_000)
        decoder.feed(bytes("[1,"))
        let chunk = [UInt8](repeating: UInt8(ascii: "1"), count: 4_096)
        decoder.feed(chunk)
        #expect(decoder.next() == .tooLarge)
        for _ in 0..<1_000 { decoder.feed(chunk) }  // 4 MB that must all be discarded
        #expect(decoder.bufferedByteCount == 0)
        #expect(decoder.next() == nil)
        decoder.feed(bytes("]\n[2]\n"))
        #expect(decoder.next() == .message(bytes("[2]")))
        #expect(decoder.next() == nil)
    }

    @Test("Content-Length oversize: one tooLarge, the body skipped across chunks, the next message intact",
          arguments: [1, 7, 100, 100_000])
    func lspOversize(chunkSize: Int) {
        let big = String(repeating: "x", count: 5_000)
        let input = bytes("Content-Length: 3\r\n\r\n[1]Content-Length: 5000\r\n\r\n\(big)Content-Length: 3\r\n\r\n[2]")
        let (frames, _) = decode(input, chunkSize: chunkSize, max: 100)
        #expect(frames == [.message(bytes("[1]")), .tooLarge, .message(bytes("[2]"))])
    }

    @Test("a Content-Length body over the limit is discarded as it arrives, not held")
    func lspOversizeNotBuffered() {
        var decoder = FrameDecoder(maxMessageBytes: 100)
        decoder.feed(bytes("Content-Length: 100000\r\n\r\n"))
        #expect(decoder.next() == .tooLarge)
        for _ in 0..<99 { decoder.feed([UInt8](repeating: 0x78, count: 1_000)) }
        #expect(decoder.bufferedByteCount == 0)
        decoder.feed([UInt8](repeating: 0x78, count: 1_000) + bytes("Content-Length: 2\r\n\r\n{}"))
        #expect(decoder.next() == .message(bytes("{}")))
    }

    @Test("bad headers are reported and the decoder resynchronises on the next Content-Length",
          arguments: [1, 5, 10_000])
    func badHeaders(chunkSize: Int) {
        let input = bytes("Content-Length: 2\r\n\r\n{}"
            + "Content-Type: text/plain\r\n\r\n{\"lost\":1}"     // no length: body unknown
            + "Content-Length: 2\r\n\r\n[]"
            + "Content-Length: abc\r\n\r\n{\"x\":1}"            // invalid length
            + "Content-Length: 3\r\n\r\n[3]"
            + "Content-Length: 4\r\nbogus\r\n\r\n[44]"          // malformed but the length is usable
            + "Content-Length: 3\r\n\r\n[5]")
        let (frames, _) = decode(input, chunkSize: chunkSize)
        #expect(frames == [
            .message(bytes("{}")),
            .badHeader("missing Content-Length header"),
            .message(bytes("[]")),
            .badHeader("invalid Content-Length `abc`: expected a byte count"),
            .message(bytes("[3]")),
            .badHeader("malformed header line `bogus`"),
            .message(bytes("[5]")),
        ])
    }

    @Test("a body shorter than its Content-Length costs only that message")
    func shortBody() throws {
        let input = bytes("Content-Length: 5\r\n\r\n{\"a\":1}Content-Length: 3\r\n\r\n[7]")
        let (frames, _) = decode(input, chunkSize: 1)
        try #require(frames.count == 3)
        #expect(frames.first == .message(bytes(#"{"a":"#)))
        if case .badHeader = frames[1] {} else { Issue.record("expected a bad header, got \(frames[1])") }
        #expect(frames.last == .message(bytes("[7]")))
    }

    @Test("a header section that never ends is reported instead of buffered forever")
    func endlessHeader() {
        var decoder = FrameDecoder(maxMessageBytes: 100)
        decoder.feed(bytes("Content-Length: 1\r\nX: " + String(repeating: "y", count: FrameDecoder.maxHeaderBytes)))
        #expect(decoder.next() == .badHeader("header section longer than \(FrameDecoder.maxHeaderBytes) bytes"))
        decoder.feed(bytes("\r\n\r\n!Content-Length: 2\r\n\r\n{}"))
        #expect(decoder.next() == .message(bytes("{}")))
    }

    @Test("a header section over the limit is bad, and one at the limit good, however the reads split it",
          arguments: [1, 3, 100, 100_000])
    func headerLimitIndependentOfReads(chunkSize: Int) {
        let limit = FrameDecoder.maxHeaderBytes
        func section(_ length: Int) -> String {
            let prefix = "Content-Length: 2\r\nX: "
            return prefix + String(repeating: "y", count: length - prefix.utf8.count)
        }
        let atLimit = decode(bytes(section(limit) + "\r\n\r\n{}"), chunkSize: chunkSize)
        #expect(atLimit.frames == messages("{}"))
        let overLimit = decode(bytes(section(limit + 1) + "\r\n\r\n{}Content-Length: 2\r\n\r\n[]"), chunkSize: chunkSize)
        #expect(overLimit.frames == [.badHeader("header section longer than \(limit) bytes"), .message(bytes("[]"))])
    }

    @Test("many small messages in one large read, and one large message in many small reads")
    func volume() {
        let line = #"{"jsonrpc":"2.0","id":1,"method":"enqueue","params":{"type":"t"}}"#
        let many = bytes(String(repeating: line + "\n", count: 10_000))
        var decoder = FrameDecoder(maxMessageBytes: 1 << 20)
        decoder.feed(many)
        var count = 0
        while let frame = decoder.next() {
            #expect(frame == .message(bytes(line)))
            count += 1
        }
        #expect(count == 10_000)

        let large = "[" + String(repeating: "\"abcdefgh\",", count: 50_000) + "0]"
        let (frames, _) = decode(bytes(large + "\n"), chunkSize: 17, max: 1 << 20)
        #expect(frames == messages(large))
    }

    @Test("encode frames a body in either framing, and the decoder reads it back", arguments: [Framing.ndjson, .contentLength])
    func encodeRoundTrip(framing: Framing) {
        let body = bytes(#"{"jsonrpc":"2.0","id":"é","result":true}"#)
        let encoded = FrameDecoder.encode(body, as: framing)
        switch framing {
        case .ndjson: #expect(encoded == body + [0x0A])
        case .contentLength: #expect(encoded == bytes("Content-Length: \(body.count)\r\n\r\n") + body)
        }
        #expect(FrameDecoder.encode(JSON.object(["a": 1]), as: framing) == FrameDecoder.encode(bytes(#"{"a":1}"#), as: framing))
        let (frames, detected) = decode(encoded + encoded, chunkSize: 3)
        #expect(detected == framing)
        #expect(frames == [.message(body), .message(body)])
    }
}

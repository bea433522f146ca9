/// What must hold for any byte stream given to `FrameDecoder`.
enum FrameInvariants {
    /// Small, so that oversize lines and bodies are common in fuzzed input.
    static let maxMessageBytes = 64
    /// Small, so that over-long LSP header sections are common too.
    static let maxHeaderSectionBytes = 48

    /// The most an idle decoder may hold: an NDJSON line at the limit plus its `\r`, or a header
    /// section at its limit plus a partial `\r\n\r\n`.
    static let maxBuffered = max(maxMessageBytes + 1, maxHeaderSectionBytes + 3)

    /// - the same frames and framing come out whether the stream arrives whole, one byte at a
    ///   time, or cut at points chosen by the input's own bytes;
    /// - the decoder never holds more than `maxBuffered` bytes between reads, and no message
    ///   exceeds `maxMessageBytes`;
    /// - messages re-framed with `FrameDecoder.encode` decode to the same messages, in both framings.
    static func check(_ input: [UInt8]) {
        let whole = decode(input, chunkSizes: [input.count], input: input)
        let byteByByte = decode(input, chunkSizes: [1], input: input)
        guard byteByByte == whole else {
            violated("one byte at a time gives \(describe(byteByByte)), whole gives \(describe(whole))", input)
        }
        // Chunk sizes from the input read backwards, so the tail of an input steers its cuts.
        let steered = input.reversed().prefix(64).map { Int($0 % 32) + 1 }
        let split = decode(input, chunkSizes: steered.isEmpty ? [1] : steered, input: input)
        guard split == whole else {
            violated("chunks \(steered.prefix(16)) give \(describe(split)), whole gives \(describe(whole))", input)
        }

        for case .message(let body) in whole.frames where body.count > maxMessageBytes {
            violated("a message of \(body.count) bytes passed the \(maxMessageBytes)-byte limit", input)
        }
        checkReframing(whole.frames, input)
    }

    /// Each message that is JSON, written compactly and framed again, must come back unchanged.
    private static func checkReframing(_ frames: [Frame], _ input: [UInt8]) {
        var bodies: [[UInt8]] = []
        for case .message(let body) in frames {
            if case .success(let value) = JSONInvariants.parse(body, maxDepth: 64) { bodies.append(value.serialized()) }
        }
        guard !bodies.isEmpty else { return }
        for framing in [Framing.ndjson, .contentLength] {
            var stream: [UInt8] = []
            for body in bodies { stream += FrameDecoder.encode(body, as: framing) }
            let expected = bodies.map { $0.count > maxMessageBytes ? Frame.tooLarge : .message($0) }
            for chunk in [stream.count, 1, 7] {
                let decoded = decode(stream, chunkSizes: [chunk], input: input)
                guard decoded.frames == expected, decoded.framing == framing else {
                    violated("re-framed as \(framing) in chunks of \(chunk): \(describe(decoded))", input)
                }
            }
        }
    }

    struct Decoded: Equatable {
        var frames: [Frame]
        var framing: Framing?
    }

    /// Feeds `stream` in chunks of the given sizes (cycled), popping frames after each read and
    /// checking the bound on buffered bytes, then finishes.
    static func decode(_ stream: [UInt8], chunkSizes: [Int], input: [UInt8]) -> Decoded {
        var decoder = FrameDecoder(maxMessageBytes: maxMessageBytes, maxHeaderSectionBytes: maxHeaderSectionBytes)
        var frames: [Frame] = []
        var offset = 0
        var turn = 0
        while offset < stream.count {
            let end = min(offset + max(1, chunkSizes[turn % chunkSizes.count]), stream.count)
            stream[offset..<end].withUnsafeBytes { decoder.feed($0) }
            while let frame = decoder.next() { frames.append(frame) }
            guard decoder.bufferedByteCount <= maxBuffered else {
                violated("holds \(decoder.bufferedByteCount) bytes after \(end) of \(stream.count), over \(maxBuffered)", input)
            }
            offset = end
            turn += 1
        }
        while let frame = decoder.finish() { frames.append(frame) }
        guard decoder.bufferedByteCount == 0 else { violated("holds bytes after finish()", input) }
        return Decoded(frames: frames, framing: decoder.framing)
    }

    private static func describe(_ decoded: Decoded) -> String {
        let frames = decoded.frames.map { frame -> String in
            switch frame {
            case .message(let body): return "message(\(String(decoding: body, as: UTF8.self).debugDescription))"
            case .tooLarge: return "tooLarge"
            case .badHeader(let why): return "badHeader(\(why))"
            }
        }
        return "\(decoded.framing.map { "\($0)" } ?? "undecided") \(frames)"
    }
}

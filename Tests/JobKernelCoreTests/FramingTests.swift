import Testing
@testable import JobKernelCore

/// docs/promises.md §3: framing detected per connection; oversize frames skipped without buffering them.
struct FramingTests {
    static func frames(_ chunks: [[UInt8]], max: Int = 1 << 20) -> ([Frame], Framing?) {
        var d = FrameDecoder(maxMessageBytes: max)
        var out: [Frame] = []
        for c in chunks {
            d.feed(c)
            while let f = d.next() { out.append(f) }
        }
        if let f = d.finish() { out.append(f) }
        return (out, d.framing)
    }

    static func bytewise(_ s: String) -> [[UInt8]] { s.utf8.map { [$0] } }

    @Test func ndjsonLinesInAnyChunking() {
        let text = "{\"a\":1}\n\n{\"b\":2}\r\n{\"c\":3}"
        for chunks in [[Array(text.utf8)], Self.bytewise(text)] {
            let (f, framing) = Self.frames(chunks)
            #expect(framing == .ndjson)
            #expect(f == [.message(Array("{\"a\":1}".utf8)), .message(Array("{\"b\":2}".utf8)), .message(Array("{\"c\":3}".utf8))])
        }
    }

    @Test func contentLengthWithExtraHeaders() {
        let body = "{\"x\":\"é\"}"
        let n = body.utf8.count
        let text = "Content-Length: \(n)\r\nContent-Type: application/json\r\n\r\n\(body)content-length: 2\r\n\r\n{}"
        for chunks in [[Array(text.utf8)], Self.bytewise(text)] {
            let (f, framing) = Self.frames(chunks)
            #expect(framing == .contentLength)
            #expect(f == [.message(Array(body.utf8)), .message(Array("{}".utf8))])
        }
    }

    @Test func oversizeNdjsonLineIsSkippedOnceAcrossChunks() {
        let big = "[" + String(repeating: "1,", count: 100) + "1]\n"
        let text = big + "{\"ok\":1}\n"
        let (f, _) = Self.frames(Self.bytewise(text), max: 50)
        #expect(f == [.tooLarge, .message(Array("{\"ok\":1}".utf8))])
    }

    @Test func oversizeContentLengthBodyIsSkipped() {
        let big = String(repeating: "x", count: 300)
        let text = "Content-Length: 300\r\n\r\n\(big)Content-Length: 2\r\n\r\n{}"
        for chunks in [[Array(text.utf8)], Self.bytewise(text)] {
            let (f, _) = Self.frames(chunks, max: 100)
            #expect(f == [.tooLarge, .message(Array("{}".utf8))])
        }
    }

    @Test func badHeaderIsReported() {
        let (f, _) = Self.frames([Array("Content-Length: abc\r\n\r\n".utf8)])
        #expect(f.first.map { if case .badHeader = $0 { return true } else { return false } } == true)
    }

    @Test func encodesInKind() {
        #expect(FrameDecoder.encode(Array("{}".utf8), as: .ndjson) == Array("{}\n".utf8))
        #expect(FrameDecoder.encode(Array("{}".utf8), as: .contentLength) == Array("Content-Length: 2\r\n\r\n{}".utf8))
    }

    @Test func lineSplitterCutsLongLines() {
        var s = LineSplitter(maxLineBytes: 4)
        let lines = Array("ab\ncdefgh\r\n".utf8).withUnsafeBytes { s.feed($0) }
        #expect(lines == ["ab", "cdef", "gh"])
        #expect(s.finish() == nil)
    }
}

/// docs/promises.md §4: the JSON-RPC 2.0 specification's own examples, and the kernel's error table.
struct RPCSpecExampleTests {
    static func decode(_ s: String) -> RPCInbound { RPCDecoder.decode(Array(s.utf8)) }

    @Test func requestsNotificationsAndResponses() {
        #expect(Self.decode(#"{"jsonrpc":"2.0","method":"subtract","params":{"a":1},"id":3}"#)
            == .single(.message(.request(id: 3, method: "subtract", params: ["a": 1]))))
        #expect(Self.decode(#"{"jsonrpc":"2.0","method":"update","params":[1,2]}"#)
            == .single(.message(.notification(method: "update", params: [1, 2]))))
        #expect(Self.decode(#"{"jsonrpc":"2.0","id":"x","result":7}"#)
            == .single(.message(.response(id: "x", result: .success(7)))))
    }

    @Test func errorsFollowTheSpecExamples() {
        func reason(_ s: String) -> [String?] {
            switch Self.decode(s) {
            case .single(.invalid(_, let e)): return [e.reason]
            case .batch(let es): return es.map { if case .invalid(_, let e) = $0 { return e.reason } else { return nil } }
            default: return [nil]
            }
        }
        #expect(reason(#"{"jsonrpc":"2.0","method":"foobar,"params":"bar","baz]"#) == ["parse_error"])
        #expect(reason(#"{"jsonrpc":"2.0","method":1,"params":"bar"}"#) == ["invalid_request"])
        #expect(reason("[]") == ["invalid_request"])
        #expect(reason("[1]") == ["invalid_request"])
        #expect(reason("[1,2,3]") == ["invalid_request", "invalid_request", "invalid_request"])
        #expect(reason(#"{"jsonrpc":"1.0","method":"x","id":1}"#) == ["invalid_request"])
        #expect(reason(#"{"jsonrpc":"2.0","method":"x","id":[1]}"#) == ["invalid_request"])
    }

    @Test func idsAreEchoedUnchanged() {
        let r = RPCEncoder.response(id: .rawNumber("12345678901234567890123"), result: true)
        #expect(r.compactString == #"{"jsonrpc":"2.0","id":12345678901234567890123,"result":true}"#)
    }
}

/// docs/promises.md §4: named params only; unknown params and wrong types name the field.
struct ParamsFieldTests {
    @Test func positionalParamsAreRefused() {
        #expect(throws: RPCError.self) { try Params([1, 2]) }
    }

    @Test func unknownParamIsNamed() throws {
        var p = try Params(["type": "a", "bogus": 1])
        _ = try p.string("type")
        #expect {
            try p.rejectUnknown()
        } throws: { e in
            (e as? RPCError)?.data?["field"] == "bogus" && (e as? RPCError)?.reason == "invalid_params"
        }
    }

    @Test func typesAreChecked() throws {
        var p = try Params(["n": "x", "m": 3.0, "f": 3.5, "s": ["a", "b"], "z": .null])
        #expect(throws: RPCError.self) { try p.optionalInt("n") }
        #expect(try p.optionalInt("m") == 3)
        #expect(throws: RPCError.self) { try p.optionalInt("f") }
        #expect(try p.stringOrStringArray("s") == ["a", "b"])
        #expect(try p.optionalString("z") == nil)
        #expect(throws: Never.self) { try p.rejectUnknown() }
    }
}

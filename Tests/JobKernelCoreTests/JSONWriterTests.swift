import Testing
@testable import JobKernelCore

/// Compact output: key order kept, strings escaped, doubles round-trip, never `inf`/`nan`.
struct JSONWriterTests {
    @Test("scalars", arguments: [
        (JSON.null, "null"), (.bool(true), "true"), (.bool(false), "false"),
        (.int(0), "0"), (.int(7), "7"), (.int(-7), "-7"), (.int(10), "10"), (.int(1_234_567_890), "1234567890"),
        (.int(Int.max), "9223372036854775807"), (.int(Int.min), "-9223372036854775808"),
        (.double(30), "30.0"), (.double(0.1), "0.1"), (.double(-2.5), "-2.5"), (.double(1e-7), "1e-07"),
        (.double(1e20), "1e+20"), (.double(.infinity), "null"), (.double(-.infinity), "null"), (.double(.nan), "null"),
        (.rawNumber("123456789012345678901234567890"), "123456789012345678901234567890"),
        (.string(""), #""""#), (.string("é€😀"), "\"é€😀\""),
    ] as [(JSON, String)])
    func scalars(value: JSON, expected: String) {
        #expect(value.compactString == expected)
    }

    /// Every length of integer, at each power of ten and either side of it, both signs: the
    /// digits are written two at a time from the right.
    @Test("integers of every length", arguments: (0...18).flatMap { e -> [Int] in
        let p = (0..<e).reduce(1) { r, _ in r * 10 }
        return [p - 1, p, p + 1, p * 9 / 5, -p, -(p - 1), -(p + 1)]
    } + [Int.max, Int.max - 1, Int.min, Int.min + 1, 1_764_633_600_123])
    func integers(_ n: Int) {
        #expect(JSON.int(n).compactString == String(n))
    }

    @Test("escapes: quote, backslash, short forms and \\u00XX for other control characters", arguments: [
        ("\"", #""\"""#), ("\\", #""\\""#), ("\n", #""\n""#), ("\r", #""\r""#), ("\t", #""\t""#),
        ("\u{08}", #""\b""#), ("\u{0C}", #""\f""#), ("\u{0}", #""\u0000""#), ("\u{1F}", #""\u001f""#),
        ("\u{01}x\u{1B}", #""\u0001x\u001b""#), ("/", #""/""#), ("\u{7F}", "\"\u{7F}\""),
        ("a\"b\\c\nd", #""a\"b\\c\nd""#),
    ])
    func escapes(input: String, expected: String) {
        #expect(JSON.string(input).compactString == expected)
    }

    @Test("objects keep insertion order and write compactly")
    func objectOrder() {
        var object = JSONObject()
        object["jsonrpc"] = "2.0"
        object["id"] = 1
        object["result"] = ["b": 1, "a": [true, nil]]
        #expect(JSON.object(object).compactString == #"{"jsonrpc":"2.0","id":1,"result":{"b":1,"a":[true,null]}}"#)
    }

    @Test("write(into:) appends to an existing buffer")
    func appends() {
        var buffer = Array("x".utf8)
        JSON.array([1, "a"]).write(into: &buffer)
        #expect(buffer == Array(#"x[1,"a"]"#.utf8))
    }

    @Test("round trip: parse(serialize(v)) == v for every kind of value", arguments: [
        JSON.null, true, 0, -1, .int(Int.max), .int(Int.min), 0.5, -1e-300, 1.7976931348623157e308, .double(.leastNonzeroMagnitude),
        .double(30), "", "tab\tquote\"slash\\nul\u{0}ctl\u{1F}é😀", [], [[], [[]]],
        .object(JSONObject()), ["a": 1, "b": ["c": [1.25, "x", nil, false]]],
        .rawNumber("-99999999999999999999999"),
    ] as [JSON])
    func roundTrip(value: JSON) throws {
        let bytes = value.serialized()
        #expect(try JSONParser.parse(bytes) == value)
        // A second trip is byte-identical.
        #expect(try JSONParser.parse(bytes).serialized() == bytes)
    }

    @Test("round trip of text: compact input comes back byte for byte")
    func textRoundTrip() throws {
        let text = #"{"jsonrpc":"2.0","id":"a\"b","method":"x","params":{"n":[1,2.5,-3e-05,{"k":null}],"s":"\u0001é"}}"#
        #expect(try JSONParser.parse(text).compactString == text)
    }
}

/// The writers' byte buffer: appends past its room, continues an array, trims when done.
struct ByteWriterTests {
    @Test("grows past its first room and keeps every byte", arguments: [0, 1, 15, 16, 17, 511, 512, 513, 5_000])
    func grows(length: Int) {
        var writer = ByteWriter(capacity: 16)
        let expected = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for (i, byte) in expected.enumerated() {
            // Mixed sizes: single bytes and runs, so both paths cross the growth points.
            if i % 3 == 0 { writer.append(byte) } else { writer.append([byte]) }
        }
        #expect(writer.count == length)
        #expect(writer.finish() == expected)
    }

    @Test("continues an array with spare capacity, and one without", arguments: [0, 100, 10_000])
    func continues(spare: Int) {
        var start = Array("head:".utf8)
        start.reserveCapacity(start.count + spare)
        var writer = ByteWriter(continuing: start)
        let tail = [UInt8](repeating: UInt8(ascii: "t"), count: 700)
        writer.append(tail)
        writer.append("!")
        #expect(writer.finish() == Array("head:".utf8) + tail + [UInt8(ascii: "!")])
        #expect(start == Array("head:".utf8))  // the array given is not changed
    }

    @Test("appending(to:) writes in place: an array with room is neither copied nor moved")
    func appendsInPlace() {
        var outbox = Array("queued".utf8)
        outbox.reserveCapacity(1 << 16)
        let before = outbox.withUnsafeBufferPointer { $0.baseAddress }
        for _ in 0..<100 {
            ByteWriter.appending(to: &outbox) { writer in
                JSONWriter.write(["jsonrpc": "2.0", "id": 1, "result": true], into: &writer)
                writer.append(0x0A)
            }
        }
        #expect(outbox.withUnsafeBufferPointer { $0.baseAddress } == before)
        let line = #"{"jsonrpc":"2.0","id":1,"result":true}"# + "\n"
        #expect(outbox == Array(("queued" + String(repeating: line, count: 100)).utf8))
    }

    @Test("write(atMost:) keeps what the body says it wrote")
    func writeInPlace() {
        var writer = ByteWriter(continuing: Array("ab".utf8))
        writer.write(atMost: 10) { out in
            out[0] = UInt8(ascii: "c")
            out[1] = UInt8(ascii: "d")
            return 2
        }
        writer.append(utf8: "é")
        #expect(writer.finish() == Array("abcdé".utf8))
    }
}

/// Strings are scanned eight bytes at a time: a byte to escape is found wherever it falls.
struct JSONWriterScanTests {
    @Test("an escaped byte at every position of strings up to 40 bytes", arguments: ["\"", "\\", "\n", "\u{01}", "\u{1F}"])
    func everyPosition(special: String) throws {
        for length in 1...40 {
            for at in 0..<length {
                var chars = Array(repeating: "a", count: length)
                chars[at] = special
                let text = chars.joined()
                let bytes = JSON.string(text).serialized()
                #expect(try JSONParser.parse(bytes) == .string(text), "length \(length), at \(at)")
                #expect(bytes.count == length + 2 + (special == "\u{01}" || special == "\u{1F}" ? 5 : 1))
            }
        }
    }

    @Test("bytes that are not to be escaped pass through as they are", arguments: [
        " !#[]~\u{7F}", "éééé€€€€😀😀", String(repeating: "0123456789abcdef", count: 9), "\u{20}\u{21}\u{23}\u{5B}\u{5D}",
    ])
    func passThrough(text: String) {
        #expect(JSON.string(text).serialized() == [UInt8(ascii: "\"")] + Array(text.utf8) + [UInt8(ascii: "\"")])
    }
}

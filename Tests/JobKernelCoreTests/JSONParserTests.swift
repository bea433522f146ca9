import Testing
@testable import JobKernelCore

/// docs/promises.md §3/§4: strict RFC 8259 parsing; invalid UTF-8 and too-deep input are errors, never crashes.
struct JSONParserTests {
    private func parse(_ text: String, maxDepth: Int = 64) throws(JSONParseError) -> JSON {
        try JSONParser.parse(text, maxDepth: maxDepth)
    }

    private func parseBytes(_ bytes: [UInt8]) -> Result<JSON, JSONParseError> {
        Result { () throws(JSONParseError) -> JSON in try JSONParser.parse(bytes) }
    }

    @Test("scalars and containers parse to the expected values")
    func values() throws {
        #expect(try parse("null") == .null)
        #expect(try parse("true") == .bool(true))
        #expect(try parse("false") == .bool(false))
        #expect(try parse("0") == .int(0))
        #expect(try parse("-0") == .int(0))
        #expect(try parse("42") == .int(42))
        #expect(try parse("-17") == .int(-17))
        #expect(try parse("1.5") == .double(1.5))
        #expect(try parse("-0.25e1") == .double(-2.5))
        #expect(try parse("1E2") == .double(100))
        #expect(try parse("1e+2") == .double(100))
        #expect(try parse("1e-2") == .double(0.01))
        #expect(try parse(#""hi""#) == .string("hi"))
        #expect(try parse("[]") == .array([]))
        #expect(try parse("{}") == .object(JSONObject()))
        #expect(try parse(#" { "a" : [ 1 , 2.5 , "x" , null , true ] , "b" : { } } "#)
            == ["a": [1, 2.5, "x", nil, true], "b": .object(JSONObject())])
    }

    @Test("object keys keep their order; a repeated key keeps its first place and last value")
    func objectOrder() throws {
        let value = try parse(#"{"z":1,"a":2,"m":3,"a":4}"#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["z", "a", "m"])
        #expect(object["a"] == .int(4))
    }

    @Test("Int bounds fit; integers beyond Int are kept verbatim")
    func integers() throws {
        #expect(try parse("9223372036854775807") == .int(Int.max))
        #expect(try parse("-9223372036854775808") == .int(Int.min))
        #expect(try parse("9223372036854775808") == .rawNumber("9223372036854775808"))
        #expect(try parse("-9223372036854775809") == .rawNumber("-9223372036854775809"))
        let huge = "123456789012345678901234567890123456789"
        #expect(try parse("[\(huge)]") == .array([.rawNumber(huge)]))
        #expect(try parse(#"{"id":\#(huge)}"#).compactString == #"{"id":\#(huge)}"#)
    }

    @Test("a double that overflows is an error, not infinity; underflow is zero")
    func doubleRange() throws {
        #expect(throws: JSONParseError.self) { try parse("1e400") }
        #expect(throws: JSONParseError.self) { try parse("-1e400") }
        #expect(try parse("1e-400") == .double(0))
        #expect(try parse("1.7976931348623157e308") == .double(.greatestFiniteMagnitude))
    }

    @Test("every escape decodes", arguments: [
        (#""\"""#, "\""), (#""\\""#, "\\"), (#""\/""#, "/"), (#""\b""#, "\u{08}"),
        (#""\f""#, "\u{0C}"), (#""\n""#, "\n"), (#""\r""#, "\r"), (#""\t""#, "\t"),
        (#""\u0041""#, "A"), (#""\u00e9""#, "é"), (#""\u00E9""#, "é"), (#""\u20AC""#, "€"),
        (#""\u0000""#, "\u{0}"), (#""a\nb\"c""#, "a\nb\"c"), (#""é\u00e9€""#, "éé€"),
    ])
    func escapes(input: String, expected: String) throws {
        #expect(try parse(input) == .string(expected))
    }

    @Test("surrogate pairs combine into one scalar")
    func surrogatePairs() throws {
        #expect(try parse(#""\uD83D\uDE00""#) == .string("😀"))
        #expect(try parse(#""\ud834\udd1e x""#) == .string("𝄞 x"))
        #expect(try parse(#""😀""#) == .string("😀"))
    }

    @Test("lone or misordered surrogates are parse errors", arguments: [
        #""\uD83D""#, #""\uD83Dx""#, #""\uDE00""#, #""\uDE00\uD83D""#, #""\uD83D\u0041""#, #""\uD83D\n""#,
    ])
    func loneSurrogates(input: String) {
        #expect(throws: JSONParseError.self) { try parse(input) }
    }

    @Test("strict grammar rejects what RFC 8259 does not allow", arguments: [
        "", " ", "[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "{a:1}", "{'a':1}", "['a']",
        "01", "-01", "00", "1.", ".5", "1e", "1e+", "-", "+1", "0x10", "NaN", "Infinity", "-Infinity",
        "nul", "tru", "True", "[1] x", "{} {}", "// c\n1", "/* c */ 1", "[", "{", "\"abc", "[1,",
        "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"a\u{01}b\"", "\"tab\there\"", "{\"a\":}", "[,1]",
        "\u{FEFF}1",
    ])
    func rejects(input: String) {
        #expect(throws: JSONParseError.self) { try parse(input) }
    }

    @Test("leading zeros and trailing garbage report a syntax error with an offset")
    func syntaxOffsets() {
        #expect(throws: JSONParseError.syntax(offset: 0, message: "leading zeros are not allowed in a number")) {
            try parse("01")
        }
        #expect(throws: JSONParseError.syntax(offset: 4, message: "unexpected character `x` after the end of the JSON value")) {
            try parse("[1] x")
        }
    }

    @Test("whitespace around the value is allowed")
    func whitespace() throws {
        #expect(try parse(" \t\r\n 7 \n\t\r ") == .int(7))
    }

    @Test("invalid UTF-8 anywhere is an invalidUTF8 error at its offset", arguments: [
        ([0x22, 0xFF, 0x22], 1),                    // 0xFF never appears in UTF-8
        ([0x22, 0xC0, 0xAF, 0x22], 1),              // overlong '/'
        ([0x22, 0xE0, 0x80, 0xAF, 0x22], 1),        // overlong 3-byte
        ([0x22, 0xF0, 0x80, 0x80, 0xAF, 0x22], 1),  // overlong 4-byte
        ([0x22, 0xE2, 0x82, 0x22], 1),              // truncated '€'
        ([0x22, 0x61, 0xE2, 0x82], 2),              // truncated at end of input
        ([0x22, 0x80, 0x22], 1),                    // lone continuation byte
        ([0x22, 0xED, 0xA0, 0x80, 0x22], 1),        // encoded surrogate U+D800
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1),  // above U+10FFFF
        ([0x22, 0x5C, 0x6E, 0xFE, 0x22], 3),        // after an escape (slow path)
        ([0x5B, 0x31, 0x2C, 0xFF, 0x5D], 3),        // outside a string
        ([0xFF], 0),
    ] as [([UInt8], Int)])
    func invalidUTF8(bytes: [UInt8], offset: Int) {
        #expect(parseBytes(bytes) == .failure(.invalidUTF8(offset: offset)))
    }

    @Test("well-formed multi-byte UTF-8 passes through unchanged")
    func validUTF8() throws {
        let text = "\"aé€😀\u{10FFFF}\u{7FF}\u{800}\u{FFFF}\u{10000}\""
        #expect(try JSONParser.parse(Array(text.utf8)) == .string("aé€😀\u{10FFFF}\u{7FF}\u{800}\u{FFFF}\u{10000}"))
    }

    @Test("nesting: 64 levels parse, 65 are too deep, for arrays and objects")
    func depthLimit() throws {
        let ok = String(repeating: "[", count: 64) + "1" + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try parse(ok) }
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONParseError.tooDeep) { try parse(deep) }
        let okObjects = String(repeating: #"{"a":"#, count: 64) + "1" + String(repeating: "}", count: 64)
        #expect(throws: Never.self) { try parse(okObjects) }
        let deepObjects = String(repeating: #"{"a":"#, count: 65) + "{}" + String(repeating: "}", count: 65)
        #expect(throws: JSONParseError.tooDeep) { try parse(deepObjects) }
        #expect(throws: JSONParseError.tooDeep) { try parse("[[]]", maxDepth: 1) }
        #expect(try parse("[]", maxDepth: 1) == .array([]))
    }

    @Test("depth 100000 is reported as too deep without exhausting the stack")
    func veryDeep() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.tooDeep) { try parse(deep) }
        let unterminated = String(repeating: #"{"k":["#, count: 50_000)
        #expect(throws: JSONParseError.tooDeep) { try parse(unterminated) }
    }

    @Test("a generous maxDepth still parses deep input iteratively")
    func deepAllowed() throws {
        let deep = String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000)
        var value = try parse(deep, maxDepth: 20_000)
        var levels = 0
        while case .array(let inner) = value {
            levels += 1
            value = inner.first ?? .null
        }
        #expect(levels == 20_000)
    }

    @Test("parsing from a raw buffer slice sees only that slice")
    func rawBuffer() throws {
        let bytes = Array("xx[1,2]yy".utf8)
        let value = try bytes.withUnsafeBytes { buffer in
            try JSONParser.parse(UnsafeRawBufferPointer(rebasing: buffer[2..<7]))
        }
        #expect(value == [1, 2])
    }
}

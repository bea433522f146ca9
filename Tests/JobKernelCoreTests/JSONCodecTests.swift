import Testing
@testable import JobKernelCore

/// docs/promises.md §3–§4: strict JSON in, compact JSON out; invalid UTF-8 and deep nesting are refused.
struct JSONCodecTests {
    @Test(arguments: [
        #"null"#, #"true"#, #"false"#, #"0"#, #"-12"#, #"1.5"#, #""a\"b\\c\n""#, #"[]"#, #"{}"#,
        #"{"a":[1,{"b":null}],"c":"d"}"#, #"12345678901234567890123"#, #""é😀""#,
    ])
    func roundTrips(text: String) throws {
        let v = try JSONParser.parse(text)
        #expect(v.compactString == text)
    }

    @Test func keepsObjectOrderAndHugeIntegersVerbatim() throws {
        let v = try JSONParser.parse(#"{"z":1,"a":2,"id":98765432109876543210}"#)
        #expect(v.objectValue?.keys == ["z", "a", "id"])
        #expect(v["id"] == .rawNumber("98765432109876543210"))
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        #expect(try JSONParser.parse(#""\u00e9\ud83d\ude00\t\/""#) == .string("é😀\t/"))
        #expect(JSON.string("\u{01}").compactString == #""\u0001""#)
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "tru", "\"abc", "[1 2]", "{\"a\" 1}", "nul",
        "\"\\x\"", "\"\\ud800\"", "\"\\udc00x\"", "1 2", "NaN", "\"a\u{01}b\"",
    ])
    func rejectsMalformed(text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test(arguments: [[0x22, 0xFF, 0x22], [0x22, 0xC0, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22]] as [[UInt8]])
    func rejectsInvalidUTF8(bytes: [UInt8]) {
        #expect {
            try JSONParser.parse(bytes)
        } throws: { e in
            if case JSONParseError.invalidUTF8 = e { return true } else { return false }
        }
    }

    @Test func depthLimit() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try JSONParser.parse(ok) }
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONParseError.tooDeep) { try JSONParser.parse(deep) }
        let huge = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError.tooDeep) { try JSONParser.parse(huge) }
    }

    @Test func writesDoublesAndNonFinite() {
        #expect(JSON.double(30).compactString == "30.0")
        #expect(JSON.double(0.1).compactString == "0.1")
        #expect(JSON.double(.infinity).compactString == "null")
    }
}

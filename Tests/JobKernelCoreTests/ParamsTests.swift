import Testing
@testable import JobKernelCore

/// docs/promises.md §4: params are by name; wrong types and unknown parameters are -32602 naming the field.
struct ParamsTests {
    private func params(_ text: String) throws -> Params {
        try Params(JSONParser.parse(text))
    }

    @Test("nil and null params are an empty object")
    func absent() throws {
        var none = try Params(nil)
        #expect(none.object.isEmpty)
        #expect(try none.optionalString("x") == nil)
        try none.rejectUnknown()
        #expect(try Params(.null).object.isEmpty)
    }

    @Test("positional params are -32602 by name; other values too")
    func notAnObject() {
        #expect(throws: RPCError.invalidParams("params must be an object (by name), not an array (by position)")) {
            try Params([1, 2])
        }
        #expect(throws: RPCError.invalidParams("params must be an object (by name), got string")) {
            try Params("x")
        }
    }

    @Test("typed getters return the values")
    func getters() throws {
        var p = try params(#"{"s":"a","i":3,"f":3.0,"d":2.5,"b":true,"o":{"k":1},"a":[1],"j":[null],"one":"x","many":["x","y"]}"#)
        #expect(try p.string("s") == "a")
        #expect(try p.optionalString("s") == "a")
        #expect(try p.int("i") == 3)
        #expect(try p.optionalInt("f") == 3)
        #expect(try p.optionalDouble("d") == 2.5)
        #expect(try p.optionalDouble("i") == 3)
        #expect(try p.optionalBool("b") == true)
        #expect(try p.optionalObject("o") == ["k": 1])
        #expect(try p.optionalArray("a") == [1])
        #expect(p.optionalJSON("j") == [nil])
        #expect(try p.stringOrStringArray("one") == ["x"])
        #expect(try p.stringOrStringArray("many") == ["x", "y"])
        #expect(throws: Never.self) { try p.rejectUnknown() }
    }

    @Test("explicit null is absent for optional getters and missing for required ones")
    func nulls() throws {
        var p = try params(#"{"s":null,"i":null,"b":null,"o":null,"l":null,"j":null}"#)
        #expect(try p.optionalString("s") == nil)
        #expect(try p.optionalInt("i") == nil)
        #expect(try p.optionalBool("b") == nil)
        #expect(try p.optionalObject("o") == nil)
        #expect(try p.stringOrStringArray("l") == nil)
        #expect(p.optionalJSON("j") == nil)
        #expect(throws: RPCError.invalidParams("missing required parameter `s`", field: "s")) { try p.string("s") }
        #expect(throws: RPCError.invalidParams("missing required parameter `absent`", field: "absent")) { try p.int("absent") }
    }

    @Test("wrong types are -32602 naming the field and the type received", arguments: [
        (#"{"priority":"high"}"#, "priority", "`priority` must be an integer, got string"),
        (#"{"priority":3.5}"#, "priority", "`priority` must be an integer, got 3.5"),
        (#"{"priority":99999999999999999999}"#, "priority", "`priority` is out of range for an integer: 99999999999999999999"),
        (#"{"priority":1e19}"#, "priority", "`priority` is out of range for an integer: 1e+19"),
        (#"{"priority":true}"#, "priority", "`priority` must be an integer, got boolean"),
        (#"{"id":17}"#, "id", "`id` must be a string, got number"),
        (#"{"manual":"yes"}"#, "manual", "`manual` must be a boolean, got string"),
        (#"{"payload":[]}"#, "payload", "`payload` must be an object, got array"),
        (#"{"items":{}}"#, "items", "`items` must be an array, got object"),
        (#"{"delay_s":"1s"}"#, "delay_s", "`delay_s` must be a number, got string"),
        (#"{"status":-1}"#, "status", "`status` must be a string or a non-empty array of them, got -1"),
        (#"{"status":7}"#, "status", "`status` must be a string or a non-empty array of them, got 7"),
        (#"{"status":["a",true]}"#, "status", "`status` must be a string or a non-empty array of them, got true"),
        (#"{"status":[]}"#, "status", "`status` must not be an empty array"),
    ])
    func wrongTypes(text: String, field: String, message: String) throws {
        var p = try params(text)
        let error = #expect(throws: RPCError.self) {
            switch field {
            case "priority": _ = try p.optionalInt(field)
            case "id": _ = try p.string(field)
            case "manual": _ = try p.optionalBool(field)
            case "payload": _ = try p.optionalObject(field)
            case "items": _ = try p.optionalArray(field)
            case "delay_s": _ = try p.optionalDouble(field)
            default: _ = try p.stringOrStringArray(field)
            }
        }
        #expect(error == .invalidParams(message, field: field))
        #expect(error?.code == -32602)
        #expect(error?.data?["field"] == .string(field))
    }

    @Test("rejectUnknown names the first parameter, in the order sent, that was not read")
    func unknown() throws {
        var p = try params(#"{"id":"1","zeta":1,"alpha":2}"#)
        _ = try p.string("id")
        _ = try p.optionalString("reason")
        let error = #expect(throws: RPCError.self) { try p.rejectUnknown() }
        #expect(error?.code == -32602)
        #expect(error?.data?["field"] == "zeta")
        #expect(error?.message.contains("`zeta`") == true)
        _ = p.optionalJSON("zeta")
        _ = p.optionalJSON("alpha")
        #expect(throws: Never.self) { try p.rejectUnknown() }
    }

    @Test("a read that throws still counts as read")
    func failedReadCounts() throws {
        var p = try params(#"{"priority":"x"}"#)
        #expect(throws: RPCError.self) { try p.optionalInt("priority") }
        #expect(throws: Never.self) { try p.rejectUnknown() }
    }

    // MARK: - Ranged getters (docs/promises.md §10)

    private static let int32 = Int(Int32.min)...Int(Int32.max)

    @Test("integers in a range: the edges pass, one beyond is -32602 naming the field", arguments: [
        ("0", 0 as Int?), ("-2147483648", -2147483648), ("2147483647", 2147483647), ("-0.0", 0), ("3.0", 3),
        ("2147483648", nil), ("-2147483649", nil), ("4294967296", nil), ("9007199254740992", nil),
        ("9223372036854775808", nil), ("1e308", nil), ("-1e308", nil), ("1.5", nil), ("\"1\"", nil), ("true", nil),
        ("[]", nil), ("{}", nil),
    ])
    func intInRange(literal: String, expected: Int?) throws {
        var p = try params(#"{"priority":\#(literal)}"#)
        if let expected {
            #expect(try p.optionalInt("priority", in: Self.int32) == expected)
        } else {
            let error = #expect(throws: RPCError.self) { try p.optionalInt("priority", in: Self.int32) }
            #expect(error?.code == -32602)
            #expect(error?.data?["field"] == "priority")
        }
    }

    @Test("durations: finite, in range, as whole milliseconds rounded up", arguments: [
        ("0", 0 as Millis?), ("1.5", 1500), ("0.0001", 1), ("-0.0", 0), ("86400", 86_400_000),
        ("253402300799", 253_402_300_799_000),
        ("-1", nil), ("-1e308", nil), ("1e308", nil), ("1e16", nil), ("253402300800", nil),
        ("\"NaN\"", nil), ("\"Infinity\"", nil), ("\"1s\"", nil), ("null", nil as Millis?),
    ])
    func durations(literal: String, expected: Millis?) throws {
        var p = try params(#"{"delay_s":\#(literal)}"#)
        if expected != nil || literal == "null" {
            #expect(try p.optionalDuration("delay_s") == expected)
        } else {
            let error = #expect(throws: RPCError.self) { try p.optionalDuration("delay_s") }
            #expect(error?.code == -32602)
            #expect(error?.data?["field"] == "delay_s")
        }
    }

    @Test("a duration above its minimum: the minimum itself and -0 are refused", arguments: ["0", "-0.0"])
    func aboveMinimum(literal: String) throws {
        var p = try params(#"{"timeout_s":\#(literal)}"#)
        let error = #expect(throws: RPCError.self) { try p.optionalDuration("timeout_s", aboveMinimum: true) }
        #expect(error?.data?["field"] == "timeout_s")
    }

    @Test("a delay gives a time no later than the end of year 9999", arguments: [
        (Millis(0), "253402300799", 253_402_300_799_000 as Millis?),
        (Timestamp.maxMillis - 1500, "1.5", Timestamp.maxMillis),
        (Timestamp.maxMillis - 1500, "1.501", nil),
        (Millis(1_795_426_310_123), "1e9", 1_795_426_310_123 + 1_000_000_000_000),
        (Millis(1_795_426_310_123), "253402300799", nil),
        (Millis(1_795_426_310_123), "251606874490", nil),
    ])
    func delays(now: Millis, literal: String, expected: Millis?) throws {
        var p = try params(#"{"delay_s":\#(literal)}"#)
        if let expected {
            #expect(try p.optionalDelay("delay_s", from: now) == expected)
        } else {
            let error = #expect(throws: RPCError.self) { try p.optionalDelay("delay_s", from: now) }
            #expect(error?.data?["field"] == "delay_s")
        }
    }

    @Test("times must exist, in years 0001 to 9999", arguments: [
        ("2026-02-28T00:00:00Z", true), ("2028-02-29T00:00:00Z", true), ("0001-01-01T00:00:00Z", true),
        ("9999-12-31T23:59:59.999Z", true),
        ("2026-02-30T00:00:00Z", false), ("2026-02-29T00:00:00Z", false), ("2100-02-29T00:00:00Z", false),
        ("2026-13-01T00:00:00Z", false), ("2026-04-31T00:00:00Z", false), ("2026-01-01T25:00:00Z", false),
        ("10000-01-01T00:00:00Z", false), ("0000-01-01T00:00:00Z", false), ("", false), ("NaN", false),
    ])
    func times(text: String, valid: Bool) throws {
        var p = try Params(["run_at": .string(text)])
        if valid {
            #expect(try p.optionalTime("run_at") == Timestamp.parse(text))
        } else {
            let error = #expect(throws: RPCError.self) { try p.optionalTime("run_at") }
            #expect(error?.data?["field"] == "run_at")
        }
    }

    @Test("strings bounded in UTF-8 bytes", arguments: [
        (String(repeating: "k", count: 1024), true), (String(repeating: "k", count: 1025), false),
        (String(repeating: "é", count: 512), true), (String(repeating: "é", count: 513), false), ("", false), ("k", true),
    ])
    func boundedStrings(text: String, valid: Bool) throws {
        var p = try Params(["idempotency_key": .string(text)])
        if valid {
            #expect(try p.optionalString("idempotency_key", bytes: 1...1024) == text)
        } else {
            let error = #expect(throws: RPCError.self) { try p.optionalString("idempotency_key", bytes: 1...1024) }
            #expect(error?.data?["field"] == "idempotency_key")
        }
    }

    @Test("job ids: 1 to 18 digits, or a non-negative integer up to 10^18 - 1", arguments: [
        ("\"17\"", 17 as Int64?), ("17", 17), ("17.0", 17), ("-0.0", 0), ("\"0\"", 0),
        ("\"999999999999999999\"", 999_999_999_999_999_999), ("999999999999999999", 999_999_999_999_999_999),
        ("\"1000000000000000000\"", nil), ("1000000000000000000", nil), ("\"\"", nil), ("\"-1\"", nil),
        ("-1", nil), ("1.5", nil), ("\"1e3\"", nil), ("\" 1\"", nil), ("9223372036854775808", nil), ("true", nil),
        ("[\"1\"]", nil), ("{}", nil),
    ])
    func jobIDs(literal: String, expected: Int64?) throws {
        var p = try params(#"{"id":\#(literal)}"#)
        if let expected {
            #expect(try p.jobID("id") == expected)
        } else {
            let error = #expect(throws: RPCError.self) { try p.jobID("id") }
            #expect(error?.data?["field"] == "id")
        }
    }

    @Test("nested params name their field with the prefix")
    func prefixed() throws {
        var p = try Params(["argv": 5, "x": 1], prefix: "payload.")
        let error = #expect(throws: RPCError.self) { try p.optionalArray("argv") }
        #expect(error?.data?["field"] == "payload.argv")
        let unknown = #expect(throws: RPCError.self) { try p.rejectUnknown() }
        #expect(unknown?.data?["field"] == "payload.x")
    }

    @Test("one of a list of strings")
    func oneOf() throws {
        var p = try params(#"{"level":"warn","other":"loud"}"#)
        #expect(try p.optionalString("level", oneOf: ["info", "warn"]) == "warn")
        let error = #expect(throws: RPCError.self) { try p.optionalString("other", oneOf: ["info", "warn"]) }
        #expect(error?.data?["field"] == "other")
    }
}

/// `rejectUnknown` tracks read keys by position for the first 64 keys and by name beyond.
struct ParamsReadTrackingTests {
    @Test(arguments: [3, 64, 65, 100])
    func namesTheFirstUnreadKeyWhateverTheCount(count: Int) throws {
        let object = JSONObject((0..<count).map { ("k\($0)", JSON.int($0)) })
        var params = try Params(.object(object))
        for i in 0..<count where i != count - 2 { _ = try params.optionalInt("k\(i)") }
        #expect(throws: RPCError.self) { try params.rejectUnknown() }
        do {
            try params.rejectUnknown()
        } catch {
            #expect(error.data?["field"] == .string("k\(count - 2)"))
        }
        _ = try params.optionalInt("k\(count - 2)")
        try params.rejectUnknown()
    }
}

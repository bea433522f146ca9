import Testing
@testable import JobKernelCore

/// SPEC §4: params are by name; wrong types and unknown parameters are -32602 naming the field.
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
        (#"{"status":-1}"#, "status", "`status` must be a string or an array of strings, got number"),
        (#"{"status":["a",true]}"#, "status", "`status` must be a string or an array of strings, got an array holding boolean"),
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
}

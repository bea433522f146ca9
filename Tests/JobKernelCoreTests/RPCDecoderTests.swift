import Testing
@testable import JobKernelCore

/// docs/promises.md §4: JSON-RPC 2.0 exactly, checked against the examples of the JSON-RPC 2.0 specification.
struct RPCDecoderTests {
    private func decode(_ text: String, maxDepth: Int = 64) -> RPCInbound {
        RPCDecoder.decode(Array(text.utf8), maxDepth: maxDepth)
    }

    private func code(_ entry: RPCEntry) -> Int? {
        if case .invalid(_, let error) = entry { return error.code }
        return nil
    }

    // MARK: - The specification's examples

    @Test("spec: positional and named params (subtract)")
    func subtract() {
        #expect(decode(#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#)
            == .single(.message(.request(id: 1, method: "subtract", params: [42, 23]))))
        #expect(decode(#"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#)
            == .single(.message(.request(id: 3, method: "subtract", params: ["subtrahend": 23, "minuend": 42]))))
    }

    @Test("spec: notifications have no id")
    func notifications() {
        #expect(decode(#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#)
            == .single(.message(.notification(method: "update", params: [1, 2, 3, 4, 5]))))
        #expect(decode(#"{"jsonrpc": "2.0", "method": "foobar"}"#)
            == .single(.message(.notification(method: "foobar", params: nil))))
    }

    @Test("spec: invalid JSON is a parse error with id null", arguments: [
        #"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#,
        #"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method"]"#,
        "", "\u{7F}", "{\"jsonrpc\":\"2.0\",\"method\":\"a\"}{}",
    ])
    func parseError(text: String) throws {
        guard case .single(.invalid(let id, let error)) = decode(text) else {
            Issue.record("expected a single invalid entry")
            return
        }
        #expect(id == .null)
        #expect(error.code == -32700)
        #expect(error.reason == "parse_error")
    }

    @Test("invalid UTF-8 is a parse error")
    func invalidUTF8() {
        let bytes: [UInt8] = Array(#"{"jsonrpc":"2.0","method":"a"#.utf8) + [0xC0, 0xAF] + Array(#"","id":1}"#.utf8)
        guard case .single(.invalid(.null, let error)) = RPCDecoder.decode(bytes) else {
            Issue.record("expected a single invalid entry with id null")
            return
        }
        #expect(error.code == -32700)
    }

    @Test("spec: an invalid request object gets -32600 with id null")
    func invalidRequestObject() {
        #expect(decode(#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#)
            == .single(.invalid(id: .null, error: .invalidRequest("`method` must be a string, got number"))))
    }

    @Test("spec: an empty batch is one invalid request, not a batch")
    func emptyBatch() {
        guard case .single(.invalid(.null, let error)) = decode("[]") else {
            Issue.record("expected a single invalid entry")
            return
        }
        #expect(error.code == -32600)
        #expect(error.reason == "invalid_request")
    }

    @Test("spec: [1] and [1,2,3] are batches of invalid requests, one per element")
    func invalidBatch() throws {
        guard case .batch(let one) = decode("[1]"), case .batch(let three) = decode("[1,2,3]") else {
            Issue.record("expected batches")
            return
        }
        #expect(one.count == 1)
        #expect(three.count == 3)
        for entry in one + three {
            guard case .invalid(.null, let error) = entry else {
                Issue.record("expected an invalid entry with id null, got \(entry)")
                continue
            }
            #expect(error.code == -32600)
        }
    }

    @Test("spec: a mixed batch decodes element by element")
    func mixedBatch() {
        let text = """
        [
            {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
            {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
            {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
            {"foo": "boo"},
            {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
            {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
        ]
        """
        guard case .batch(let entries) = decode(text) else {
            Issue.record("expected a batch")
            return
        }
        #expect(entries.count == 6)
        guard entries.count == 6 else { return }
        #expect(entries[0] == .message(.request(id: "1", method: "sum", params: [1, 2, 4])))
        #expect(entries[1] == .message(.notification(method: "notify_hello", params: [7])))
        #expect(entries[2] == .message(.request(id: "2", method: "subtract", params: [42, 23])))
        #expect(code(entries[3]) == -32600)
        #expect(entries[4] == .message(.request(id: "5", method: "foo.get", params: ["name": "myself"])))
        #expect(entries[5] == .message(.request(id: "9", method: "get_data", params: nil)))
    }

    @Test("spec: a batch of notifications decodes to notifications only")
    func notificationBatch() {
        #expect(decode(#"[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},{"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]"#)
            == .batch([
                .message(.notification(method: "notify_sum", params: [1, 2, 4])),
                .message(.notification(method: "notify_hello", params: [7])),
            ]))
    }

    // MARK: - Shape rules

    @Test("ids of type string, number or null are echoed unchanged", arguments: [
        (#""abc""#, JSON.string("abc")), ("7", .int(7)), ("-1.5", .double(-1.5)), ("null", .null),
        ("123456789012345678901234567890", .rawNumber("123456789012345678901234567890")),
    ])
    func validIDs(idText: String, id: JSON) {
        #expect(decode(#"{"jsonrpc":"2.0","id":\#(idText),"method":"get"}"#)
            == .single(.message(.request(id: id, method: "get", params: nil))))
        // An invalid request with a readable id echoes it.
        guard case .single(.invalid(let echoed, let error)) = decode(#"{"jsonrpc":"1.0","id":\#(idText),"method":"get"}"#) else {
            Issue.record("expected an invalid entry")
            return
        }
        #expect(echoed == id)
        #expect(error.code == -32600)
    }

    @Test("ids of another type make an invalid request with id null", arguments: ["true", "[1]", #"{"a":1}"#])
    func invalidIDs(idText: String) {
        guard case .single(.invalid(let id, let error)) = decode(#"{"jsonrpc":"2.0","id":\#(idText),"method":"get"}"#) else {
            Issue.record("expected an invalid entry")
            return
        }
        #expect(id == .null)
        #expect(error.code == -32600)
    }

    @Test("shape violations are -32600 and echo the id", arguments: [
        #"{"id":1,"method":"get"}"#,                          // no jsonrpc
        #"{"jsonrpc":2.0,"id":1,"method":"get"}"#,            // jsonrpc not a string
        #"{"jsonrpc":"2.1","id":1,"method":"get"}"#,
        #"{"jsonrpc":"2.0","id":1}"#,                         // no method, no result
        #"{"jsonrpc":"2.0","id":1,"method":null}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"get","params":"x"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"get","params":3}"#,
        #"{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"m"}}"#,
        #"{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}"#,
        #"{"jsonrpc":"2.0","id":1,"error":"boom"}"#,
    ])
    func shapeViolations(text: String) {
        guard case .single(.invalid(let id, let error)) = decode(text) else {
            Issue.record("expected an invalid entry")
            return
        }
        #expect(id == 1)
        #expect(error.code == -32600)
        #expect(error.reason == "invalid_request")
    }

    @Test("a top-level scalar is an invalid request", arguments: ["1", #""x""#, "null", "true"])
    func scalar(text: String) {
        #expect(code(decode(text).singleEntry) == -32600)
    }

    @Test("params null is an invalid request that still echoes the id")
    func nullParams() {
        let inbound = decode(#"{"jsonrpc":"2.0","id":1,"method":"stats","params":null}"#)
        guard case .single(.invalid(let id, let error)) = inbound else {
            Issue.record("expected an invalid request, got \(inbound)")
            return
        }
        #expect(id == 1 && error.code == -32600)
    }

    @Test("responses from workers: result, error, and id null")
    func responses() {
        #expect(decode(#"{"jsonrpc":"2.0","id":"r1","result":{"ok":true}}"#)
            == .single(.message(.response(id: "r1", result: .success(["ok": true])))))
        #expect(decode(#"{"jsonrpc":"2.0","id":2,"result":null}"#)
            == .single(.message(.response(id: 2, result: .success(.null)))))
        #expect(decode(#"{"jsonrpc":"2.0","id":null,"error":{"code":-32800,"message":"stop","data":{"reason":"cancelled"}}}"#)
            == .single(.message(.response(id: .null, result: .failure(
                RPCError(code: -32800, message: "stop", data: ["reason": "cancelled"]))))))
        guard case .single(.invalid(_, let error)) = decode(#"{"jsonrpc":"2.0","result":1}"#) else {
            Issue.record("a response without id must be invalid")
            return
        }
        #expect(error.code == -32600)
    }

    @Test("nesting deeper than maxDepth is -32600 too_deep with id null, not a parse error")
    func tooDeep() {
        let ok = #"{"jsonrpc":"2.0","id":1,"method":"m","params":{"p":"# + String(repeating: "[", count: 62)
            + String(repeating: "]", count: 62) + "}}"
        guard case .single(.message) = decode(ok) else {
            Issue.record("64 levels must decode")
            return
        }
        let deep = #"{"jsonrpc":"2.0","id":1,"method":"m","params":{"p":"# + String(repeating: "[", count: 63)
            + String(repeating: "]", count: 63) + "}}"
        #expect(decode(deep) == .single(.invalid(id: .null, error: .tooDeep)))
        #expect(decode("[[[1]]]", maxDepth: 2) == .single(.invalid(id: .null, error: .tooDeep(limit: 2))))
        let huge = String(repeating: "[", count: 100_000)
        #expect(decode(huge) == .single(.invalid(id: .null, error: .tooDeep)))
    }

    // MARK: - Encoder

    @Test("responses and errors are written jsonrpc, id, result/error")
    func encoder() {
        #expect(RPCEncoder.response(id: 1, result: 19).compactString == #"{"jsonrpc":"2.0","id":1,"result":19}"#)
        #expect(RPCEncoder.error(id: .null, .invalidParams("bad", field: "x")).compactString
            == #"{"jsonrpc":"2.0","id":null,"error":{"code":-32602,"message":"bad","data":{"reason":"invalid_params","field":"x"}}}"#)
        #expect(RPCEncoder.error(id: "a", RPCError(code: 5, message: "m")).compactString
            == #"{"jsonrpc":"2.0","id":"a","error":{"code":5,"message":"m"}}"#)
        #expect(RPCEncoder.notification(method: "event", params: ["seq": 1]).compactString
            == #"{"jsonrpc":"2.0","method":"event","params":{"seq":1}}"#)
        #expect(RPCEncoder.notification(method: "exit", params: nil).compactString == #"{"jsonrpc":"2.0","method":"exit"}"#)
        #expect(RPCEncoder.request(id: 7, method: "run", params: ["unit": 1]).compactString
            == #"{"jsonrpc":"2.0","id":7,"method":"run","params":{"unit":1}}"#)
        let big = JSON.rawNumber("123456789012345678901234567890")
        #expect(RPCEncoder.response(id: big, result: true).compactString
            == #"{"jsonrpc":"2.0","id":123456789012345678901234567890,"result":true}"#)
    }

    @Test("a response written straight to bytes is the response object's serialization", arguments: [
        (JSON.int(1), Result<JSON, RPCError>.success(19)),
        (.string("req \"7\""), .success(["job": .serialized(SerializedJSON(bytes: Array(#"{"id":"3"}"#.utf8))), "duplicate": false])),
        (.rawNumber("123456789012345678901234567890"), .success(.null)),
        (.null, .failure(.invalidParams("bad", field: "x"))),
        (.int(0), .failure(RPCError(code: -32000, message: "m\u{1}", data: ["retryable": false]))),
    ])
    func writtenResponses(id: JSON, result: Result<JSON, RPCError>) {
        var b = ByteWriter(capacity: 16)
        RPCEncoder.writeResponse(id: id, result, into: &b)
        #expect(b.finish() == RPCEncoder.response(id: id, result).serialized())
    }

    @Test("every encoded message decodes back to itself", arguments: [
        RPCMessage.request(id: "x", method: "enqueue", params: ["type": "t"]),
        .request(id: 3, method: "stats", params: nil),
        .notification(method: "event", params: ["kind": "job.created"]),
        .response(id: 9, result: .success(["job": ["id": "1"]])),
        .response(id: "w", result: .failure(.invalidState(status: "running"))),
    ])
    func encoderRoundTrip(message: RPCMessage) {
        #expect(RPCDecoder.decode(RPCEncoder.message(message).serialized()) == .single(.message(message)))
    }

    // MARK: - The error table

    @Test("every row of the docs/promises.md §4 table has its code and reason", arguments: [
        (RPCError.parseError("x"), -32700, "parse_error"),
        (.invalidRequest("x"), -32600, "invalid_request"),
        (.tooLarge(limit: 10), -32600, "too_large"),
        (.tooDeep, -32600, "too_deep"),
        (.methodNotFound("m"), -32601, "method_not_found"),
        (.invalidParams("`x` must be a string, got number", field: nil), -32602, "invalid_params"),
        (.paramTooLarge(field: "items", limit: 5), -32602, "too_large"),
        (.internalError("x"), -32603, "internal"),
        (.notFound(jobID: "17"), -32001, "not_found"),
        (.unknownType("t"), -32002, "unknown_type"),
        (.idempotencyConflict(jobID: "3"), -32003, "idempotency_conflict"),
        (.invalidState(status: "done"), -32004, "invalid_state"),
        (.leaseExpired, -32005, "lease_expired"),
        (.cursorExpired(oldestSeq: 40), -32006, "cursor_expired"),
        (.unavailable("shutting down"), -32007, "unavailable"),
        (.cancelled, -32800, "cancelled"),
    ])
    func errorTable(error: RPCError, code: Int, reason: String) {
        #expect(error.code == code)
        #expect(error.reason == reason)
        #expect(error.message.count > 10)
    }

    @Test("errors carry the fields protocol.md names")
    func errorFields() {
        #expect(RPCError.paramTooLarge(field: "items", limit: 5).data == ["reason": "too_large", "field": "items", "limit": 5])
        #expect(RPCError.invalidParams("x", field: "priority").data == ["reason": "invalid_params", "field": "priority"])
        #expect(RPCError.idempotencyConflict(jobID: "3").data?["job_id"] == "3")
        #expect(RPCError.invalidState(status: "running").data?["status"] == "running")
        #expect(RPCError.cursorExpired(oldestSeq: 40).data?["oldest_seq"] == 40)
        #expect(RPCError.tooLarge(limit: 16).data?["limit"] == 16)
        #expect(RPCError.notFound(jobID: "17").data?["job_id"] == "17")
    }
}

extension RPCInbound {
    /// The entry of a single message, or an invalid marker for a batch (test helper).
    fileprivate var singleEntry: RPCEntry {
        if case .single(let entry) = self { return entry }
        return .invalid(id: "batch", error: RPCError(code: 0, message: "batch"))
    }
}

import Testing
@testable import JobKernelCore

/// The usual request and the usual response are read straight from their bytes; whatever they
/// decode to must be what the general path (parse, then decode the value) gives, and anything
/// unusual must take that path.
struct RPCDecoderEnvelopeTests {
    static let fast: [String] = [
        #"{"jsonrpc":"2.0","id":1,"method":"enqueue","params":{"type":"t","payload":{"n":1,"p":"x\"y"}}}"#,
        #"{"method":"ack","params":{"lease":"a-1"},"id":"req-7","jsonrpc":"2.0"}"#,
        #" { "jsonrpc" : "2.0" , "id" : 0 , "method" : "stats" } "#,
        #"{"jsonrpc":"2.0","method":"progress","params":{"id":"3","current":1}}"#,
        #"{"jsonrpc":"2.0","id":null,"method":"get","params":["a",[1,{"b":"]}"}]]}"#,
        #"{"jsonrpc":"2.0","id":999999999999999999,"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":7,"result":{"result":{"t":1764643200000000000}}}"#,
        #"{"result":{"items":[{"index":0,"status":"success"}]},"id":"w-1","jsonrpc":"2.0"}"#,
        #"{"jsonrpc":"2.0","id":null,"result":[]}"#,
    ]

    static let general: [String] = [
        #"{"jsonrpc":"2.0","id":-1,"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":1e2,"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":9999999999999999999,"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":01,"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m\u0041"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"mé"}"#,
        #"{"jsonrpc":"2.0","id":1,"id":2,"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","extra":true}"#,
        #"{"jsonrpc":"1.0","id":1,"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":5}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":1}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m"} x"#,
        #"{"jsonrpc":"2.0","id":1,"result":5}"#,
        #"{"jsonrpc":"2.0","id":1,"result":null}"#,
        #"{"jsonrpc":"2.0","result":{}}"#,
        #"{"jsonrpc":"2.0","id":1,"result":{},"result":{}}"#,
        #"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","result":{}}"#,
        #"{"jsonrpc":"2.0","id":1,"result":{"a":}}"#,
        #"{"jsonrpc":"2.0","id":1,"error":{"code":-32800,"message":"cancelled"}}"#,
        #"{"jsonrpc":"2.0","id":true,"method":"m"}"#,
        #"[{"jsonrpc":"2.0","id":1,"method":"m"}]"#,
        #"{"id":1,"method":"m"}"#,
    ]

    @Test(arguments: fast)
    func theUsualMessageIsReadFromItsBytes(_ text: String) throws {
        let bytes = Array(text.utf8)
        let entry = bytes.withUnsafeBytes { RPCDecoder.envelope($0, maxDepth: 64) }
        #expect(entry != nil)
        #expect(RPCDecoder.decode(bytes) == RPCDecoder.decode(try JSONParser.parse(bytes)))
    }

    @Test(arguments: general)
    func anythingUnusualTakesTheGeneralPath(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBytes { RPCDecoder.envelope($0, maxDepth: 64) } == nil)
        if let value = try? JSONParser.parse(bytes) {
            #expect(RPCDecoder.decode(bytes) == RPCDecoder.decode(value))
        }
    }

    @Test func depthCountsTheEnvelope() {
        let params = String(repeating: "[", count: 63) + String(repeating: "]", count: 63)
        let ok = Array(#"{"jsonrpc":"2.0","id":1,"method":"m","params":\#(params)}"#.utf8)
        #expect(RPCDecoder.decode(ok, maxDepth: 64) == RPCDecoder.decode(try! JSONParser.parse(ok, maxDepth: 64)))
        guard case .single(.invalid(_, let error)) = RPCDecoder.decode(ok, maxDepth: 63) else {
            Issue.record("64 levels under a limit of 63 must be refused")
            return
        }
        #expect(error.reason == "too_deep")
    }
}

import JobKernelCore
import NIOCore
import Testing

@testable import JobKernelWeb

/// The gateway reads the kernel's event lines without a JSON parse when they have the kernel's
/// shape; these tests hold the fast reading to the parser's.
struct KernelMessageTests {
    static let eventLines = [
        #"{"jsonrpc":"2.0","method":"event","params":{"subscription":"1","seq":42,"ts":"2026-12-01T16:33:20.952Z","kind":"job.log","job_id":"1","data":{"seq":7,"level":"info","message":"a \"quoted\" } line"}}}"#,
        #"{"jsonrpc":"2.0","method":"event","params":{"subscription":"12","seq":1,"ts":"t","kind":"settings.changed","job_id":null,"data":{"key":"workflow.a","value":true}}}"#,
        // Another key order: not the fast shape, so the parser reads it, with the same answer.
        #"{"method":"event","jsonrpc":"2.0","params":{"seq":9,"subscription":"3","kind":"job.created","job_id":"2","data":{}}}"#,
        #"{"jsonrpc":"2.0","method":"event","params":{"subscription":"a\"b","seq":5,"kind":"job.created","job_id":"2","data":{}}}"#,
    ]

    @Test(arguments: eventLines)
    func anEventIsItsSeqAndItsParamsObject(line: String) throws {
        let message = try KernelMessage.classify(ByteBuffer(string: line))
        guard case .event(let seq, let object) = message else {
            Issue.record("not read as an event: \(message)")
            return
        }
        let parsed = try JSONParser.parse(line)
        #expect(seq == parsed["params"]?["seq"]?.intValue)
        let objectText = String(buffer: object)
        #expect(try JSONParser.parse(objectText) == parsed["params"])
    }

    @Test func theDroppedNoticeCarriesTheLastSeq() throws {
        let line = #"{"jsonrpc":"2.0","method":"subscription.dropped","params":{"subscription":"1","last_seq":77}}"#
        #expect(try KernelMessage.classify(ByteBuffer(string: line)) == .dropped(lastSeq: 77))
    }

    @Test func aResponseKeepsItsIdResultAndError() throws {
        let ok = try KernelMessage.classify(ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"result":{"subscription":"4","seq":10}}"#))
        #expect(ok == .response(id: 1, result: ["subscription": "4", "seq": 10], error: nil))
        let failed = try KernelMessage.classify(ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"error":{"code":-32006}}"#))
        #expect(failed == .response(id: 1, result: nil, error: ["code": -32006]))
    }

    @Test func aLineThatIsNotJSONIsAnError() {
        #expect(throws: JSONParseError.self) { try KernelMessage.classify(ByteBuffer(string: "{nope")) }
    }
}

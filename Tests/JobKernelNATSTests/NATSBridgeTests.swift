import Glibc
import JobKernelIO
import Testing
@testable import JobKernelNATS

/// protocol/nats.md: units on `jobkernel.units.<type>`, results on `jobkernel.results`,
/// progress on `jobkernel.progress`, delivery at least once.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct NATSBridgeTests {
    static let lease = #"{"lease":"L1","job":{"id":"7","type":"resize"},"item":null,"attempt":1,"expires_at":"2026-11-23T09:32:20.000Z"}"#

    @Test func unitReachesPullWorkerAndResultComesBackOnTheLoopThread() throws {
        try withBridge { server, loop, bridge in
            let worker = try TestWorker(url: server.url)
            defer { worker.close() }

            #expect(try bridge.send(type: "resize", body: Self.lease.bytes, msgID: "L1"))
            #expect(bridge.unconfirmedUnits == 1)
            #expect(runUntilConfirmed(bridge))
            #expect(try worker.storedMessages(stream: "JOBKERNEL") == 1)
            let units = try worker.fetchUnits(type: "resize")
            #expect(units.map(\.text) == [Self.lease])
            // Work-queue retention: the worker's ack removed the unit.
            #expect(try worker.storedMessages(stream: "JOBKERNEL") == 0)

            let result = #"{"lease":"L1","status":"success","result":{"width":640}}"#
            try worker.publishResult(result)
            let loopThread = pthread_self()
            var received: [String] = []
            var onLoopThread = false
            var acks: [() -> Void] = []
            bridge.onResult = { body, ack in
                received.append(body.text)
                onLoopThread = pthread_equal(pthread_self(), loopThread) != 0
                acks.append(ack)
            }
            #expect(runUntil(loop) { !received.isEmpty })
            #expect(received == [result])
            #expect(onLoopThread)

            // The kernel acks once committed; acking twice is harmless, and the stored result goes.
            acks.forEach { $0() }
            acks.forEach { $0() }
            var stored: UInt64 = 1
            for _ in 0..<100 where stored != 0 {
                stored = try worker.storedMessages(stream: "JOBKERNEL_RESULTS")
                if stored != 0 { usleep(20_000) }
            }
            #expect(stored == 0)
        }
    }

    @Test func republishWithSameMsgIDIsDeduplicated() throws {
        try withBridge { server, _, bridge in
            let worker = try TestWorker(url: server.url)
            defer { worker.close() }

            #expect(try bridge.send(type: "resize", body: Self.lease.bytes, msgID: "7:-:1"))
            #expect(runUntilConfirmed(bridge))
            #expect(try worker.storedMessages(stream: "JOBKERNEL") == 1)
            // The server confirms the repeat (so nothing is held to publish again) and stores nothing.
            #expect(try bridge.send(type: "resize", body: Self.lease.bytes, msgID: "7:-:1"))
            #expect(runUntilConfirmed(bridge))
            #expect(try worker.storedMessages(stream: "JOBKERNEL") == 1)
            #expect(try bridge.send(type: "resize", body: Self.lease.bytes, msgID: "7:-:2"))
            #expect(runUntilConfirmed(bridge))
            #expect(try worker.storedMessages(stream: "JOBKERNEL") == 2)
            #expect(try worker.fetchUnits(type: "resize").count == 2)
        }
    }

    @Test func resultPublishedWhileKernelWasDownIsDeliveredToTheNextBridge() throws {
        let server = try NATSTestServer()
        defer { server.stop() }
        let worker = try TestWorker(url: server.url)
        defer { worker.close() }
        // A first bridge sets up the streams and the results consumer, then goes.
        try withBridge(to: server) { _, _ in }
        let result = #"{"lease":"L9","status":"failed","error":{"message":"boom"}}"#
        try worker.publishResult(result)

        try withBridge(to: server) { loop, bridge in
            let results = AckedResults(bridge)
            #expect(runUntil(loop) { !results.bodies.isEmpty })
            #expect(results.bodies == [result])
        }
    }

    @Test func resultNotAckedBeforeCloseIsRedelivered() throws {
        let server = try NATSTestServer()
        defer { server.stop() }
        let worker = try TestWorker(url: server.url)
        defer { worker.close() }
        var options = NATSBridge.Options()
        options.resultAckWaitSeconds = 1
        let result = #"{"lease":"L3","status":"success"}"#

        var held: (() -> Void)?
        try withBridge(to: server, options: options) { loop, bridge in
            try worker.publishResult(result)
            var received: [String] = []
            bridge.onResult = { body, ack in
                received.append(body.text)
                held = ack   // the kernel "crashes" before committing
            }
            #expect(runUntil(loop) { !received.isEmpty })
            bridge.close()
            held?()   // after close: dropped, must not touch the freed subscription
        }

        try withBridge(to: server, options: options) { loop, bridge in
            let results = AckedResults(bridge)
            #expect(runUntil(loop, timeoutMs: 10_000) { !results.bodies.isEmpty })
            #expect(results.bodies == [result])
        }
    }

    @Test func resultsWaitUntilAHandlerIsSet() throws {
        try withBridge { server, loop, bridge in
            let worker = try TestWorker(url: server.url)
            defer { worker.close() }
            try worker.publishResult(#"{"lease":"A","status":"success"}"#)
            try worker.publishResult(#"{"lease":"B","status":"success"}"#)
            runUntil(loop, timeoutMs: 300) { false }

            let results = AckedResults(bridge)
            #expect(runUntil(loop) { results.bodies.count == 2 })
            #expect(results.bodies == [#"{"lease":"A","status":"success"}"#, #"{"lease":"B","status":"success"}"#])
        }
    }

    @Test func progressMessagesArriveInOrder() throws {
        try withBridge { server, loop, bridge in
            let worker = try TestWorker(url: server.url)
            defer { worker.close() }
            var received: [String] = []
            bridge.onProgress = { received.append($0.text) }
            let messages = (1...3).map { #"{"lease":"L1","progress":{"current":\#($0),"total":3}}"# }
            for message in messages { try worker.publishProgress(message) }
            #expect(runUntil(loop) { received.count == 3 })
            #expect(received == messages)
        }
    }

    @Test func unreachableServerErrorNamesTheURLAndSuggestsJetStream() throws {
        let port = try freeLoopbackPort()
        let loop = try EventLoop()
        defer { loop.close() }
        let url = "nats://127.0.0.1:\(port)"
        let error = #expect(throws: NATSError.self) { try NATSBridge(loop: loop, url: url) }
        #expect(error?.description.contains(url) == true)
        #expect(error?.description.contains("nats-server -js") == true)
    }

    @Test func serverWithoutJetStreamIsReported() throws {
        let server = try NATSTestServer(jetStream: false)
        defer { server.stop() }
        let loop = try EventLoop()
        defer { loop.close() }
        let error = #expect(throws: NATSError.self) { try NATSBridge(loop: loop, url: server.url) }
        #expect(error?.description.contains("nats-server -js") == true)
    }

    @Test(arguments: ["", "a.b", "a*", ">", "has space"])
    func typesThatAreNotSubjectTokensAreRefused(type: String) throws {
        try withBridge { _, _, bridge in
            #expect(throws: NATSError.self) { try bridge.send(type: type, body: [], msgID: "x") }
            #expect(bridge.unconfirmedUnits == 0, "refused, not held: no retry can fix it")
        }
    }

    @Test func anEmptyMsgIDIsRefused() throws {
        try withBridge { _, _, bridge in
            let error = #expect(throws: NATSError.self) { try bridge.send(type: "resize", body: [], msgID: "") }
            #expect(error?.description.contains("msgID") == true)
            #expect(bridge.unconfirmedUnits == 0)
        }
    }

    @Test func aClosedBridgeRefusesToPublish() throws {
        try withBridge { _, _, bridge in
            bridge.close()
            let error = #expect(throws: NATSError.self) { try bridge.send(type: "resize", body: [], msgID: "m") }
            #expect(error?.description.contains("closed") == true)
            #expect(bridge.unconfirmedUnits == 0)
        }
    }
}

extension NATSBridgeTests {
    @Test func restartWithOtherSettingsUpdatesStreamsAndConsumer() throws {
        let server = try NATSTestServer()
        defer { server.stop() }
        let loop = try EventLoop()
        defer { loop.close() }
        try NATSBridge(loop: loop, url: server.url).close()
        var options = NATSBridge.Options()
        options.duplicateWindowSeconds = 60
        options.resultAckWaitSeconds = 5
        let bridge = try NATSBridge(loop: loop, url: server.url, options: options)
        defer { bridge.close() }
        #expect(try bridge.send(type: "resize", body: [], msgID: "m"))
        #expect(runUntilConfirmed(bridge))
        let worker = try TestWorker(url: server.url)
        defer { worker.close() }
        #expect(try worker.storedMessages(stream: "JOBKERNEL") == 1)
    }
}

extension NATSBridgeTests {
    @Test func publishHoldsAtOnceWhileTheServerIsDownAndRecoversAfterIt() throws {
        try withBridge { server, loop, bridge in
            let results = AckedResults(bridge)

            server.crash()
            #expect(runUntil(loop, timeoutMs: 3000) { !bridge.isConnected })
            let started = loop.hrtimeNs
            #expect(try !bridge.send(type: "resize", body: [], msgID: "down"))
            #expect(loop.hrtimeNs - started < 500_000_000)
            #expect(bridge.heldUnits == 1)

            try server.restart()
            #expect(runUntil(loop, timeoutMs: 10_000) { bridge.isConnected })
            #expect(runUntil(loop) { bridge.resume { _ in true } })
            #expect(try bridge.send(type: "resize", body: Self.lease.bytes, msgID: "up"))
            #expect(runUntilConfirmed(bridge))
            let worker = try TestWorker(url: server.url)
            defer { worker.close() }
            #expect(try worker.fetchUnits(type: "resize").map(\.text) == ["", Self.lease])
            // The durable consumer resumes on the reconnected subscription.
            try worker.publishResult(#"{"lease":"L1","status":"success"}"#)
            #expect(runUntil(loop, timeoutMs: 10_000) { !results.bodies.isEmpty })
        }
    }
}

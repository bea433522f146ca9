import Glibc
import JobKernelIO
import Testing
@testable import JobKernelNATS

/// protocol/nats.md, "When the server is away": the bridge says when the server goes and comes
/// back, keeps a unit whose publish got no answer and publishes it again under the same msgID,
/// and finds its streams again on a server that lost its store.
extension NATSBridgeTests {
    @Test func healthReportsTheServerGoingAndComingBack() throws {
        try withBridge { server, loop, bridge in
            #expect(bridge.health.connected && bridge.health.disconnects == 0)
            var changes: [NATSBridge.Health] = []
            var ready = 0
            bridge.onConnectionChange = { changes.append($0) }
            bridge.onReady = { ready += 1 }

            server.crash()
            #expect(runUntil(loop, timeoutMs: 5000) { !changes.isEmpty })
            #expect(changes.map(\.connected) == [false] && bridge.health.disconnects == 1)
            #expect(ready == 0)
            try server.restart()
            #expect(runUntil(loop, timeoutMs: 10_000) { changes.count == 2 })
            #expect(changes.map(\.connected) == [false, true])
            #expect(changes[1].disconnects == 1 && changes[1].sinceMs >= changes[0].sinceMs)
            #expect(changes[1].lastOutageMs == changes[1].sinceMs - changes[0].sinceMs)
            #expect(ready == 1)
        }
    }

    @Test func aServerThatStopsAnsweringIsNoticedByItsPings() throws {
        var options = NATSBridge.Options()
        options.pingIntervalMs = 200
        try withBridge(options: options) { server, loop, bridge in
            var changes: [Bool] = []
            bridge.onConnectionChange = { changes.append($0.connected) }

            server.pause()
            defer { server.resume() }
            // Three ping intervals unanswered, plus slack: far less than the TCP connection's lifetime.
            #expect(runUntil(loop, timeoutMs: 3000) { !changes.isEmpty })
            #expect(changes == [false] && !bridge.isConnected)
            server.resume()
            #expect(runUntil(loop, timeoutMs: 10_000) { changes.count == 2 })
            #expect(changes == [false, true])
        }
    }

    @Test func aUnitPublishedWhileTheServerIsDownIsHeldAndPublishedOnceUnderItsMsgID() throws {
        var options = NATSBridge.Options()
        options.retryMs = 50
        try withBridge(options: options) { server, loop, bridge in
            var ready = 0
            bridge.onReady = { ready += 1 }

            server.crash()
            #expect(runUntil(loop, timeoutMs: 3000) { !bridge.isConnected })
            #expect(try !bridge.send(type: "resize", body: Self.lease.bytes, msgID: "L1"))
            #expect(try !bridge.send(type: "resize", body: Self.lease.bytes, msgID: "gone"))
            #expect(bridge.heldUnits == 2)
            // While the server is away the retry does not call back: the reconnect will.
            runUntil(loop, timeoutMs: 300) { false }
            #expect(ready == 0)
            #expect(!bridge.resume { _ in true } && bridge.heldUnits == 2)

            try server.restart()
            #expect(runUntil(loop, timeoutMs: 10_000) { ready > 0 })
            // "gone" stands for a unit whose lease ended meanwhile: dropped, never published.
            #expect(bridge.resume { $0 != "gone" })
            #expect(bridge.heldUnits == 0)
            #expect(runUntilConfirmed(bridge))
            let worker = try TestWorker(url: server.url)
            defer { worker.close() }
            #expect(try worker.storedMessages(stream: "JOBKERNEL") == 1)
            // Published again under the same msgID (as a second resume would): stored once.
            #expect(try bridge.send(type: "resize", body: Self.lease.bytes, msgID: "L1"))
            #expect(runUntilConfirmed(bridge))
            #expect(try worker.storedMessages(stream: "JOBKERNEL") == 1)
            #expect(try worker.fetchUnits(type: "resize").map(\.text) == [Self.lease])
            #expect(try worker.fetchUnits(type: "resize", timeoutMs: 300).isEmpty)
        }
    }

    @Test func aPublishAStoppedServerStoresLaterIsStoredOnceAndNotRetriedBeforeItsTime() throws {
        var options = NATSBridge.Options()
        options.requestTimeoutMs = 300
        options.retryMs = 200
        try withBridge(options: options) { server, loop, bridge in
            var ready = 0
            bridge.onReady = { ready += 1 }

            server.pause()
            defer { server.resume() }
            // The publish reaches the stopped server's socket and waits there: no answer within
            // `requestTimeoutMs`, so the bridge holds it, yet the server stores it later.
            #expect(try bridge.send(type: "resize", body: Self.lease.bytes, msgID: "L1"))
            #expect(runUntil(loop, timeoutMs: 2000) { bridge.heldUnits == 1 }, "unconfirmed: \(bridge.unconfirmedUnits)")
            let started = loop.hrtimeNs
            #expect(!bridge.resume { _ in true })
            #expect(loop.hrtimeNs - started < 100_000_000, "no second wait before the retry is due")
            #expect(bridge.heldUnits == 1)
            #expect(runUntil(loop, timeoutMs: 2000) { ready > 0 })

            server.resume()
            #expect(runUntil(loop, timeoutMs: 5000) { bridge.resume { _ in true } })
            #expect(bridge.heldUnits == 0)
            #expect(runUntilConfirmed(bridge))
            let worker = try TestWorker(url: server.url)
            defer { worker.close() }
            #expect(try worker.storedMessages(stream: "JOBKERNEL") == 1)
            #expect(try worker.fetchUnits(type: "resize").map(\.text) == [Self.lease])
            #expect(try worker.fetchUnits(type: "resize", timeoutMs: 300).isEmpty)
        }
    }

    @Test func aServerBackWithoutItsStoreGetsTheStreamsAndConsumerAgain() throws {
        try withBridge { server, loop, bridge in
            let results = AckedResults(bridge)
            var ready = 0
            bridge.onReady = { ready += 1 }

            server.crash()
            try server.wipe()
            try server.restart()
            #expect(runUntil(loop, timeoutMs: 10_000) { ready > 0 })
            // The publish finds no stream; held, it goes out once the retry has set the streams up.
            #expect(try bridge.send(type: "resize", body: Self.lease.bytes, msgID: "after-wipe"))
            #expect(runUntil(loop) { bridge.heldUnits == 1 })
            #expect(runUntil(loop, timeoutMs: 5000) { ready > 1 })
            #expect(bridge.resume { _ in true })
            #expect(bridge.heldUnits == 0)
            #expect(runUntilConfirmed(bridge))
            let worker = try TestWorker(url: server.url)
            defer { worker.close() }
            #expect(try worker.fetchUnits(type: "resize").map(\.text) == [Self.lease])
            // The results consumer is back too, pushing to the subscription the bridge kept.
            try worker.publishResult(#"{"lease":"L1","status":"success"}"#)
            #expect(runUntil(loop, timeoutMs: 10_000) { !results.bodies.isEmpty })
        }
    }
}

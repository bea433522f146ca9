import Glibc
import Testing
@testable import JobKernelIO

@Suite struct StreamTests {
    @Test func roundTripBetweenTwoStreams() throws {
        let loop = try EventLoop()
        let (a, b) = socketPair()
        let left = try Stream(loop: loop, fd: a)
        let right = try Stream(loop: loop, fd: b)
        var received: [UInt8] = []
        right.onRead = { bytes in
            received += bytes
            right.write(Array(bytes))   // echo
        }
        var echoed: [UInt8] = []
        left.onRead = { bytes in
            echoed += bytes
            if echoed.count == 5 {
                left.close()
                right.close()
            }
        }
        right.startReading()
        left.startReading()
        left.write("hello")
        #expect(runBounded(loop))
        #expect(received == Array("hello".utf8))
        #expect(echoed == Array("hello".utf8))
        loop.close()
    }

    /// docs/promises.md §3: after the peer half-closes, requests already received are still answered.
    @Test func peerHalfCloseStillGetsAnswer() throws {
        let loop = try EventLoop()
        let (a, b) = socketPair()
        defer { close(b) }
        let server = try Stream(loop: loop, fd: a)
        var request: [UInt8] = []
        var closed = false
        server.onRead = { request += $0 }
        server.onEOF = {
            server.write("answer to " + String(decoding: request, as: UTF8.self))
            server.shutdownWrite { server.close() }
        }
        server.onClose = { closed = true }
        server.startReading()
        writeAll(b, Array("ping".utf8))
        shutdown(b, Int32(SHUT_WR))
        #expect(runBounded(loop))
        #expect(closed)
        #expect(server.sawEOF)
        #expect(server.closeError == nil)
        #expect(readAll(b) == Array("answer to ping".utf8))
        loop.close()
    }

    @Test func peerCredentialsAreOurOwn() throws {
        let loop = try EventLoop()
        let (a, b) = socketPair()
        defer { close(b) }
        let stream = try Stream(loop: loop, fd: a)
        #expect(stream.peerUID == getuid())
        #expect(stream.peerPID == getpid())
        loop.close()
    }

    @Test func pipeHasNoPeerCredentials() throws {
        let loop = try EventLoop()
        let (r, w) = makePipe()
        defer { close(w) }
        let stream = try Stream(loop: loop, fd: r)
        #expect(stream.peerUID == nil)
        loop.close()
    }

    @Test func regularFileIsRejected() throws {
        let loop = try EventLoop()
        let dir = TempDir()
        defer { dir.remove() }
        let fd = open(dir.file("f"), O_CREAT | O_RDWR, 0o600)
        defer { close(fd) }
        #expect(throws: UVError.self) { try Stream(loop: loop, fd: fd) }
        loop.close()
    }

    @Test func largeWriteToSlowReaderQueuesThenDrains() throws {
        let loop = try EventLoop()
        let (a, b) = socketPair()
        let writer = try Stream(loop: loop, fd: a)
        let reader = try Stream(loop: loop, fd: b)
        let size = 8 * 1024 * 1024
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 % 251) }
        var received = 0
        var intact = true
        var drained = false
        reader.onRead = { bytes in
            for byte in bytes {
                if byte != UInt8(truncatingIfNeeded: received % 251) { intact = false }
                received += 1
            }
            if received == size {
                reader.close()
                writer.close()
            }
        }
        writer.onWritesDrained = { drained = true }
        writer.write(payload)
        let queued = writer.pendingWriteBytes
        // The reader wakes up late: the writer must queue without blocking.
        let late = LoopTimer(loop: loop)
        late.start(afterMs: 100) {
            #expect(writer.pendingWriteBytes == queued)
            reader.startReading()
            late.close()
        }
        #expect(runBounded(loop, timeoutMs: 20_000))
        #expect(queued > 0)
        #expect(drained)
        #expect(received == size)
        #expect(intact)
        #expect(writer.closeError == nil)
        loop.close()
    }

    @Test func writingToClosedPeerClosesWithEPIPE() throws {
        let loop = try EventLoop()
        let (a, b) = socketPair()
        close(b)
        let stream = try Stream(loop: loop, fd: a)
        var closed = false
        stream.onClose = { closed = true }
        stream.write("into the void")
        stream.write("and again")   // dropped: already closed
        #expect(stream.isClosed)
        #expect(runBounded(loop))
        #expect(closed)
        #expect(stream.closeError?.code == -EPIPE)
        loop.close()
    }

    @Test func queuedWritesToPeerThatGoesAwayDoNotCrash() throws {
        let loop = try EventLoop()
        let (a, b) = socketPair()
        let stream = try Stream(loop: loop, fd: a)
        var closed = false
        stream.onClose = { closed = true }
        stream.write([UInt8](repeating: 7, count: 4 * 1024 * 1024))
        #expect(stream.pendingWriteBytes > 0)
        close(b)
        #expect(runBounded(loop))
        #expect(closed)
        #expect(stream.closeError != nil)
        loop.close()
    }

    @Test func stopReadingPausesDelivery() throws {
        let loop = try EventLoop()
        let (a, b) = socketPair()
        defer { close(b) }
        let stream = try Stream(loop: loop, fd: a)
        var chunks: [String] = []
        stream.onRead = { chunks.append(String(decoding: $0, as: UTF8.self)) }
        stream.startReading()
        stream.stopReading()
        writeAll(b, Array("held".utf8))
        let resume = LoopTimer(loop: loop)
        resume.start(afterMs: 50) {
            #expect(chunks.isEmpty)
            stream.startReading()
            resume.close()
        }
        let finish = LoopTimer(loop: loop)
        finish.start(afterMs: 5, repeatMs: 5) {
            if !chunks.isEmpty {
                stream.close()
                finish.close()
            }
        }
        #expect(runBounded(loop))
        #expect(chunks.joined() == "held")
        loop.close()
    }

    @Test func closeIsIdempotentAndOnCloseFiresOnce() throws {
        let loop = try EventLoop()
        let (a, b) = socketPair()
        defer { close(b) }
        let stream = try Stream(loop: loop, fd: a)
        var closes = 0
        stream.onClose = { closes += 1 }
        stream.close()
        stream.close()
        #expect(closes == 0)   // never synchronous
        #expect(runBounded(loop))
        #expect(closes == 1)
        var afterClose = false
        stream.shutdownWrite { afterClose = true }
        #expect(afterClose)
        loop.close()
    }
}

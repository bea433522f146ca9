import Glibc
import Testing
@testable import JobKernelIO

@Suite struct StdioTests {
    /// Echoes every byte of input to output; on EOF flushes, half-closes and closes.
    private func echo(_ stdio: Stdio, closed: @escaping () -> Void) {
        stdio.onRead = { stdio.write(Array($0)) }
        stdio.onEOF = {
            stdio.shutdownWrite { stdio.close() }
        }
        stdio.onClose = closed
        stdio.startReading()
    }

    @Test func pipeInPipeOutEchoesAndReportsEOF() throws {
        let loop = try EventLoop()
        let (inRead, inWrite) = makePipe()
        let (outRead, outWrite) = makePipe()
        defer { close(outRead) }
        let stdio = try Stdio(loop: loop, inputFD: inRead, outputFD: outWrite)
        var closed = false
        echo(stdio) { closed = true }
        writeAll(inWrite, Array("{\"jsonrpc\":\"2.0\"}\n".utf8))
        close(inWrite)
        #expect(runBounded(loop))
        #expect(closed)
        #expect(stdio.closeError == nil)
        #expect(readAll(outRead) == Array("{\"jsonrpc\":\"2.0\"}\n".utf8))
        loop.close()
    }

    /// `jobkernel serve --stdio < requests.jsonl`: a regular file cannot be polled, so it is read via uv_fs_read.
    @Test func regularFileInputIsReadToEOF() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let lines = (0..<20_000).map { "{\"id\":\($0)}\n" }.joined()
        let path = dir.file("requests.jsonl")
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        writeAll(fd, Array(lines.utf8))
        close(fd)

        let loop = try EventLoop()
        let (outRead, outWrite) = makePipe()
        let input = open(path, O_RDONLY)
        let stdio = try Stdio(loop: loop, inputFD: input, outputFD: outWrite)
        var received: [UInt8] = []
        var sawEOF = false
        stdio.onRead = { received += $0 }
        stdio.onEOF = {
            sawEOF = true
            stdio.write("done")
            stdio.shutdownWrite { stdio.close() }
        }
        stdio.startReading()
        #expect(runBounded(loop))
        #expect(sawEOF)
        #expect(received.count == lines.utf8.count)
        #expect(String(decoding: received, as: UTF8.self) == lines)
        #expect(readAll(outRead) == Array("done".utf8))
        close(outRead)
        loop.close()
    }

    @Test func devNullInputIsImmediateEOF() throws {
        let loop = try EventLoop()
        let (outRead, outWrite) = makePipe()
        defer { close(outRead) }
        let stdio = try Stdio(loop: loop, inputFD: open("/dev/null", O_RDONLY), outputFD: outWrite)
        var sawEOF = false
        var reads = 0
        stdio.onRead = { _ in reads += 1 }
        stdio.onEOF = {
            sawEOF = true
            stdio.close()
        }
        stdio.startReading()
        #expect(runBounded(loop))
        #expect(sawEOF)
        #expect(reads == 0)
        loop.close()
    }

    @Test func regularFileOutputReceivesWrites() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let path = dir.file("out.jsonl")
        let loop = try EventLoop()
        let (inRead, inWrite) = makePipe()
        let stdio = try Stdio(loop: loop, inputFD: inRead, outputFD: open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600))
        var closed = false
        echo(stdio) { closed = true }
        writeAll(inWrite, Array("line one\nline two\n".utf8))
        close(inWrite)
        #expect(runBounded(loop))
        #expect(closed)
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        #expect(readAll(fd) == Array("line one\nline two\n".utf8))
        loop.close()
    }

    @Test func socketStdinAndStdoutWork() throws {
        // An inetd-style parent may hand us one socket as both stdin and stdout.
        let loop = try EventLoop()
        let (ours, theirs) = socketPair()
        defer { close(theirs) }
        let stdio = try Stdio(loop: loop, inputFD: ours, outputFD: dup(ours))
        var closed = false
        echo(stdio) { closed = true }
        writeAll(theirs, Array("ping".utf8))
        shutdown(theirs, Int32(SHUT_WR))
        #expect(runBounded(loop))
        #expect(closed)
        #expect(readAll(theirs) == Array("ping".utf8))
        loop.close()
    }

    @Test func closedOutputReaderClosesWithError() throws {
        let loop = try EventLoop()
        let (inRead, inWrite) = makePipe()
        defer { close(inWrite) }
        let (outRead, outWrite) = makePipe()
        close(outRead)
        let stdio = try Stdio(loop: loop, inputFD: inRead, outputFD: outWrite)
        var closed = false
        stdio.onClose = { closed = true }
        stdio.startReading()
        stdio.write("nobody listens")
        #expect(runBounded(loop))
        #expect(closed)
        #expect(stdio.closeError?.code == -EPIPE)
        loop.close()
    }

    @Test func fileInputHonoursStopReading() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let text = String(repeating: "0123456789abcdef", count: 16 * 1024)   // 256 KiB, several reads
        let path = dir.file("in")
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        writeAll(fd, Array(text.utf8))
        close(fd)
        let loop = try EventLoop()
        let (outRead, outWrite) = makePipe()
        defer { close(outRead) }
        let stdio = try Stdio(loop: loop, inputFD: open(path, O_RDONLY), outputFD: outWrite)
        var received: [UInt8] = []
        var paused = false
        var readsWhilePaused = 0
        let resume = LoopTimer(loop: loop)
        stdio.onRead = { bytes in
            if paused { readsWhilePaused += 1 }
            received += bytes
            // Pause after every chunk and resume on a later turn.
            stdio.stopReading()
            paused = true
            resume.start(afterMs: 1) {
                paused = false
                stdio.startReading()
            }
        }
        stdio.onEOF = {
            resume.close()
            stdio.close()
        }
        stdio.startReading()
        stdio.stopReading()   // the read already in flight is held, not delivered
        let kick = LoopTimer(loop: loop)
        kick.start(afterMs: 20) {
            #expect(received.isEmpty)
            kick.close()
            stdio.startReading()
        }
        #expect(runBounded(loop))
        #expect(readsWhilePaused == 0)
        #expect(String(decoding: received, as: UTF8.self) == text)
        loop.close()
    }

    @Test func loopCloseClosesStdioAndReportsIt() throws {
        let loop = try EventLoop()
        let (inRead, inWrite) = makePipe()
        let (outRead, outWrite) = makePipe()
        defer { close(inWrite); close(outRead) }
        let stdio = try Stdio(loop: loop, inputFD: inRead, outputFD: outWrite)
        var closes = 0
        stdio.onClose = { closes += 1 }
        stdio.startReading()
        loop.close()
        #expect(stdio.isClosed)
        #expect(closes == 1)
    }
}

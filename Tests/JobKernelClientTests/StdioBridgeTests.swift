import Glibc
import Testing
@testable import JobKernelClient

/// `StdioBridge` between pipes (standing in for an editor's stdin/stdout) and a listening Unix
/// socket this test serves (standing in for the owning kernel), docs/promises.md §1 attach.
@Suite struct StdioBridgeTests {
    /// A listening socket at a fresh path, its accepted peer, and the editor's ends of two pipes.
    final class Rig {
        let path = "/tmp/jkbr-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let listener: Int32
        var kernel: Int32 = -1
        var toBridge: [Int32] = [-1, -1]  // the editor writes [1], the bridge reads [0]
        var fromBridge: [Int32] = [-1, -1]  // the bridge writes [1], the editor reads [0]

        init() throws {
            listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: Array(path.utf8) + [0])
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            try #require(bound == 0 && listen(listener, 1) == 0)
            try #require(pipe(&toBridge) == 0 && pipe(&fromBridge) == 0)
        }

        func accept() { kernel = Glibc.accept(listener, nil, nil) }

        deinit {
            for fd in [listener, kernel, toBridge[0], toBridge[1], fromBridge[0], fromBridge[1]] where fd >= 0 {
                close(fd)
            }
            unlink(path)
        }
    }

    /// Runs `bridge.run()` on a thread of its own; `wait()` returns its outcome.
    final class Running: @unchecked Sendable {
        private var thread = pthread_t()
        private var outcome: StdioBridge.Outcome?
        private let bridge: StdioBridge

        init(_ bridge: StdioBridge) {
            self.bridge = bridge
            let box = Unmanaged.passRetained(self).toOpaque()
            pthread_create(&thread, nil, { raw in
                let me = Unmanaged<Running>.fromOpaque(raw!).takeRetainedValue()
                me.outcome = me.bridge.run()
                return nil
            }, box)
        }

        func wait() -> StdioBridge.Outcome? {
            pthread_join(thread, nil)
            return outcome
        }
    }

    static func write(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        #expect(Glibc.write(fd, bytes, bytes.count) == bytes.count)
    }

    /// Reads until `count` bytes came, EOF, or 5 s passed.
    static func read(_ fd: Int32, count: Int) -> String {
        var got: [UInt8] = []
        while got.count < count {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 5000) == 1 else { break }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = Glibc.read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            got += buffer[0..<n]
        }
        return String(decoding: got, as: UTF8.self)
    }

    @Test func relaysBytesUnchangedBothWaysAndEndsCleanlyWhenStdinCloses() throws {
        let rig = try Rig()
        let bridge = try StdioBridge(socketPath: rig.path, input: rig.toBridge[0], output: rig.fromBridge[1])
        rig.accept()
        let running = Running(bridge)
        let request = "Content-Length: 2\r\n\r\n{}"
        Self.write(rig.toBridge[1], request)
        #expect(Self.read(rig.kernel, count: request.utf8.count) == request)
        Self.write(rig.kernel, "Content-Length: 4\r\n\r\nnull")
        #expect(Self.read(rig.fromBridge[0], count: 25) == "Content-Length: 4\r\n\r\nnull")

        // stdin closes: the kernel sees EOF (a half-close), still answers, then closes
        close(rig.toBridge[1]); rig.toBridge[1] = -1
        #expect(Self.read(rig.kernel, count: 1) == "")
        Self.write(rig.kernel, "last answer\n")
        close(rig.kernel); rig.kernel = -1
        #expect(running.wait() == .clientClosed)
        #expect(Self.read(rig.fromBridge[0], count: 12) == "last answer\n")
    }

    @Test func theKernelClosingFirstIsReported() throws {
        let rig = try Rig()
        let bridge = try StdioBridge(socketPath: rig.path, input: rig.toBridge[0], output: rig.fromBridge[1])
        rig.accept()
        let running = Running(bridge)
        Self.write(rig.kernel, "goodbye\n")
        close(rig.kernel); rig.kernel = -1
        #expect(running.wait() == .kernelClosed)
        #expect(Self.read(rig.fromBridge[0], count: 8) == "goodbye\n")  // what came first is delivered
    }

    @Test func theClientGoingAwayIsReported() throws {
        let rig = try Rig()
        let bridge = try StdioBridge(socketPath: rig.path, input: rig.toBridge[0], output: rig.fromBridge[1])
        rig.accept()
        close(rig.fromBridge[0]); rig.fromBridge[0] = -1  // nobody reads stdout any more
        let running = Running(bridge)
        Self.write(rig.kernel, "event\n")
        #expect(running.wait() == .clientGone)
    }

    @Test func noKernelAtThePathIsNoKernel() {
        #expect(throws: ClientError.self) {
            try StdioBridge(socketPath: "/tmp/jkbr-none-\(getpid()).sock")
        }
    }
}

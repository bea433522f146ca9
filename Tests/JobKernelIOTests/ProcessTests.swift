import CLibUV
import Glibc
import Testing
@testable import JobKernelIO

/// The supervisor `swift build` puts next to the test binary.
private let supervisor = Process.supervisorPath(nextTo: "/proc/self/exe")

/// Collects one pipe of a child until EOF, then closes it; reports complete lines as they come.
private final class Output {
    private(set) var bytes: [UInt8] = []
    private(set) var sawEOF = false
    private var pending: [UInt8] = []
    var onLine: ((String) -> Void)?

    init(_ stream: Stream?) {
        guard let stream else { return }
        stream.onRead = { chunk in
            self.bytes += chunk
            self.pending += chunk
            while let newline = self.pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: self.pending[..<newline], as: UTF8.self)
                self.pending.removeSubrange(...newline)
                self.onLine?(line)
            }
        }
        stream.onEOF = {
            self.sawEOF = true
            stream.close()
        }
        stream.startReading()
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// How a child ended.
private final class Exit {
    var status: Int64?
    var signal: Int32?

    init(_ process: Process) {
        process.onExit = { status, signal in
            self.status = status
            self.signal = signal
        }
    }
}

/// No process has this pid, or it is a zombie (dead; reaped by init when it gets to it).
private func isGone(_ pid: Int32) -> Bool {
    if kill(pid, 0) == -1 && errno == ESRCH { return true }
    guard let file = fopen("/proc/\(pid)/stat", "r") else { return true }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 512)
    guard fgets(&buffer, 512, file) != nil else { return true }
    let line = String(cString: buffer)
    guard let paren = line.lastIndex(of: ")") else { return false }
    return line[line.index(after: paren)...].dropFirst().first == "Z"
}

/// Polls until every pid is gone; returns false after `timeoutMs`.
private func waitUntilGone(_ pids: [Int32], timeoutMs: Int = 1000) -> Bool {
    for _ in 0..<(timeoutMs / 10) {
        if pids.allSatisfy(isGone) { return true }
        usleep(10_000)
    }
    return pids.allSatisfy(isGone)
}

/// No process has this pid at all: not even a zombie (the supervisor reaped it).
private func isReaped(_ pid: Int32) -> Bool {
    kill(pid, 0) == -1 && errno == ESRCH
}

@Suite(.serialized) struct ProcessTests {
    @Test func supervisorIsBuiltNextToTheTestBinary() {
        #expect(supervisor.hasSuffix("/jobkernel-supervise"))
        #expect(access(supervisor, X_OK) == 0)
    }

    @Test(arguments: [false, true])
    func echoWritesToStdoutAndExitsZero(supervised: Bool) throws {
        let loop = try EventLoop()
        let process = try Process(loop: loop, argv: ["/bin/echo", "hi"], stdin: .ignore,
                                  supervisor: supervised ? supervisor : nil)
        #expect(process.pid > 0)
        #expect(process.stdinStream == nil)
        let out = Output(process.stdoutStream)
        let err = Output(process.stderrStream)
        let exit = Exit(process)
        #expect(runBounded(loop))
        #expect(out.text == "hi\n")
        #expect(out.sawEOF)
        #expect(err.text == "")
        #expect(exit.status == 0)
        #expect(exit.signal == 0)
        #expect(process.hasExited)
        #expect(process.isClosed)
        loop.close()
    }

    /// docs/promises.md §5.1: the handler reads its input on stdin, then stdin is closed.
    @Test func stdinIsDeliveredAndClosingItSendsEOF() throws {
        let loop = try EventLoop()
        let process = try Process(loop: loop, argv: ["cat"], supervisor: supervisor)
        let out = Output(process.stdoutStream)
        let exit = Exit(process)
        let stdin = try #require(process.stdinStream)
        stdin.write("{\"job\":{},\"item\":null}\nsecond line\n")
        stdin.shutdownWrite { stdin.close() }
        #expect(runBounded(loop))
        #expect(out.text == "{\"job\":{},\"item\":null}\nsecond line\n")
        #expect(exit.status == 0)
        loop.close()
    }

    /// The child's stdio are kernel pipes, and no end of them leaks into it: beyond 0, 1 and 2 it
    /// has only what this process has open without close-on-exec (the test runner's own).
    @Test(arguments: [false, true])
    func stdioArePipesAndNothingElseLeaks(supervised: Bool) throws {
        let loop = try EventLoop()
        var inheritable: Set<Int> = [0, 1, 2]
        for fd in 3..<1024 where fcntl(Int32(fd), F_GETFD) >= 0 && fcntl(Int32(fd), F_GETFD) & FD_CLOEXEC == 0 {
            inheritable.insert(fd)
        }
        // `ls` reads the directory through a descriptor of its own, 3.
        let script = "stat -L -c %F /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2; ls /proc/self/fd | sort -n | tr '\\n' ' '"
        let process = try Process(loop: loop, argv: ["/bin/sh", "-c", script],
                                  supervisor: supervised ? supervisor : nil)
        let out = Output(process.stdoutStream)
        let err = Output(process.stderrStream)
        let exit = Exit(process)
        process.stdinStream?.close()
        #expect(runBounded(loop))
        #expect(exit.status == 0)
        #expect(err.text == "")
        let lines = out.text.split(separator: "\n")
        #expect(lines.prefix(3) == ["fifo", "fifo", "fifo"])
        let open = Set((lines.last ?? "").split(separator: " ").compactMap { Int($0) })
        #expect(open.isSuperset(of: [0, 1, 2]))
        #expect(open.subtracting([3]).isSubset(of: inheritable))
        loop.close()
    }

    /// docs/promises.md §5.1: any other exit is a failure, so the status must come through the supervisor intact.
    @Test(arguments: [false, true])
    func exitStatusComesThrough(supervised: Bool) throws {
        let loop = try EventLoop()
        let process = try Process(loop: loop, argv: ["/bin/sh", "-c", "exit 3"], stdin: .ignore,
                                  stdout: .ignore, stderr: .ignore, supervisor: supervised ? supervisor : nil)
        let exit = Exit(process)
        #expect(runBounded(loop))
        #expect(exit.status == 3)
        #expect(exit.signal == 0)
        loop.close()
    }

    @Test func environmentAndWorkingDirectoryAreExactlyAsGiven() throws {
        let loop = try EventLoop()
        let process = try Process(loop: loop, argv: ["sh", "-c", "echo \"$JOBKERNEL_JOB_ID ${HOME-unset}\"; pwd"],
                                  env: ["JOBKERNEL_JOB_ID": "42", "PATH": "/usr/bin:/bin"], cwd: "/tmp",
                                  stdin: .ignore, supervisor: supervisor)
        let out = Output(process.stdoutStream)
        let exit = Exit(process)
        #expect(runBounded(loop))
        #expect(out.text == "42 unset\n/tmp\n")
        #expect(exit.status == 0)
        loop.close()
    }

    @Test func missingCommandExits127WithAMessageWhenSupervised() throws {
        let loop = try EventLoop()
        let process = try Process(loop: loop, argv: ["no-such-command-jk", "x"], stdin: .ignore, supervisor: supervisor)
        let err = Output(process.stderrStream)
        let exit = Exit(process)
        #expect(runBounded(loop))
        #expect(exit.status == 127)
        #expect(err.text.contains("cannot run 'no-such-command-jk'"))
        #expect(err.text.contains("No such file or directory"))
        loop.close()
    }

    @Test func missingCommandThrowsENOENTWhenNotSupervised() throws {
        let loop = try EventLoop()
        #expect(throws: UVError(UV_ENOENT.rawValue, "spawn no-such-command-jk")) {
            try Process(loop: loop, argv: ["no-such-command-jk"])
        }
        #expect(throws: UVError(UV_EINVAL.rawValue, "spawn: empty argv")) {
            try Process(loop: loop, argv: [])
        }
        loop.close()   // would hang or leak if the failed spawn had left a handle open
    }

    /// A child holds only 0, 1 and 2: not a pipe end of the kernel that lacks CLOEXEC.
    @Test func supervisedChildInheritsOnlyStdio() throws {
        let (leakyRead, leakyWrite) = makePipe()   // no O_CLOEXEC
        defer { close(leakyRead); close(leakyWrite) }
        let loop = try EventLoop()
        let process = try Process(loop: loop, argv: ["sh", "-c", "ls /proc/$$/fd"], stdin: .ignore, supervisor: supervisor)
        let out = Output(process.stdoutStream)
        let exit = Exit(process)
        #expect(runBounded(loop))
        #expect(out.text.split(separator: "\n").sorted() == ["0", "1", "2"])
        #expect(exit.status == 0)
        loop.close()
    }

    /// docs/promises.md §8.2 and §5.1: SIGTERM to the group reaches the handler's own children too.
    @Test func signalGroupTerminatesTheWholeTree() throws {
        let loop = try EventLoop()
        let process = try Process(loop: loop, argv: ["sh", "-c", "sleep 100 & echo $!; sleep 100"],
                                  stdin: .ignore, supervisor: supervisor)
        let out = Output(process.stdoutStream)
        let exit = Exit(process)
        var grandchild: Int32 = 0
        out.onLine = { line in
            grandchild = Int32(line) ?? 0
            #expect(process.signalGroup(SIGTERM))
        }
        #expect(runBounded(loop))
        #expect(exit.signal == SIGTERM)   // the supervisor dies of the child's signal
        #expect(exit.status == 0)
        #expect(grandchild > 0)
        #expect(isReaped(grandchild))     // killed and reaped by the supervisor before it exited
        #expect(!process.signalGroup(SIGTERM))
        loop.close()
    }

    /// docs/promises.md §8.2: the grace period belongs to the handler, so it must see SIGTERM once — a second
    /// one ("press again to force") would cut it short. The supervisor must not relay a group signal.
    @Test func groupSIGTERMReachesTheHandlerExactlyOnce() throws {
        let loop = try EventLoop()
        // A busy loop runs the trap at once, so a relayed second SIGTERM is not merged with the first.
        let script = "trap 'echo term' TERM; echo ready; while :; do :; done"
        let process = try Process(loop: loop, argv: ["sh", "-c", script], stdin: .ignore, supervisor: supervisor)
        let out = Output(process.stdoutStream)
        let exit = Exit(process)
        let grace = LoopTimer(loop: loop)
        var lines: [String] = []
        out.onLine = { line in
            lines.append(line)
            guard line == "ready" else { return }
            #expect(process.signalGroup(SIGTERM))
            grace.start(afterMs: 300) {
                grace.close()
                process.signalGroup(SIGKILL)
            }
        }
        #expect(runBounded(loop))
        #expect(lines == ["ready", "term"])
        #expect(exit.signal == SIGKILL)
        loop.close()
    }

    /// `kill` reaches the supervisor alone, which relays it to its group once.
    @Test func killIsRelayedToTheGroupBySupervisor() throws {
        let loop = try EventLoop()
        let process = try Process(loop: loop, argv: ["sh", "-c", "sleep 100 & echo $!; wait"],
                                  stdin: .ignore, supervisor: supervisor)
        let out = Output(process.stdoutStream)
        let exit = Exit(process)
        var grandchild: Int32 = 0
        out.onLine = { line in
            grandchild = Int32(line) ?? 0
            #expect(process.kill(SIGTERM))
        }
        #expect(runBounded(loop))
        #expect(exit.signal == SIGTERM)
        #expect(grandchild > 0)
        #expect(isReaped(grandchild))
        loop.close()
    }

    /// docs/promises.md §8.2: SIGTERM, `cancel_grace`, then SIGKILL — which a handler cannot ignore.
    @Test func childIgnoringSIGTERMSurvivesItAndDiesOnSIGKILL() throws {
        let loop = try EventLoop()
        let process = try Process(loop: loop, argv: ["sh", "-c", "trap '' TERM; sleep 100 & echo $!; wait"],
                                  stdin: .ignore, supervisor: supervisor)
        let out = Output(process.stdoutStream)
        let exit = Exit(process)
        var grandchild: Int32 = 0
        var aliveAfterGrace = false
        let grace = LoopTimer(loop: loop)
        out.onLine = { line in
            grandchild = Int32(line) ?? 0
            #expect(process.signalGroup(SIGTERM))
            grace.start(afterMs: 300) {
                grace.close()
                aliveAfterGrace = !process.hasExited && kill(grandchild, 0) == 0
                #expect(process.signalGroup(SIGKILL))
            }
        }
        #expect(runBounded(loop))
        #expect(aliveAfterGrace)
        #expect(exit.signal == SIGKILL)
        #expect(grandchild > 0)
        #expect(waitUntilGone([grandchild]))
        loop.close()
    }

    /// docs/promises.md §9: after `kill -9` of the kernel, none of its handlers' processes is left running.
    /// A disposable `sh` plays the kernel: it runs the supervisor, and is then SIGKILLed.
    @Test func everySupervisedProcessDiesWithTheParent() throws {
        let loop = try EventLoop()
        let script = """
            "$1" -- /bin/sh -c 'sleep 100 & echo grandchild $!; echo child $$; wait' &
            echo supervisor $!
            wait
            """
        let parent = try Process(loop: loop, argv: ["/bin/sh", "-c", script, "sh", supervisor], stdin: .ignore)
        let out = Output(parent.stdoutStream)
        let exit = Exit(parent)
        var pids: [String: Int32] = [:]
        var killedAtMs: UInt64 = 0
        var eofAfterMs: UInt64?
        parent.stdoutStream?.onEOF = {
            eofAfterMs = loop.nowMs - killedAtMs
            parent.stdoutStream?.close()
        }
        out.onLine = { line in
            let words = line.split(separator: " ")
            guard words.count == 2, let pid = Int32(words[1]) else { return }
            pids[String(words[0])] = pid
            if pids.count == 3 {
                loop.updateTime()
                killedAtMs = loop.nowMs
                #expect(parent.kill(SIGKILL))
            }
        }
        #expect(runBounded(loop))
        #expect(exit.signal == SIGKILL)
        #expect(pids.count == 3)
        // Every holder of the stdout pipe is dead once it reads EOF.
        #expect((eofAfterMs ?? .max) < 1000)
        #expect(waitUntilGone(Array(pids.values)))
        loop.close()
    }

    @Test func closingBeforeExitKillsTheGroup() throws {
        let loop = try EventLoop()
        let process = try Process(loop: loop, argv: ["sh", "-c", "sleep 100 & echo $!; wait"],
                                  stdin: .ignore, supervisor: supervisor)
        let out = Output(process.stdoutStream)
        var grandchild: Int32 = 0
        out.onLine = { line in
            grandchild = Int32(line) ?? 0
            process.close()
        }
        #expect(runBounded(loop))
        #expect(grandchild > 0)
        #expect(waitUntilGone([grandchild, process.pid]))
        loop.close()
    }
}

import CLibUV
import Glibc

/// A child process (`uv_process_t`), spawned in a process group of its own, optionally under
/// `jobkernel-supervise` so that nothing it starts outlives the kernel (docs/promises.md §5.1, §9).
///
/// The child is spawned with `UV_PROCESS_DETACHED`: libuv calls `setsid()` between fork and exec,
/// and `uv_spawn` only returns once exec succeeded, so the group `-pid` exists as soon as `init`
/// returns and `signalGroup` cannot race the child's start.
///
/// Lifetime: the handle retains the object until the exit callback, after which it closes itself.
/// The pipes are separate `Stream`s: they may still hold output when `onExit` fires, so wait for
/// both (exit, then EOF on each pipe you read) and close each stream yourself. Closing a process
/// that has not exited SIGKILLs its group (libuv stops watching it, so it stays a zombie until the
/// kernel exits). Named like `Foundation.Process`: write `JobKernelIO.Process` where both are imported.
public final class Process: LoopHandle {
    /// What one of the child's stdin, stdout and stderr is connected to.
    public enum StdioMode: Sendable, Equatable {
        /// A new pipe, handed back as a `Stream`.
        case pipe
        /// The kernel's own descriptor (0, 1 or 2).
        case inherit
        /// `/dev/null`.
        case ignore
    }

    /// The executable's file name, installed next to the `jobkernel` binary.
    public static let supervisorName = "jobkernel-supervise"

    /// The spawned process: the supervisor when supervised. Also the id of its process group.
    public let pid: Int32
    /// True when the child runs under `jobkernel-supervise`.
    public let isSupervised: Bool
    /// Our end of the child's stdin (`.pipe` only); `shutdownWrite { close() }` sends EOF.
    public let stdinStream: Stream?
    /// Our end of the child's stdout (`.pipe` only).
    public let stdoutStream: Stream?
    /// Our end of the child's stderr (`.pipe` only).
    public let stderrStream: Stream?
    /// The process ended: its exit status, or the signal that killed it (else 0). Fires once.
    public var onExit: ((_ exitStatus: Int64, _ termSignal: Int32) -> Void)?
    /// The exit status once exited (0 when killed by a signal).
    public private(set) var exitStatus: Int64?
    /// The terminating signal once exited (0 when it exited normally).
    public private(set) var termSignal: Int32?
    /// True once the exit was reaped; the pid may belong to someone else from then on.
    public var hasExited: Bool { exitStatus != nil }

    /// Spawns `argv` (never through a shell: `argv[0]` is looked up in `PATH` of the child's
    /// environment). `env` nil inherits the kernel's environment, else is the whole environment.
    /// With `supervisor` (a path, see `supervisorPath(nextTo:)`) the child runs under it. With
    /// `batchScheduling` the child starts under SCHED_BATCH: the same share of the CPU, but its
    /// wake-ups do not preempt whatever runs (the kernel's loop, an editor).
    /// Throws `UV_EINVAL` for an empty argv or a NUL byte or `=` where they cannot be, and
    /// `uv_spawn`'s error (`UV_ENOENT` for a missing command when not supervised).
    public init(
        loop: EventLoop,
        argv: [String],
        env: [String: String]? = nil,
        cwd: String? = nil,
        stdin: StdioMode = .pipe,
        stdout: StdioMode = .pipe,
        stderr: StdioMode = .pipe,
        supervisor: String? = nil,
        batchScheduling: Bool = false
    ) throws(UVError) {
        guard let command = argv.first, !command.isEmpty else { throw UVError(UV_EINVAL.rawValue, "spawn: empty argv") }
        var fullArgv = argv
        if let supervisor {
            fullArgv = [supervisor, "--parent", String(getpid()), "--"] + argv
        }
        var environment: [String]?
        if let env {
            var entries: [String] = []
            for (key, value) in env.sorted(by: { $0.key < $1.key }) {
                if key.isEmpty || key.contains("=") { throw UVError(UV_EINVAL.rawValue, "spawn: environment name \"\(key)\"") }
                entries.append(key + "=" + value)
            }
            environment = entries
        }
        for string in fullArgv + (environment ?? []) + (cwd.map { [$0] } ?? []) where string.utf8.contains(0) {
            throw UVError(UV_EINVAL.rawValue, "spawn: NUL byte in \"\(command)\" arguments")
        }

        let modes = [stdin, stdout, stderr]
        // `.pipe` is a kernel pipe, not the socket pair libuv would make: a pipe carries each
        // message without allocating a socket buffer per write, on both sides (one `run` and one
        // answer per job in the persistent pools). Our ends are close-on-exec; the child gets its
        // ends as its stdio, and they are closed here once it has them.
        var childEnds: [Int32?] = []
        var streams: [Stream?] = []
        defer { for fd in childEnds { if let fd { Glibc.close(fd) } } }  // the child has its copy
        for (index, mode) in modes.enumerated() {
            guard mode == .pipe else {
                childEnds.append(nil)
                streams.append(nil)
                continue
            }
            var fds: [uv_file] = [-1, -1]
            let made = uv_pipe(&fds, 0, 0)  // both ends close-on-exec
            guard made == 0 else {
                streams.forEach { $0?.close() }
                throw UVError(made, "spawn \(command): pipe")
            }
            // The child reads stdin and writes stdout and stderr.
            let (child, ours) = index == 0 ? (fds[0], fds[1]) : (fds[1], fds[0])
            childEnds.append(child)
            do {
                streams.append(try Stream(loop: loop, fd: ours))
            } catch {
                Glibc.close(ours)
                streams.forEach { $0?.close() }
                throw error
            }
        }
        var containers = (0..<3).map { index -> uv_stdio_container_t in
            var container = uv_stdio_container_t()
            switch modes[index] {
            case .pipe:
                container.flags = UV_INHERIT_FD
                container.data.fd = childEnds[index]!
            case .inherit:
                container.flags = UV_INHERIT_FD
                container.data.fd = Int32(index)
            case .ignore:
                container.flags = UV_IGNORE
            }
            return container
        }

        let raw = LoopHandle.allocate(UV_PROCESS, on: loop)
        let process = raw.assumingMemoryBound(to: uv_process_t.self)
        let cArgv = Process.cStrings(fullArgv)
        let cEnv = environment.map(Process.cStrings)
        let cCwd = cwd.map { strdup($0)! }
        defer {
            cArgv.forEach { free($0) }
            cEnv?.forEach { free($0) }
            free(cCwd)
        }
        // A child inherits the scheduling policy of the thread that forks it: this thread runs
        // under SCHED_BATCH while it spawns, and goes back to SCHED_OTHER right after. A thread
        // under any other policy (already batch, real-time, idle) is left as it is.
        let switched = batchScheduling && sched_getscheduler(0) == Process.schedOther
            && Process.setPolicy(Process.schedBatch)
        defer { if switched { _ = Process.setPolicy(Process.schedOther) } }
        let status = containers.withUnsafeMutableBufferPointer { stdio in
            var options = uv_process_options_t()
            options.exit_cb = { process, exitStatus, termSignal in
                guard let process, let data = process.pointee.data else { return }
                Unmanaged<Process>.fromOpaque(data).takeUnretainedValue().didExit(exitStatus, termSignal)
            }
            options.file = UnsafePointer(cArgv[0])
            options.flags = UV_PROCESS_DETACHED.rawValue
            options.stdio_count = 3
            options.stdio = stdio.baseAddress
            options.cwd = UnsafePointer(cCwd)
            return cArgv.withUnsafeBufferPointer { args in
                options.args = UnsafeMutablePointer(mutating: args.baseAddress)
                guard let cEnv else { return uv_spawn(loop.uv, process, &options) }
                return cEnv.withUnsafeBufferPointer { envp in
                    options.env = UnsafeMutablePointer(mutating: envp.baseAddress)
                    return uv_spawn(loop.uv, process, &options)
                }
            }
        }
        if status < 0 {
            LoopHandle.discard(raw)  // uv_spawn initialised the handle
            streams.forEach { $0?.close() }
            throw UVError(status, "spawn \(command)")
        }
        pid = process.pointee.pid
        isSupervised = supervisor != nil
        stdinStream = streams[0]
        stdoutStream = streams[1]
        stderrStream = streams[2]
        super.init(loop: loop, raw: raw)
    }

    /// Linux's SCHED_OTHER and SCHED_BATCH (glibc declares the latter only under _GNU_SOURCE).
    static let schedOther: Int32 = 0
    static let schedBatch: Int32 = 3

    /// Sets the calling thread's policy to one of the normal ones (priority 0, their only one);
    /// false if it could not be changed.
    private static func setPolicy(_ policy: Int32) -> Bool {
        var param = sched_param(sched_priority: 0)
        return sched_setscheduler(0, policy, &param) == 0
    }

    /// `strdup`ed copies plus the terminating NULL; free every element.
    private static func cStrings(_ strings: [String]) -> [UnsafeMutablePointer<CChar>?] {
        strings.map { strdup($0) } + [nil]
    }

    /// The supervisor's path: `jobkernel-supervise` in the directory of `executable`, after
    /// resolving symlinks (so `"/proc/self/exe"` names the running binary's directory).
    public static func supervisorPath(nextTo executable: String) -> String {
        var path = executable
        if let resolved = realpath(executable, nil) {
            path = String(cString: resolved)
            free(resolved)
        }
        guard let slash = path.lastIndex(of: "/") else { return supervisorName }
        return String(path[..<slash]) + "/" + supervisorName
    }

    /// Sends `sig` to every process of the child's group at once (the supervisor leads it, and
    /// does not relay what it receives this way). Returns false if nothing was signalled: the
    /// group is gone (ESRCH) or the process has exited, after which its pid may be reused.
    @discardableResult
    public func signalGroup(_ sig: Int32) -> Bool {
        guard !hasExited, pid > 0 else { return false }
        return Glibc.kill(-pid, sig) == 0
    }

    /// Sends `sig` to the spawned process alone. A supervisor relays SIGTERM, SIGINT, SIGHUP and
    /// SIGQUIT to its group (the signal goes with `sigqueue`, which is how it tells this from a
    /// group signal); a SIGKILL kills the supervisor and its direct child, not grandchildren —
    /// use `signalGroup` for that. Returns false once exited or on ESRCH.
    @discardableResult
    public func kill(_ sig: Int32) -> Bool {
        guard !hasExited, pid > 0 else { return false }
        return sigqueue(pid, sig, sigval(sival_int: 0)) == 0
    }

    private func didExit(_ exitStatus: Int64, _ termSignal: Int32) {
        self.exitStatus = exitStatus
        self.termSignal = termSignal
        let onExit = self.onExit
        self.onExit = nil
        onExit?(exitStatus, termSignal)
        close()
    }

    override func willClose() {
        // libuv forgets the pid on close; whatever still runs would escape every later signal.
        if !hasExited { signalGroup(SIGKILL) }
    }

    override func didClose() {
        onExit = nil
    }
}

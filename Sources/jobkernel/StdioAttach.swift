import Glibc
import JobKernelClient
import JobKernelIO
import JobKernelServer

/// `serve --stdio` on a database a live kernel owns (docs/promises.md §1): bridge stdin/stdout to the owner's
/// socket instead of refusing, so that an editor and a shell see the same jobs.
enum StdioAttach {
    /// How long to wait for an owner that holds the lock but does not accept on its socket yet
    /// (it is still recovering its database).
    static let connectPatienceMs = 10_000

    /// Attaches to `owner` and relays until stdin closes (0) or the owner goes away (3).
    /// Returns nil when the owner died before it could be reached: the caller takes the database.
    static func run(_ owner: DatabaseOwner) -> Int32? {
        guard let socket = owner.socket else {
            guard let pid = owner.pid else {
                usleep(100_000)  // the owner is still writing its lock file: look again
                return nil
            }
            fail("the database \(owner.databasePath) is owned by a running kernel (pid \(pid)) "
                + "that serves no socket, so `serve --stdio` cannot attach to it; restart that kernel "
                + "with --socket PATH, or give this one another --db")
            return 1
        }
        let who = "pid \(owner.pid.map(String.init) ?? "?"), socket \(socket)"
        let bridge: StdioBridge
        let start = nowMs()
        while true {
            do {
                bridge = try StdioBridge(socketPath: socket)
                break
            } catch {
                if !isHeld(owner.databasePath) { return nil }
                if nowMs() - start < connectPatienceMs {
                    usleep(50_000)
                    continue
                }
                fail("the database \(owner.databasePath) is owned by a running kernel (\(who)), but it does "
                    + "not answer on its socket (\(error)); check that kernel, or give this one another --db "
                    + "(--no-attach refuses instead of attaching)")
                return 3
            }
        }
        say("attached to the running kernel (\(who)) that owns \(owner.databasePath): "
            + "stdin/stdout are bridged to it, and it keeps running when stdin closes (--no-attach refuses instead)")
        switch bridge.run() {
        case .clientClosed:
            say("stdin closed; detached from the kernel (pid \(owner.pid.map(String.init) ?? "?")), which keeps running")
            return 0
        case .clientGone:
            return 0
        case .interrupted:
            say("stopped by a signal; detached from the kernel (pid \(owner.pid.map(String.init) ?? "?")), which keeps running")
            return 0
        case .kernelClosed:
            fail("the kernel that owns \(owner.databasePath) (\(who)) closed the connection: it stopped or "
                + "restarted. Run `jobkernel serve --stdio` again: it attaches to the next owner, or becomes the owner")
            return 3
        case .failed(let reason):
            fail("attached to the kernel (\(who)): \(reason)")
            return 1
        }
    }

    /// True while some process holds the database's lock (the owner is alive: its death, even
    /// unreaped, releases the `flock`).
    private static func isHeld(_ databasePath: String) -> Bool {
        let fd = open(databasePath + ".lock", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            _ = flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }

    private static func nowMs() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return now.tv_sec * 1000 + now.tv_nsec / 1_000_000
    }

    private static func say(_ message: String) { StandardStream.error.write("jobkernel: \(message)\n") }
    private static func fail(_ message: String) { StandardStream.error.write("jobkernel: \(message)\n") }
}

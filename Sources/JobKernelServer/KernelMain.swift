import Glibc
import JobKernelCore
import JobKernelIO
import JobKernelStore

/// What `jobkernel serve` was asked to do.
public struct ServeOptions {
    public var socketPath: String?
    public var stdio = false
    public var dbPath: String?
    public var configPath: String?
    public var socketMode: mode_t?
    /// With `stdio`, called instead of refusing when a live kernel owns the database (docs/promises.md §1:
    /// `serve --stdio` attaches to it). Returns the exit code, or nil when the owner went away
    /// before it could be reached, so that this process takes the database itself.
    public var attach: ((DatabaseOwner) -> Int32?)?

    public init() {}
}

/// The live kernel that owns a database, as its lock file names it (`pid`/`socket` may be
/// missing while the owner is still writing the file).
public struct DatabaseOwner: Sendable {
    /// The database it owns.
    public var databasePath: String
    /// Its process id.
    public var pid: Int32?
    /// The socket it serves (absolute), nil when it serves none.
    public var socket: String?
}

/// Where the kernel keeps its state by default (docs/promises.md §1).
public enum StatePaths {
    /// `$JOBKERNEL_HOME`, else `~/.local/state/jobkernel`.
    public static var directory: String {
        if let home = getenv("JOBKERNEL_HOME").map({ String(cString: $0) }), !home.isEmpty { return home }
        let userHome = getenv("HOME").map { String(cString: $0) } ?? "/tmp"
        return userHome + "/.local/state/jobkernel"
    }

    public static var socket: String { directory + "/kernel.sock" }
    public static var database: String { directory + "/jobs.db" }

    /// Creates the state directory (0700) and its parents.
    static func ensureDirectory(_ path: String) throws {
        var built = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            built += "/" + part
            if mkdir(built, 0o700) != 0 && errno != EEXIST {
                throw ServeError("cannot create the state directory \(built): \(String(cString: strerror(errno)))")
            }
        }
    }
}

struct ServeError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// `jobkernel serve`.
public enum KernelMain {
    /// Runs the kernel until it shuts down; returns the exit code (docs/promises.md §1: 1 when the socket is
    /// served by a live kernel, 2 for a config error).
    public static func serve(_ options: ServeOptions) -> Int32 {
        let config: KernelConfig
        do {
            if let path = options.configPath {
                config = try ConfigLoader.load(path: path)
            } else if access("jobkernel.toml", R_OK) == 0 {
                config = try ConfigLoader.load(path: "jobkernel.toml")
            } else {
                config = .defaults
            }
        } catch {
            StandardStream.error.write("jobkernel: config error: \(error)\n")
            return 2
        }
        let schedules: Schedules
        switch Kernel.schedules(of: config) {
        case .success(let read): schedules = read
        case .failure(let problem):
            StandardStream.error.write("jobkernel: config error: \(problem.message)\n")
            return 2
        }
        let serveSocket = options.socketPath != nil || !options.stdio
        let socketPath = serveSocket ? (options.socketPath ?? StatePaths.socket) : nil
        let dbPath = options.dbPath ?? StatePaths.database
        do {
            if options.dbPath == nil || (options.socketPath == nil && serveSocket) {
                try StatePaths.ensureDirectory(StatePaths.directory)
            }
            // Ownership first (docs/promises.md §1): nothing of the database is read before the lock is ours.
            var lock: DatabaseLock?
            var attempts = 0
            while dbPath != ":memory:" && lock == nil {
                do {
                    lock = try DatabaseLock(databasePath: dbPath, socketPath: socketPath)
                } catch let held as DatabaseLock.Held {
                    attempts += 1
                    if options.stdio, attempts <= 3, let attach = options.attach {
                        let owner = DatabaseOwner(databasePath: held.databasePath, pid: held.owner.pid, socket: held.owner.socket)
                        if let code = attach(owner) { return code }
                        continue  // the owner went away before it answered: take the database
                    }
                    StandardStream.error.write("jobkernel: the database \(held.databasePath) is owned by a running kernel (\(held.owner)); "
                        + "talk to that kernel, stop it first, or give this one another --db\n")
                    return 1
                }
            }
            defer { withExtendedLifetime(lock) {} }
            EventLoop.ignoreSIGPIPE()
            let loop = try EventLoop()
            let store: JobStore
            do {
                store = try JobStore(path: dbPath, durability: config.storage.durability == .full ? .full : .normal)
            } catch {
                StandardStream.error.write("jobkernel: cannot open the database \(dbPath): \(error)\n")
                return 1
            }
            let kernel = try Kernel(loop: loop, config: config, store: store, socketPath: socketPath, schedules: schedules)
            if config.broker.kind == .nats {
                do {
                    try kernel.connectNATS()
                } catch {
                    StandardStream.error.write("jobkernel: [broker] kind = \"nats\": \(error)\n")
                    return 1
                }
            }
            if let socketPath {
                try kernel.listen(path: socketPath, mode: options.socketMode ?? 0o600, inheritedFD: activatedSocket())
                setenv("JOBKERNEL_SOCKET", socketPath, 1)
            }
            if options.stdio { try kernel.serveStdio() }
            kernel.handleSignals()
            log("serving" + (socketPath.map { " on \($0)" } ?? "") + (options.stdio ? " on stdio" : "") + ", database \(dbPath)")
            let code = kernel.run()
            loop.close()
            store.close()
            return code
        } catch let e as SocketError {
            StandardStream.error.write("jobkernel: \(e)\n")
            return 1
        } catch {
            StandardStream.error.write("jobkernel: cannot start: \(error)\n")
            return 1
        }
    }

    /// The listening socket systemd passed (`LISTEN_PID` is us, `LISTEN_FDS` ≥ 1: fd 3), if any.
    static func activatedSocket() -> Int32? {
        guard let pid = getenv("LISTEN_PID").flatMap({ Int32(String(cString: $0)) }), pid == getpid(),
              let n = getenv("LISTEN_FDS").flatMap({ Int(String(cString: $0)) }), n >= 1 else { return nil }
        unsetenv("LISTEN_PID")
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_FDNAMES")
        return 3
    }

    static func log(_ message: String) {
        StandardStream.error.write("jobkernel: \(message)\n")
    }
}

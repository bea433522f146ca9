import Glibc

/// The exclusive ownership of a database (docs/promises.md §1): a kernel takes it before it reads or writes
/// anything, recovery included, and holds it for the life of the process.
///
/// The lock is `flock(2)` on `<database>.lock`, so the kernel's death (kill -9 included) releases
/// it and no stale lock ever needs clearing by hand. The file also names the owner (pid and
/// socket), so a second kernel can say who holds the database.
final class DatabaseLock {
    /// Who holds a database: what the owner wrote into the lock file.
    struct Owner: CustomStringConvertible {
        var pid: Int32?
        var socket: String?

        var description: String {
            var parts: [String] = []
            if let pid { parts.append("pid \(pid)") }
            parts.append(socket.map { "socket \($0)" } ?? "no socket")
            return parts.joined(separator: ", ")
        }
    }

    /// The database is held by another live process.
    struct Held: Error {
        var databasePath: String
        var owner: Owner
    }

    let path: String
    private let fd: Int32

    /// Takes the lock of the database at `databasePath` for this process, recording
    /// `socketPath` as where it serves. Throws `Held` when another process owns it.
    init(databasePath: String, socketPath: String?) throws {
        path = databasePath + ".lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ServeError("cannot open the lock file \(path): \(String(cString: strerror(errno))); "
                + "check that its directory exists and is writable")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let owner = DatabaseLock.readOwner(fd)
            Glibc.close(fd)
            if code == EWOULDBLOCK { throw Held(databasePath: databasePath, owner: owner) }
            throw ServeError("cannot lock \(path): \(String(cString: strerror(code)))")
        }
        var text = "pid=\(getpid())\n"
        if let socketPath { text += "socket=\(DatabaseLock.absolute(socketPath))\n" }
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    /// `path` made absolute against the working directory, so that a client started elsewhere
    /// (`serve --stdio` attaching) finds the socket.
    static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/"), let cwd = getcwd(nil, 0) else { return path }
        defer { free(cwd) }
        return String(cString: cwd) + "/" + path
    }

    /// Reads the owner a lock file names (it may be half-written: then some parts are missing).
    static func readOwner(_ fd: Int32) -> Owner {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = pread(fd, &buf, buf.count, 0)
        guard n > 0 else { return Owner() }
        var owner = Owner()
        for line in String(decoding: buf[0..<n], as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("pid=") { owner.pid = Int32(line.dropFirst(4)) }
            if line.hasPrefix("socket=") { owner.socket = String(line.dropFirst(7)) }
        }
        return owner
    }

    deinit { Glibc.close(fd) }
}

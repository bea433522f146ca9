import Glibc

/// `--token-file PATH` (docs/web.md, "The token"): a stable token for Prometheus'
/// `credentials_file` and reverse proxies. The file is read when it exists and created with a fresh
/// token, mode 0600, when it does not; a file others may read is refused, as ssh refuses a key.
public enum TokenFile {
    /// Why the file cannot give a token.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The token in the file at `path`, which is created (0600, a fresh token) when missing.
    public static func load(_ path: String) throws -> String {
        let created = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if created >= 0 {
            let token = AccessPolicy.makeToken()
            let line = Array((token + "\n").utf8)
            let written = line.withUnsafeBytes { write(created, $0.baseAddress, $0.count) }
            let synced = fsync(created)
            close(created)
            guard written == line.count, synced == 0 else {
                unlink(path)
                throw Failure(description: "cannot write the token file \(path): \(String(cString: strerror(errno)))")
            }
            return token
        }
        guard errno == EEXIST else {
            throw Failure(description: "cannot create the token file \(path): \(String(cString: strerror(errno)))")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot read the token file \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw Failure(description: "cannot stat the token file \(path)") }
        guard status.st_mode & 0o077 == 0 else {
            throw Failure(description: "the token file \(path) may be read by others (mode \(String(status.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = read(fd, &bytes, bytes.count)
        guard count >= 0 else { throw Failure(description: "cannot read the token file \(path): \(String(cString: strerror(errno)))") }
        let token = String(decoding: bytes[..<count], as: UTF8.self)
            .split(whereSeparator: { $0 == "\n" || $0 == "\r" }).first.map { String($0).trimmingSpaces } ?? ""
        guard token.count >= 16, token.count <= 1024, token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw Failure(description: "the token file \(path) must hold one token of 16 to 1024 printable characters without spaces")
        }
        return token
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import JobKernelCore
import TOMLKit

/// Reads a TOML config file into a `KernelConfig`: TOML → the generic `JSON` tree →
/// `KernelConfig.parse`, so every check lives in the pure core.
public enum ConfigLoader {
    /// Loads and checks the config file at `path`. Every error names the file.
    public static func load(path: String) throws(ConfigError) -> KernelConfig {
        let text = try readFile(path)
        do {
            return try KernelConfig.parse(tree(toml: text))
        } catch var error {
            error.file = path
            throw error
        }
    }

    /// Loads and checks a config from TOML text.
    public static func load(toml text: String) throws(ConfigError) -> KernelConfig {
        try KernelConfig.parse(tree(toml: text))
    }

    /// The TOML document as a JSON tree: tables become objects, arrays arrays; dates and times
    /// become their TOML text. TOMLKit hands table keys over sorted, not in declaration order.
    public static func tree(toml text: String) throws(ConfigError) -> JSON {
        guard !text.utf8.contains(0) else {
            throw ConfigError(file: nil, problem: "the file contains a NUL byte", fix: "a config file is UTF-8 text")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(file: nil, line: error.source.begin.line, column: error.source.begin.column,
                              problem: "TOML syntax error: \(error.description)")
        } catch {
            throw ConfigError(file: nil, problem: "TOML syntax error: \(error)")
        }
        return try json(table, path: "")
    }

    // MARK: Conversion

    private static func json(_ table: TOMLTable, path: String) throws(ConfigError) -> JSON {
        var object = JSONObject()
        for (key, value) in table {
            let keyPath = path.isEmpty ? quoted(key) : path + "." + quoted(key)
            object[key] = try json(value, path: keyPath)
        }
        return .object(object)
    }

    private static func json(_ value: TOMLValueConvertible, path: String) throws(ConfigError) -> JSON {
        switch value.type {
        case .table:
            guard let table = value.table else { return .object([:]) }
            return try json(table, path: path)
        case .array:
            guard let array = value.array else { return .array([]) }
            var elements: [JSON] = []
            for (index, element) in array.enumerated() {
                elements.append(try json(element, path: path + "[\(index)]"))
            }
            return .array(elements)
        case .string: return .string(value.string ?? "")
        case .int: return .int(value.int ?? 0)
        case .double:
            let number = value.double ?? 0
            guard number.isFinite else {
                throw ConfigError(keyPath: path, problem: "inf and nan are not allowed", fix: "write a finite number")
            }
            return .double(number)
        case .bool: return .bool(value.bool ?? false)
        case .date: return .string(value.date?.debugDescription ?? "")
        case .time: return .string(value.time?.debugDescription ?? "")
        case .dateTime: return .string(value.dateTime?.debugDescription ?? "")
        }
    }

    /// A key as it is written in a dotted path: bare when TOML allows, else quoted.
    private static func quoted(_ key: String) -> String {
        let bare = !key.isEmpty && key.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
        }
        if bare { return key }
        return "\"" + key.replacingBackslashesAndQuotes() + "\""
    }

    // MARK: Files

    private static func readFile(_ path: String) throws(ConfigError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            let fix: String? = code == ENOENT ? "check the path given to --config" : nil
            throw ConfigError(file: path, problem: "cannot open the config file: \(String(cString: strerror(code)))", fix: fix)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                throw ConfigError(file: path, problem: "cannot read the config file: \(String(cString: strerror(code)))")
            }
            bytes.append(contentsOf: buffer[0..<count])
            if bytes.count > 16 << 20 {
                throw ConfigError(file: path, problem: "the config file is larger than 16 MiB")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(file: path, problem: "the config file is not valid UTF-8")
        }
        return text
    }
}

extension String {
    fileprivate func replacingBackslashesAndQuotes() -> String {
        var result = ""
        for character in self {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            default: result.append(character)
            }
        }
        return result
    }
}

/// Splits a byte stream into lines (an exec handler's stdout and stderr). Lines over the limit
/// are cut at the limit rather than buffered without bound.
public struct LineSplitter: Sendable {
    private var buffer: [UInt8] = []
    private let maxLineBytes: Int

    public init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    /// Feeds bytes; returns the complete lines they ended, without their `\n` (or `\r\n`).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [String] {
        var lines: [String] = []
        for b in bytes {
            if b == 0x0A {
                lines.append(take())
            } else {
                buffer.append(b)
                if buffer.count >= maxLineBytes { lines.append(take()) }
            }
        }
        return lines
    }

    /// The unterminated last line, at end of input.
    public mutating func finish() -> String? {
        buffer.isEmpty ? nil : take()
    }

    private mutating func take() -> String {
        if buffer.last == 0x0D { buffer.removeLast() }
        defer { buffer.removeAll(keepingCapacity: true) }
        return String(decoding: buffer, as: UTF8.self)
    }
}

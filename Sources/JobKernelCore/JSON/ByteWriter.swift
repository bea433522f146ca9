/// A byte buffer for the writers on the hot path: an append is a bounds check and a copy.
///
/// `Array.append(contentsOf:)` costs about a hundred instructions a call, however few bytes it
/// copies, and the job object alone is some fifty appends. A `ByteWriter` keeps an array whose
/// elements past `count` are scratch space, written in place, and trims it when it is done: the
/// bytes end up in an ordinary `[UInt8]` without being copied again.
public struct ByteWriter {
    /// The bytes written, followed by scratch space up to `storage.count` that is never read.
    private var storage: [UInt8]
    /// How many bytes have been written.
    public private(set) var count: Int

    /// An empty writer with room for `capacity` bytes before it grows.
    public init(capacity: Int) {
        let size = Swift.max(capacity, 16)
        storage = [UInt8](unsafeUninitializedCapacity: size) { _, initialized in initialized = size }
        count = 0
    }

    /// A writer that continues `bytes`: what it writes goes after them. Its first write copies
    /// `bytes` if the caller still holds them: to append to an array of your own, use
    /// `appending(to:)`, which moves it.
    public init(continuing bytes: [UInt8]) {
        storage = bytes
        count = bytes.count
    }

    /// Lets `body` append to `bytes` through a writer. The array is moved into the writer and
    /// back (swapped, so that no second reference makes its first write copy it all).
    @inline(__always)
    public static func appending(to bytes: inout [UInt8], _ body: (inout ByteWriter) -> Void) {
        var writer = ByteWriter(continuing: [])
        swap(&writer.storage, &bytes)
        writer.count = writer.storage.count
        body(&writer)
        swap(&writer.storage, &bytes)
        bytes.removeLast(bytes.count - writer.count)
    }

    /// The bytes written, as an array (the writer's own storage, trimmed: no copy).
    public consuming func finish() -> [UInt8] {
        storage.removeLast(storage.count - count)
        return storage
    }

    @inline(__always)
    public mutating func append(_ byte: UInt8) {
        if count == storage.count { grow(1) }
        let at = count
        storage.withUnsafeMutableBufferPointer { $0.baseAddress.unsafelyUnwrapped[at] = byte }
        count = at + 1
    }

    @inline(__always)
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0 else { return }
        if storage.count - count < n { grow(n) }
        let at = count
        storage.withUnsafeMutableBytes { to in
            (to.baseAddress.unsafelyUnwrapped + at).copyMemory(from: bytes.baseAddress.unsafelyUnwrapped, byteCount: n)
        }
        count = at + n
    }

    /// Appends a literal's bytes (keys and punctuation written as constants).
    @inline(__always)
    public mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inline(__always)
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Appends a string's UTF-8 bytes as they are (no quoting or escaping).
    @inline(__always)
    public mutating func append(utf8 string: String) {
        var string = string
        string.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Lets `body` write up to `maximum` bytes in place; it returns how many it wrote.
    @inline(__always)
    public mutating func write(atMost maximum: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int) {
        if storage.count - count < maximum { grow(maximum) }
        let at = count
        let written = storage.withUnsafeMutableBytes { body(UnsafeMutableRawBufferPointer(rebasing: $0[at..<(at + maximum)])) }
        count = at + written
    }

    /// Makes room for at least `needed` more bytes. Within the array's capacity (a writer that
    /// continues an array), the room is cleared a little at a time, so that a short message does
    /// not clear all of a large array's spare capacity. Otherwise the bytes move to a new array of
    /// twice the size, whose scratch space is left as the allocator gave it: bytes are plain
    /// values, and scratch is never read.
    private mutating func grow(_ needed: Int) {
        let wanted = count + Swift.max(needed, 512)
        if storage.capacity >= wanted {
            var missing = wanted - storage.count
            while missing > 0 {
                let chunk = Swift.min(missing, Self.zeros.count)
                Self.zeros.withUnsafeBufferPointer { storage.append(contentsOf: UnsafeBufferPointer(rebasing: $0[..<chunk])) }
                missing -= chunk
            }
            return
        }
        let size = Swift.max(wanted, storage.capacity * 2)
        let written = count
        storage = storage.withUnsafeBufferPointer { old in
            [UInt8](unsafeUninitializedCapacity: size) { new, initialized in
                if written > 0 { new.baseAddress!.update(from: old.baseAddress!, count: written) }
                initialized = size
            }
        }
    }

    private static let zeros = [UInt8](repeating: 0, count: 4096)
}

/// One unit the `FrameDecoder` cut out of a byte stream.
public enum Frame: Hashable, Sendable {
    /// The bytes of one message (for NDJSON without the line ending), still to be parsed.
    case message([UInt8])
    /// A message over `maxMessageBytes`; its bytes were skipped. Answer `-32600` with `id: null`.
    case tooLarge
    /// An LSP header section without a usable `Content-Length` (or otherwise malformed); the
    /// decoder resynchronised on its own. The string says what was wrong.
    case badHeader(String)
}

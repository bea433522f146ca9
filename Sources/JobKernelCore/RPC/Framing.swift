/// How messages are delimited on one connection (docs/promises.md §3). The kernel answers in the peer's framing.
public enum Framing: Hashable, Sendable {
    /// Newline-delimited JSON: one value per line, `\r\n` allowed, blank lines ignored.
    case ndjson
    /// LSP framing: `Content-Length: N\r\n`, optional other headers, `\r\n`, then N bytes of JSON.
    case contentLength
}

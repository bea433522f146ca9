/// `[limits]`: bounds on what clients may send and what the kernel keeps (docs/promises.md §7, §10).
/// Every limit is more than 0.
public struct LimitsConfig: Equatable, Sendable {
    /// The largest JSON-RPC message read; default 16 MiB.
    public var maxMessageBytes: Int = 16 << 20
    /// The deepest nesting of a JSON message; default 64.
    public var maxDepth: Int = 64
    /// Items per job; default 100000.
    public var maxItems: Int = 100_000
    /// The largest payload of a job (its encoded JSON); default 1 MiB.
    public var maxPayloadBytes: Int = 1 << 20
    /// Log kept per job, oldest lines dropped first; default 1 MiB.
    public var maxLogBytes: Int = 1 << 20
    /// A connection's unread outbound buffer before its subscriptions are dropped; default 16 MiB.
    public var maxOutboundBytes: Int = 16 << 20
    /// Events are kept at least this long; default 24 h.
    public var eventRetentionMs: Int64 = 86_400_000

    /// The documented defaults (docs/configuration.md).
    public init() {}
}

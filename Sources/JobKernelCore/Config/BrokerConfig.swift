/// `[broker]`: where `async_api` units are offered (docs/promises.md §5.4).
public struct BrokerConfig: Equatable, Sendable {
    /// The broker implementation.
    public enum Kind: String, CaseIterable, Equatable, Sendable {
        /// Inside the kernel: `fetch`/`ack`/`nack`/`extend` over JSON-RPC.
        case embedded
        /// NATS JetStream at `url`.
        case nats
    }

    /// Default `embedded`.
    public var kind: Kind = .embedded
    /// The NATS server, used when `kind` is `nats`; default `nats://127.0.0.1:4222`.
    public var url: String = "nats://127.0.0.1:4222"

    /// The documented defaults (docs/configuration.md).
    public init() {}
}

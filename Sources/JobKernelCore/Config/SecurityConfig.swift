/// `[security]`: who may connect to the socket besides the kernel's own uid and root (docs/promises.md §10).
public struct SecurityConfig: Equatable, Sendable {
    /// Further uids allowed to connect; default none.
    public var allowUIDs: [UInt32] = []

    /// The documented defaults (docs/configuration.md).
    public init() {}
}

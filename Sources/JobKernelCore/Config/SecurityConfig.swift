/// `[security]`: who may connect to the socket besides the kernel's own uid and root (SPEC §10).
public struct SecurityConfig: Equatable, Sendable {
    /// Further uids allowed to connect; default none.
    public var allowUIDs: [UInt32] = []

    /// The SPEC defaults.
    public init() {}
}

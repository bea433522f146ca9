/// `[storage]`: how hard a commit tries to survive (SPEC §9).
public struct StorageConfig: Equatable, Sendable {
    /// What a committed change survives.
    public enum Durability: String, CaseIterable, Equatable, Sendable {
        /// WAL: survives a crash of the kernel process.
        case normal
        /// Also survives power loss.
        case full
    }

    /// Default `normal`.
    public var durability: Durability = .normal

    /// The SPEC defaults.
    public init() {}
}

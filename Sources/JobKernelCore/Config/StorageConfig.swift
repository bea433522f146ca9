/// `[storage]`: how hard a commit tries to survive (docs/promises.md §9).
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

    /// `keep_finished`: terminal jobs that finished longer ago than this are removed in the
    /// background (docs/promises.md §13); nil (`"forever"`) keeps them. Default 7 days.
    public var keepFinishedMs: Int64? = 7 * 86_400_000

    /// The documented defaults (docs/configuration.md).
    public init() {}
}

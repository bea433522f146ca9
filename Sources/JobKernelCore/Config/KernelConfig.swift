/// The kernel's whole configuration, one struct per TOML table (docs/promises.md §2). Pure data: build it
/// with `parse(_:)` from the tree of a config file, or start from `defaults`.
public struct KernelConfig: Equatable, Sendable {
    /// `[pipeline]`.
    public var pipeline = PipelineConfig()
    /// `[pools]`.
    public var pools = PoolsConfig()
    /// `[workflow]`.
    public var workflow = WorkflowConfig()
    /// The enabled job types by name: the `[types.*]` entries, and the built-in `command` type
    /// unless `[types.command] enabled = false`. A disabled type is not here at all.
    public var types: [String: TypeConfig] = [TypeConfig.builtinCommandName: .builtinCommand]
    /// `[[schedules]]` in the order given.
    public var schedules: [ScheduleConfig] = []
    /// `[storage]`.
    public var storage = StorageConfig()
    /// `[limits]`.
    public var limits = LimitsConfig()
    /// `[broker]`.
    public var broker = BrokerConfig()
    /// `[security]`.
    public var security = SecurityConfig()

    /// The documented defaults (docs/configuration.md): what the kernel runs with when there is no config file.
    public init() {}

    /// The documented defaults; the same as parsing an empty config.
    public static let defaults = KernelConfig()

    /// The names of the enabled types, sorted.
    public var typeNames: [String] { types.keys.sorted() }

    /// The attempts a unit of `type` gets when its job does not say.
    public func maxAttempts(for type: TypeConfig) -> Int {
        type.maxAttempts ?? pipeline.maxAttemptsDefault
    }
}

/// `[pipeline]`: how many units run, lanes, liveness, retries and cancellation (docs/promises.md §2, §8).
public struct PipelineConfig: Equatable, Sendable {
    /// Units running at once in the local pools; at least 1.
    public var maxParallelJobs: Int = 4
    /// Of `maxParallelJobs`, the slots only priority-lane units may use; `0 ..< maxParallelJobs`,
    /// so that the normal lane always keeps at least one slot.
    public var priorityLaneSlots: Int = 1
    /// A job whose priority is at least this runs in the priority lane.
    public var priorityThreshold: Int = 90
    /// How often workers report liveness; more than 0.
    public var heartbeatMs: Int64 = 5_000
    /// A running unit silent this long is presumed lost; more than `heartbeatMs`.
    public var staleAfterMs: Int64 = 30_000
    /// Attempts of a unit when neither its type nor its job says; at least 1.
    public var maxAttemptsDefault: Int = 3
    /// Retry n waits `backoffBaseMs * 2^(n-1)`, capped at `backoffMaxMs`, with jitter; 0 allowed.
    public var backoffBaseMs: Int64 = 1_000
    /// The cap of the retry wait; at least `backoffBaseMs`.
    public var backoffMaxMs: Int64 = 300_000
    /// Between SIGTERM and SIGKILL when a unit is stopped; 0 means SIGKILL at once.
    public var cancelGraceMs: Int64 = 5_000

    /// The documented defaults (docs/configuration.md).
    public init() {}
}

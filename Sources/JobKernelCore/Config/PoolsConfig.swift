/// `[pools]`: worker processes per local dispatch mode (`async_api` has no local pool).
public struct PoolsConfig: Equatable, Sendable {
    /// Processes of the `internal` pool; at least 1.
    public var internalWorkers: Int = 4
    /// Processes of the `sync_api` pool; at least 1.
    public var syncAPIWorkers: Int = 2

    /// The SPEC defaults.
    public init() {}

    /// The pool size of a dispatch mode; nil for `async_api`, whose workers are external.
    public func workers(for mode: DispatchMode) -> Int? {
        switch mode {
        case .internal: return internalWorkers
        case .syncAPI: return syncAPIWorkers
        case .asyncAPI: return nil
        }
    }
}

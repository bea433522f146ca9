/// How the units of a job type reach their workers (docs/promises.md §5).
public enum DispatchMode: String, CaseIterable, Hashable, Sendable {
    /// Local worker processes: exec handlers (5.1) or persistent workers (5.2).
    case `internal` = "internal"
    /// A local pool that POSTs batches to an HTTP endpoint (5.3).
    case syncAPI = "sync_api"
    /// Offered to external workers through the broker (5.4).
    case asyncAPI = "async_api"
}

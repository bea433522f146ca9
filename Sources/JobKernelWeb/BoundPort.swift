import Synchronization

/// The port the gateway is bound to, set once the server runs.
public final class BoundPort: Sendable {
    private let port: Mutex<Int>
    /// A port known now, or 0 until `set` is called.
    public init(_ port: Int) { self.port = Mutex(port) }
    /// The bound port.
    public var value: Int { port.withLock { $0 } }
    /// Records the port the server bound.
    public func set(_ value: Int) { port.withLock { $0 = value } }
}

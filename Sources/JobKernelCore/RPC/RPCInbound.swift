/// A decoded frame: a single entry or a batch. A batch is answered with an array of the answers
/// to its requests, or not at all when it held only notifications and responses.
public enum RPCInbound: Hashable, Sendable {
    /// A frame holding one object (or something that is not a valid batch, such as `[]`).
    case single(RPCEntry)
    /// A non-empty array: each element decoded on its own, in order.
    case batch([RPCEntry])
}

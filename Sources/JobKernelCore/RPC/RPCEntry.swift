/// One element of an inbound message: either a valid message or what to answer instead.
public enum RPCEntry: Hashable, Sendable {
    /// A well-formed request, notification or response.
    case message(RPCMessage)
    /// Not a valid message: answer `error` with `id` (null when the id could not be read).
    case invalid(id: JSON, error: RPCError)
}

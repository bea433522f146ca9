/// The kernel's peers (socket clients, the stdio client, workers' pipes) by id, and those with
/// something to flush at the end of this turn.
struct Connections {
    private var byID: [UInt64: Connection] = [:]
    private var nextID: UInt64 = 1
    private var dirty: [Connection] = []

    subscript(id: UInt64) -> Connection? { byID[id] }
    var all: Dictionary<UInt64, Connection>.Values { byID.values }

    /// An id for a new connection (never given twice by this kernel).
    mutating func newID() -> UInt64 {
        defer { nextID += 1 }
        return nextID
    }

    mutating func opened(_ conn: Connection) { byID[conn.id] = conn }

    mutating func closed(_ conn: Connection) { byID[conn.id] = nil }

    /// Queues the connection for this turn's flush, once however many messages it got.
    mutating func markDirty(_ conn: Connection) {
        guard !conn.awaitingFlush else { return }
        conn.awaitingFlush = true
        dirty.append(conn)
    }

    /// The connections queued for a flush, in the order they were queued.
    var awaitingFlush: [Connection] { dirty }

    /// Takes the connections queued for this turn's flush.
    mutating func takeDirty() -> [Connection] {
        let out = dirty
        dirty.removeAll(keepingCapacity: true)
        for conn in out { conn.awaitingFlush = false }
        return out
    }
}

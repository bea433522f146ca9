import Synchronization

/// The browser sessions of one gateway run (docs/web.md, "Security"): what a session cookie's
/// value means. It lives in this process's memory only, so a session is worth something to this
/// gateway, on this port, until it expires or the gateway stops, and to nothing else.
///
/// A session is a random value, never the token. It expires a fixed `lifetime` after it was
/// opened (no sliding: the cookie's `Max-Age` says the same). The table holds at most `capacity`
/// sessions; opening one more drops the one that would expire first.
///
/// The table also holds the one-time login code the gateway prints in its URL: it opens one
/// session, once, so that the URL a browser keeps in its history is spent.
public final class SessionTable: Sendable {
    /// How long a session lasts after it was opened.
    public let lifetime: Duration
    /// The most sessions held at once.
    public let capacity: Int

    private struct State {
        /// Session value → when it expires.
        var expiries: [String: ContinuousClock.Instant] = [:]
        /// The login code not yet used, if any.
        var loginCode: String?
    }

    private let state: Mutex<State>

    /// A table whose printed login code is `loginCode`.
    public init(lifetime: Duration = .seconds(12 * 3600), capacity: Int = 1000, loginCode: String? = AccessPolicy.makeToken()) {
        precondition(capacity > 0)
        self.lifetime = lifetime
        self.capacity = capacity
        self.state = Mutex(State(loginCode: loginCode))
    }

    /// The login code, until it is used.
    public var loginCode: String? { state.withLock { $0.loginCode } }

    /// The number of sessions held (expired ones included until they are next looked at).
    var count: Int { state.withLock { $0.expiries.count } }

    /// Opens a session: a fresh random value, valid until `now + lifetime`.
    func open(now: ContinuousClock.Instant) -> String {
        let value = AccessPolicy.makeToken()
        state.withLock { state in
            state.expiries = state.expiries.filter { $0.value > now }
            if state.expiries.count >= capacity, let first = state.expiries.min(by: { $0.value < $1.value }) {
                state.expiries[first.key] = nil
            }
            state.expiries[value] = now + lifetime
        }
        return value
    }

    /// Whether `value` is a session of this table that has not expired at `now`.
    func isValid(_ value: String, now: ContinuousClock.Instant) -> Bool {
        state.withLock { state in
            guard let expiry = state.expiries[value] else { return false }
            if expiry <= now {
                state.expiries[value] = nil
                return false
            }
            return true
        }
    }

    /// Spends the login code: a new session when `code` is the unused code, else nil.
    func redeem(loginCode code: String, now: ContinuousClock.Instant) -> String? {
        let matches = state.withLock { state -> Bool in
            guard let expected = state.loginCode, AccessPolicy.same(code, expected) else { return false }
            state.loginCode = nil
            return true
        }
        return matches ? open(now: now) : nil
    }

    /// Ends a session (sign-out).
    func close(_ value: String) {
        state.withLock { _ = $0.expiries.removeValue(forKey: value) }
    }
}

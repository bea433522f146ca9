import Synchronization

/// Caps on what token holders may hold open at once (docs/web.md, "Limits"): event streams and
/// WebSockets per token, and request-body bytes in flight across all requests.
final class GatewayLimits: Sendable {
    /// The most `/events` streams and WebSockets open at once per token.
    let maxStreams: Int
    /// The most request-body bytes being received at once, all requests together.
    let maxBodyBytesInFlight: Int

    private let streams = Mutex<[String: Int]>([:])
    private let bodyBytes = Mutex(0)

    init(maxStreams: Int, maxBodyBytesInFlight: Int) {
        self.maxStreams = maxStreams
        self.maxBodyBytesInFlight = maxBodyBytesInFlight
    }

    /// A stream slot for `key`, released when the lease is dropped; nil when all are taken.
    func openStream(for key: String) -> StreamLease? {
        let granted = streams.withLock { counts -> Bool in
            guard counts[key, default: 0] < maxStreams else { return false }
            counts[key, default: 0] += 1
            return true
        }
        return granted ? StreamLease(limits: self, key: key) : nil
    }

    fileprivate func closeStream(for key: String) {
        streams.withLock { counts in
            counts[key, default: 1] -= 1
            if counts[key] == 0 { counts[key] = nil }
        }
    }

    /// Open streams for `key`.
    func openStreams(for key: String) -> Int { streams.withLock { $0[key, default: 0] } }

    /// Reserves `bytes` of the body budget; false when they would go over it.
    func reserveBody(_ bytes: Int) -> Bool {
        bodyBytes.withLock { used in
            guard used + bytes <= maxBodyBytesInFlight else { return false }
            used += bytes
            return true
        }
    }

    /// Gives back what `reserveBody` took.
    func releaseBody(_ bytes: Int) {
        bodyBytes.withLock { $0 -= bytes }
    }
}

/// One open stream's slot; dropping the last reference gives it back, however the stream ended.
final class StreamLease: Sendable {
    private let limits: GatewayLimits
    private let key: String
    fileprivate init(limits: GatewayLimits, key: String) {
        self.limits = limits
        self.key = key
    }
    deinit { limits.closeStream(for: key) }
}

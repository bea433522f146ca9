import Prometheus
import Synchronization

/// The number of open event streams, for /metrics.
final class StreamGauge: Sendable {
    private let count = Mutex(0)
    private let gauge: Gauge
    init(gauge: Gauge) { self.gauge = gauge }
    func add(_ delta: Int) {
        let value = count.withLock { count in
            count += delta
            return count
        }
        gauge.set(Double(value))
    }
}

import JobKernelCore
import JobKernelNATS

/// async_api over NATS JetStream (SPEC §5.4, `[broker] kind = "nats"`): each ready unit is
/// leased at once and published to `jobkernel.units.<type>` with the lease object as body and the
/// lease id as `Nats-Msg-Id`; results on `jobkernel.results` settle the lease exactly as `ack` /
/// `nack` would, and are acknowledged to JetStream only after the outcome is committed. Results
/// for unknown, settled or expired leases are acknowledged and ignored, so at-least-once delivery
/// records each outcome once.
extension Kernel {
    /// A lease of a unit published to NATS lasts the type's `timeout`, else this long.
    static let natsLeaseMs: Int64 = 600_000

    /// Connects to the NATS server named by `[broker]`; throws a message that says what to do.
    public func connectNATS() throws {
        let bridge = try NATSBridge(loop: loop, url: config.broker.url)
        bridge.onResult = { [unowned self] body, ack in self.natsResult(body, ack: ack) }
        bridge.onProgress = { [unowned self] body in self.natsProgress(body) }
        nats = bridge
        typesToPump.formUnion(config.types.values.filter { $0.mode == .asyncAPI }.map(\.name))
    }

    /// Leases and publishes every ready async_api unit.
    func publishToNATS() {
        guard let nats, !shuttingDown else { return }
        guard nats.isConnected else {
            addDeadline(at: now + 1000, .natsRetry)
            return
        }
        for type in config.types.values where type.mode == .asyncAPI {
            while let head = queues.popMax(type: type.name) {
                guard let (job, unit) = (try? validReady(head)) ?? nil else { continue }
                do {
                    let (lease, json) = try grantLease(job, unit, leaseMs: type.timeoutMs ?? Kernel.natsLeaseMs, connectionID: 0)
                    do {
                        try nats.publishUnit(type: type.name, body: json.serialized(), msgID: lease.id)
                    } catch {
                        // Not offered after all: back to the queue without counting an attempt.
                        removeLease(lease.id)
                        try apply(job.id, unit: unit.index, .unitInterrupted(index: unit.index))
                        enqueueReady(active[job.id] ?? job, index: unit.index)
                        KernelMain.log("cannot publish to NATS (\(error)); retrying")
                        addDeadline(at: now + 1000, .natsRetry)
                        return
                    }
                } catch {
                    KernelMain.log("cannot lease a unit of job \(job.id): \(error)")
                }
            }
        }
    }

    private func natsResult(_ body: [UInt8], ack: @escaping () -> Void) {
        guard let msg = try? JSONParser.parse(body, maxDepth: config.limits.maxDepth),
              let id = msg["lease"]?.stringValue, let lease = leases[id], lease.connectionID == 0,
              lease.expiresAt > now else {
            ack()
            return
        }
        removeLease(id)
        let event: JobEvent
        if msg["status"]?.stringValue == "success" {
            event = .unitSucceeded(index: lease.index, result: msg["result"] ?? .null)
        } else {
            let errorValue = msg["error"] ?? "the worker reported a failure"
            let error = JobError(json: errorValue) ?? JobError(message: "the worker reported a failure")
            event = .unitFailed(index: lease.index, error: error, retryable: errorValue["retryable"]?.boolValue ?? true)
        }
        try? apply(lease.jobID, unit: lease.index, event)
        natsAcks.append(ack)
    }

    private func natsProgress(_ body: [UInt8]) {
        guard let msg = try? JSONParser.parse(body, maxDepth: config.limits.maxDepth),
              let id = msg["lease"]?.stringValue, let lease = leases[id], let job = active[lease.jobID] else { return }
        if case .object(let p)? = msg["progress"] {
            _ = try? reportProgress(job.id, current: p["current"]?.doubleValue, total: p["total"]?.doubleValue,
                                    phase: p["phase"]?.stringValue, message: p["message"]?.stringValue,
                                    item: job.itemized ? lease.index : nil)
        } else if let line = msg["log"]?.stringValue {
            let level = msg["level"]?.stringValue ?? "info"
            _ = try? appendLog(job, level: ["debug", "info", "warn", "error"].contains(level) ? level : "info", message: line)
        }
    }

    /// Acknowledges to JetStream the results whose outcome the turn just committed.
    func ackCommittedResults() {
        let acks = natsAcks
        natsAcks.removeAll()
        for ack in acks { ack() }
    }
}

import JobKernelCore
import JobKernelNATS

/// async_api over NATS JetStream (protocol/nats.md, `[broker] kind = "nats"`): each ready unit is
/// leased at once and published to `jobkernel.units.<type>` with the lease object as body and the
/// lease id as `Nats-Msg-Id`; results on `jobkernel.results` settle the lease exactly as `ack` /
/// `nack` would, and are acknowledged to JetStream only after the outcome is committed. Results
/// for unknown, settled or expired leases are acknowledged and ignored, so at-least-once delivery
/// records each outcome once.
///
/// While the server is away (protocol/nats.md, "When the server is away") ready units stay queued,
/// unleased; a unit whose publish got no answer keeps its lease and is published again under the
/// same `Nats-Msg-Id` once the server answers, never under a second lease that could run it twice.
extension Kernel {
    /// A lease of a unit published to NATS lasts the type's `timeout`, else this long.
    static let natsLeaseMs: Int64 = 600_000

    /// Connects to the NATS server named by `[broker]`; throws a message that says what to do.
    public func connectNATS() throws {
        let bridge = try NATSBridge(loop: loop, url: config.broker.url)
        bridge.onResult = { [unowned self] body, ack in self.natsResult(body, ack: ack) }
        bridge.onProgress = { [unowned self] body in self.natsProgress(body) }
        bridge.onConnectionChange = { [unowned self] health in self.natsConnectionChanged(health) }
        bridge.onReady = { [unowned self] in self.publishToNATS() }
        nats = bridge
        typesToPump.formUnion(config.types.values.filter { $0.mode == .asyncAPI }.map(\.name))
    }

    /// Publishes the units held from an unanswered publish, then leases and publishes every ready
    /// async_api unit a type's concurrency in force leaves room for (`leaseRoom`), each sent without
    /// waiting for the server's answer, while the bridge's window of unanswered units has room.
    /// Stops at a publish libnats refuses; the bridge's `onReady` (the server is back, a second
    /// passed, or answers made room in the window) calls this again.
    func publishToNATS() {
        guard let nats, !shuttingDown, nats.isConnected else { return }
        let now = self.now
        guard nats.resume(isWanted: { name in (broker.lease(named: name)?.expiresAt ?? now) > now }) else { return }
        for type in config.types.values where type.mode == .asyncAPI && !isPaused(type.name) {
            while leaseRoom(type.name) > 0, nats.hasPublishRoom, let head = queues.popMax(type: type.name) {
                guard let (job, unit) = (try? validReady(head)) ?? nil else { continue }
                do {
                    let (lease, json) = try grantLease(job, unit, leaseMs: type.timeoutMs ?? Kernel.natsLeaseMs, connectionID: 0)
                    // The server may have stored it even so: the lease stays, and the unit goes out
                    // again under it, never under a second lease a worker could also run to success.
                    if try !nats.send(type: type.name, body: json.serialized(), msgID: broker.name(lease.id)) {
                        KernelMain.log("NATS did not confirm the publish of unit \(unit.index) of job \(job.id); it is published again under the same lease")
                        return
                    }
                } catch {
                    KernelMain.log("cannot lease a unit of job \(job.id): \(error)")
                }
            }
        }
    }

    /// Logs the server going away and coming back (protocol/nats.md, "When the server is away").
    private func natsConnectionChanged(_ health: NATSBridge.Health) {
        guard let nats else { return }
        if health.connected {
            KernelMain.log("NATS broker at \(nats.url) is back after \(Double(health.lastOutageMs) / 1000) s away; publishing async_api units again")
        } else {
            KernelMain.log("NATS broker at \(nats.url) is away (disconnected); async_api units wait in the kernel until it is back")
        }
    }

    /// `stats.broker`: which broker, and for NATS whether the server is reachable.
    func brokerStats() -> JSON {
        guard let nats else { return ["kind": "embedded"] }
        let health = nats.health
        return [
            "kind": "nats",
            "connected": .bool(health.connected),
            "since": .string(Timestamp.format(health.sinceMs)),
            "disconnects": .int(health.disconnects),
            "unconfirmed_units": .int(nats.unconfirmedUnits),
        ]
    }

    /// A result `{lease, status: success|failed, result?, error?}`: settles its lease. A message
    /// that is not one is logged and acknowledged, so it is not delivered again.
    private func natsResult(_ body: [UInt8], ack: @escaping () -> Void) {
        let id: String
        let outcome: (Int) -> JobEvent
        do {
            var p = try Params(try JSONParser.parse(body, maxDepth: config.limits.maxDepth))
            id = try p.string("lease", bytes: 1...1024)
            guard let status = try p.optionalString("status", oneOf: ["success", "failed"]) else {
                throw RPCError.invalidParams("`status` is required (success or failed)", field: "status")
            }
            let result = p.optionalJSON("result") ?? .null
            let errorValue = p.optionalJSON("error") ?? "the worker reported a failure"
            guard let error = JobError(json: errorValue) else {
                throw RPCError.invalidParams("`error` must be a string or an object {message, …}", field: "error")
            }
            let retryable = errorValue["retryable"]?.boolValue ?? true
            outcome = status == "success"
                ? { .unitSucceeded(index: $0, result: result) }
                : { .unitFailed(index: $0, error: error, retryable: retryable) }
        } catch {
            KernelMain.log("ignoring a message on jobkernel.results: \(Kernel.describe(error))")
            ack()
            return
        }
        guard let lease = broker.lease(named: id), lease.connectionID == 0, lease.expiresAt > now else {
            ack()
            return
        }
        removeLease(lease.id)
        try? apply(lease.jobID, unit: lease.index, outcome(lease.index))
        natsAcks.append(ack)
    }

    /// A report `{lease, progress: {current?, total?, phase?, message?}}` or `{lease, log,
    /// level?}`, checked whole before its lease is looked up; a live lease's is applied, anything
    /// that is not such a report is logged and dropped.
    private func natsProgress(_ body: [UInt8]) {
        do {
            var p = try Params(try JSONParser.parse(body, maxDepth: config.limits.maxDepth))
            let id = try p.string("lease", bytes: 1...1024)
            var progress: (current: Double?, total: Double?, phase: String?, message: String?)?
            if let object = try p.optionalObject("progress") {
                var r = try Params(.object(object), prefix: "progress.")
                progress = (try r.optionalDouble("current", in: 0...Kernel.maxCount),
                            try r.optionalDouble("total", in: 0...Kernel.maxCount),
                            try r.optionalString("phase"), try r.optionalString("message"))
            }
            let line = try p.optionalString("log", bytes: 0...config.limits.maxLogBytes)
            let level = try p.optionalString("level", oneOf: Kernel.logLevels) ?? "info"
            guard let lease = broker.lease(named: id), let job = active[lease.jobID] else { return }
            if let progress {
                try reportProgress(job.id, current: progress.current, total: progress.total, phase: progress.phase,
                                   message: progress.message, item: job.itemized ? lease.index : nil)
            } else if let line {
                _ = try appendLog(job, level: level, message: line)
            }
        } catch {
            KernelMain.log("ignoring a message on jobkernel.progress: \(Kernel.describe(error))")
        }
    }

    /// An error as a log line shows it.
    static func describe(_ error: Error) -> String {
        (error as? RPCError)?.message ?? "\(error)"
    }

    /// Acknowledges to JetStream the results whose outcome the turn just committed.
    func ackCommittedResults() {
        let acks = natsAcks
        natsAcks.removeAll()
        for ack in acks { ack() }
    }
}

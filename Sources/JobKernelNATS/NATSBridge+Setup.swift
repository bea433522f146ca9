import CNATS
import Glibc

/// Connection, streams, consumer and subscriptions: everything `init` sets up.
extension NATSBridge {
    /// Opens the connection; the error names the URL and how to start a suitable server.
    /// Connection losses and recoveries go to `inbox` (which the connection holds until its
    /// closed callback).
    static func connect(url: String, options: Options, inbox: NATSInbox) throws -> OpaquePointer {
        var natsOptions: OpaquePointer?
        try NATSError.check(natsOptions_Create(&natsOptions), "natsOptions_Create")
        defer { natsOptions_Destroy(natsOptions) }
        try NATSError.check(natsOptions_SetURL(natsOptions, url), "NATS URL \"\(url)\"")
        _ = natsOptions_SetName(natsOptions, "jobkernel")
        _ = natsOptions_SetTimeout(natsOptions, options.connectTimeoutMs)
        // Once connected, ride out server restarts: the durable consumer picks up where it was.
        _ = natsOptions_SetMaxReconnect(natsOptions, -1)
        _ = natsOptions_SetReconnectWait(natsOptions, 500)
        // A server that stops answering (stopped, or cut off) leaves the TCP connection open:
        // only unanswered pings tell, after `pingIntervalMs * (maxPingsOut + 1)` at most.
        _ = natsOptions_SetPingInterval(natsOptions, options.pingIntervalMs)
        _ = natsOptions_SetMaxPingsOut(natsOptions, options.maxPingsOut)
        let closure = inbox.retainForSubscription()
        _ = natsOptions_SetDisconnectedCB(natsOptions, natsInboxDisconnected, closure)
        _ = natsOptions_SetReconnectedCB(natsOptions, natsInboxReconnected, closure)
        _ = natsOptions_SetClosedCB(natsOptions, natsInboxConnectionClosed, closure)
        var connection: OpaquePointer?
        let status = natsConnection_Connect(&connection, natsOptions)
        guard status == NATS_OK, let connection else {
            // A connection that never opened calls no callback, the closed one included.
            Unmanaged<NATSInbox>.fromOpaque(closure).release()
            throw NATSError(status, "connect to NATS at \(url)",
                            hint: "is a NATS server with JetStream running there (nats-server -js)?")
        }
        return connection
    }

    /// Creates or updates the units and results streams, then the kernel's results consumer.
    func setUpStreams() throws {
        // Work-queue retention: a unit is stored until one worker acks it, then deleted, and the
        // server refuses a second consumer over the same subjects, so no unit is handed to two
        // worker pools. Results likewise disappear once the kernel acks them.
        try ensureStream(name: streamName, subject: NATSBridge.unitSubjectPrefix + ">")
        try ensureStream(name: resultStreamName, subject: NATSBridge.resultSubject)
        try ensureResultConsumer()
    }

    private func ensureStream(name: String, subject: String) throws {
        let strings = CStrings()
        let subjects = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: 1)
        defer { subjects.deallocate() }
        subjects.initialize(to: strings.make(subject))

        var config = jsStreamConfig()
        jsStreamConfig_Init(&config)
        config.Name = strings.make(name)
        config.Subjects = subjects
        config.SubjectsLen = 1
        config.Retention = js_WorkQueuePolicy
        config.Storage = js_FileStorage
        config.Duplicates = options.duplicateWindowSeconds * 1_000_000_000

        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(rawValue: 0)
        var operation = "create stream \(name) on \(url)"
        var status = js_AddStream(&info, jetStream, &config, nil, &code)
        if status != NATS_OK && code == JSStreamNameExistErr {
            // Same name, other settings (e.g. a new duplicate window): bring it up to date.
            operation = "update stream \(name) on \(url)"
            status = js_UpdateStream(&info, jetStream, &config, nil, &code)
        }
        jsStreamInfo_Destroy(info)
        withExtendedLifetime(strings) {}
        if status != NATS_OK { throw NATSBridge.jetStreamError(status, operation, code) }
    }

    private func ensureResultConsumer() throws {
        let strings = CStrings()
        var config = jsConsumerConfig()
        jsConsumerConfig_Init(&config)
        config.Durable = strings.make(NATSBridge.resultConsumer)
        config.Description = strings.make("jobkernel: worker results, acked once recorded")
        // Push: libnats delivers on its threads without a fetch loop of ours. The subject is
        // per stream so two kernels on one server with different stream names never mix.
        config.DeliverSubject = strings.make("_jobkernel.\(streamName).results")
        config.DeliverPolicy = js_DeliverAll
        config.AckPolicy = js_AckExplicit
        config.AckWait = options.resultAckWaitSeconds * 1_000_000_000
        config.MaxDeliver = -1
        config.MaxAckPending = options.maxResultsInFlight

        var info: UnsafeMutablePointer<jsConsumerInfo>?
        var code = jsErrCode(rawValue: 0)
        let stream = resultStreamName
        var status = js_GetConsumerInfo(&info, jetStream, stream, NATSBridge.resultConsumer, nil, &code)
        jsConsumerInfo_Destroy(info)
        info = nil
        let operation: String
        if status == NATS_OK {
            operation = "update consumer \(stream)/\(NATSBridge.resultConsumer) on \(url)"
            status = js_UpdateConsumer(&info, jetStream, stream, &config, nil, &code)
        } else if code == JSConsumerNotFoundErr || status == NATS_NOT_FOUND {
            operation = "create consumer \(stream)/\(NATSBridge.resultConsumer) on \(url)"
            status = js_AddConsumer(&info, jetStream, stream, &config, nil, &code)
        } else {
            operation = "look up consumer \(stream)/\(NATSBridge.resultConsumer) on \(url)"
        }
        jsConsumerInfo_Destroy(info)
        withExtendedLifetime(strings) {}
        if status != NATS_OK { throw NATSBridge.jetStreamError(status, operation, code) }
    }

    /// Subscribes to results (bound to the durable consumer, manual acks) and to progress.
    func subscribe() throws {
        var subscription: OpaquePointer?
        var code = jsErrCode(rawValue: 0)
        let closure = inboxReference()
        var status = resultStreamName.withCString { stream in
            NATSBridge.resultConsumer.withCString { consumer in
                var subscribeOptions = jsSubOptions()
                jsSubOptions_Init(&subscribeOptions)
                // Binding (rather than letting libnats create the consumer) also means that
                // unsubscribing leaves the durable consumer, and its undelivered results, in place.
                subscribeOptions.Stream = stream
                subscribeOptions.Consumer = consumer
                subscribeOptions.ManualAck = true
                return js_Subscribe(&subscription, jetStream, NATSBridge.resultSubject,
                                    natsInboxReceiveResult, closure, nil, &subscribeOptions, &code)
            }
        }
        guard status == NATS_OK, let subscription else {
            Unmanaged<NATSInbox>.fromOpaque(closure).release()
            throw NATSBridge.jetStreamError(status, "subscribe to \(resultStreamName)/\(NATSBridge.resultConsumer) on \(url)", code)
        }
        resultSubscription = subscription
        try NATSError.check(natsSubscription_SetOnCompleteCB(subscription, natsInboxSubscriptionCompleted, closure),
                            "natsSubscription_SetOnCompleteCB")

        var progress: OpaquePointer?
        let progressClosure = inboxReference()
        status = natsConnection_Subscribe(&progress, connection, NATSBridge.progressSubject,
                                          natsInboxReceiveProgress, progressClosure)
        guard status == NATS_OK, let progress else {
            Unmanaged<NATSInbox>.fromOpaque(progressClosure).release()
            throw NATSError(status, "subscribe to \(NATSBridge.progressSubject) on \(url)")
        }
        progressSubscription = progress
        try NATSError.check(natsSubscription_SetOnCompleteCB(progress, natsInboxSubscriptionCompleted, progressClosure),
                            "natsSubscription_SetOnCompleteCB")
        // Core NATS drops what nobody listens to: make sure the server has our interest before
        // `init` returns, so progress published after that point is not lost.
        try NATSError.check(natsConnection_FlushTimeout(connection, options.requestTimeoutMs), "flush subscriptions to \(url)")
    }

    /// A JetStream failure, with a hint when the cause is most likely a server without JetStream.
    static func jetStreamError(_ status: natsStatus, _ operation: String, _ code: jsErrCode) -> NATSError {
        let noJetStream = status == NATS_NO_RESPONDERS || code == JSNotEnabledErr || code == JSNotEnabledForAccountErr
        return NATSError(status, operation, jetStreamCode: code,
                         hint: noJetStream ? "JetStream is not enabled on that server; start it with nats-server -js" : nil)
    }
}

/// C strings for the `const char *` fields of libnats configs; freed with the object.
final class CStrings {
    private var pointers: [UnsafeMutablePointer<CChar>] = []

    /// A copy of `string` that lives as long as `self`.
    func make(_ string: String) -> UnsafePointer<CChar> {
        let copy = strdup(string)!
        pointers.append(copy)
        return UnsafePointer(copy)
    }

    deinit {
        for pointer in pointers { free(pointer) }
    }
}

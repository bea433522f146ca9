import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JobKernelCore

/// The sync_api pool's worker (docs/promises.md §5.3): the kernel's own binary in a worker role. It speaks
/// the worker protocol on stdin/stdout; each `run` carries one batch, which it POSTs to the
/// type's endpoint, answering with per-item results. Connection errors, timeouts and 5xx are
/// retryable failures; 4xx fail the batch's items for good. `cancel` aborts the request in flight.
///
/// `@unchecked Sendable`: URLSession's completion handlers run on its own queue and share this
/// object with the reading thread; its one mutable member, `inFlight`, is touched only under
/// `lock`, and `session` is immutable.
public final class SyncAPIWorker: @unchecked Sendable {
    private let lock = NSLock()
    private var inFlight: [String: (task: URLSessionDataTask, requestID: JSON)] = [:]
    private let session: URLSession

    public init() {
        let config = URLSessionConfiguration.ephemeral
        config.httpMaximumConnectionsPerHost = 4
        session = URLSession(configuration: config)
    }

    /// Serves until stdin closes.
    public func run() -> Never {
        while let line = readLine(strippingNewline: true) {
            guard !line.isEmpty else { continue }
            switch RPCDecoder.decode(Array(line.utf8)) {
            case .single(.message(.request(let id, "run", let params))):
                start(id: id, params: params ?? [:])
            case .single(.message(.notification("cancel", let params))):
                cancel(jobID: params?["job_id"]?.stringValue)
            case .single(.message(.request(let id, let method, _))):
                reply(RPCEncoder.error(id: id, .methodNotFound(method)))
            default:
                break
            }
        }
        exit(0)
    }

    private func reply(_ message: JSON) {
        let bytes = message.serialized() + [0x0A]
        lock.lock()
        FileHandle.standardOutput.write(Data(bytes))
        lock.unlock()
    }

    private func fail(_ id: JSON, _ message: String, retryable: Bool) {
        reply(RPCEncoder.error(id: id, RPCError(code: -32000, message: message, data: [
            "reason": "sync_api_failed", "retryable": .bool(retryable),
        ])))
    }

    private func start(id: JSON, params: JSON) {
        let job = params["job"] ?? .null
        guard let endpoint = params["endpoint"]?.stringValue, let url = URL(string: endpoint),
              let jobID = job["id"]?.stringValue else {
            fail(id, "run needs `job` and `endpoint`", retryable: false)
            return
        }
        let body: JSON = [
            "job_id": .string(jobID), "type": job["type"] ?? .null, "attempt": job["attempt"] ?? 0,
            "payload": job["payload"] ?? [:], "items": params["items"] ?? .null,
        ]
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.serialized())
        request.timeoutInterval = params["http_timeout_s"]?.doubleValue ?? 30
        let task = session.dataTask(with: request) { [self] data, response, error in
            lock.lock()
            let wasInFlight = inFlight.removeValue(forKey: jobID) != nil
            lock.unlock()
            if let error = error as? URLError, error.code == .cancelled || !wasInFlight {
                reply(RPCEncoder.error(id: id, .cancelled))
                return
            }
            if let error {
                fail(id, "POST \(endpoint) failed: \(error.localizedDescription)", retryable: true)
                return
            }
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            let text = data.map { String(decoding: $0, as: UTF8.self) } ?? ""
            switch status {
            case 200..<300:
                guard let value = try? JSONParser.parse(Array(data ?? Data()), maxDepth: 10_000) else {
                    fail(id, "POST \(endpoint) answered \(status) with a body that is not JSON", retryable: false)
                    return
                }
                if case .array(let rows)? = value["results"] {
                    reply(RPCEncoder.response(id: id, result: ["items": .array(rows)]))
                } else {
                    reply(RPCEncoder.response(id: id, result: ["result": value["result"] ?? .null]))
                }
            case 400..<500:
                fail(id, "POST \(endpoint) answered \(status): \(text.prefix(500))", retryable: false)
            default:
                fail(id, "POST \(endpoint) answered \(status): \(text.prefix(500))", retryable: true)
            }
        }
        lock.lock()
        inFlight[jobID] = (task, id)
        lock.unlock()
        task.resume()
    }

    private func cancel(jobID: String?) {
        guard let jobID else { return }
        lock.lock()
        let entry = inFlight.removeValue(forKey: jobID)
        lock.unlock()
        if let entry {
            entry.task.cancel()
        }
    }
}

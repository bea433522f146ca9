// Enqueues a `command` job, follows it to the end, and prints what happened.
//
//   swift run --package-path examples/swift-client swift-client-example [SOCKET]
//
// The socket defaults to $JOBKERNEL_SOCKET; exits 0 only when the job ends in `success`.
import Glibc
import JobKernelClient
import JobKernelCore

let socket = CommandLine.arguments.dropFirst().first
    ?? getenv("JOBKERNEL_SOCKET").map { String(cString: $0) }
    ?? "\(String(cString: getenv("HOME")))/.local/state/jobkernel/kernel.sock"

do {
    let kernel = try KernelClient(socketPath: socket)
    _ = try kernel.initialize(name: "swift-client-example", version: "1")
    let enqueued = try kernel.enqueue(
        type: "command",
        payload: ["argv": ["sh", "-c", #"sleep 0.5; echo working; echo '{"progress":{"current":1,"total":1}}'; echo '{"result":{"answer":42}}'"#]])
    guard let id = enqueued["job"]?["id"]?.stringValue else {
        fputs("no job id in \(enqueued)\n", stderr)
        exit(1)
    }
    print("enqueued job \(id)")
    let job = try kernel.waitForJob(id: id, follow: true) { event in
        switch event.kind {
        case "job.log": print("  log: \(event.data["message"]?.stringValue ?? "")")
        case "job.status": print("  status: \(event.data["to"]?.stringValue ?? "?")")
        case "job.progress": print("  progress: \(event.data["progress"]?["percent"]?.compactString ?? "?")%")
        default: break
        }
    }
    let status = job["status"]?.stringValue ?? "?"
    print("job \(id) ended \(status) with result \(job["result"]?.compactString ?? "null")")
    exit(status == "success" && job["result"]?["answer"] == 42 ? 0 : 1)
} catch {
    fputs("swift-client-example: \(error)\n", stderr)
    exit(error is ClientError ? 3 : 1)
}

import CLibUV
import Glibc

/// Reads a regular file or character device (`serve --stdio < requests.jsonl`) with `uv_fs_read`.
///
/// Such descriptors cannot be polled (epoll rejects them; libuv 1.44 aborts on a pipe handle
/// over one), so reads run one at a time in libuv's thread pool into a buffer of our own —
/// never the loop's shared read buffer, which the loop thread may be using meanwhile.
final class FileReader {
    private static let bufferSize = 64 * 1024

    let loop: EventLoop
    let fd: Int32
    private let buffer: UnsafeMutableRawPointer
    private let request: UnsafeMutablePointer<uv_fs_t>
    private var inFlight = false
    private var wantsData = false
    private var closed = false
    private var atEOF = false
    /// Bytes read while paused, delivered on the next `start()`.
    private var held = 0

    var onRead: ((UnsafeRawBufferPointer) -> Void)?
    var onEOF: (() -> Void)?
    var onError: ((UVError) -> Void)?

    init(loop: EventLoop, fd: Int32) {
        self.loop = loop
        self.fd = fd
        buffer = UnsafeMutableRawPointer.allocate(byteCount: FileReader.bufferSize, alignment: 16)
        request = UnsafeMutablePointer<uv_fs_t>.allocate(capacity: 1)
    }

    deinit {
        buffer.deallocate()
        request.deallocate()
    }

    func start() {
        guard !closed, !wantsData else { return }
        wantsData = true
        if held > 0 {
            // Deliver on a later turn: onRead must not run inside startReading().
            loop.deferred { [self] in
                guard wantsData, !closed, held > 0 else { return }
                let count = held
                held = 0
                deliver(count)
            }
        } else {
            issue()
        }
    }

    func stop() { wantsData = false }

    func close() {
        closed = true
        wantsData = false
        onRead = nil
        onEOF = nil
        onError = nil
        // An in-flight read keeps `self` (and so the buffer) alive until it completes.
    }

    private func issue() {
        guard wantsData, !closed, !atEOF, !inFlight else { return }
        inFlight = true
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        var buf = uv_buf_init(buffer.assumingMemoryBound(to: CChar.self), UInt32(FileReader.bufferSize))
        let status = uv_fs_read(loop.uv, request, fd, &buf, 1, -1) { request in
            guard let request, let data = request.pointee.data else { return }
            let reader = Unmanaged<FileReader>.fromOpaque(data).takeRetainedValue()
            let result = request.pointee.result
            uv_fs_req_cleanup(request)
            reader.inFlight = false
            reader.complete(result)
        }
        if status < 0 {
            inFlight = false
            Unmanaged<FileReader>.fromOpaque(request.pointee.data!).release()
            onError?(UVError(status, "read"))
        }
    }

    private func complete(_ result: Int) {
        guard !closed else { return }
        if result > 0 {
            if wantsData {
                deliver(result)
            } else {
                held = result
            }
        } else if result == 0 {
            atEOF = true
            wantsData = false
            onEOF?()
        } else {
            onError?(UVError(Int32(result), "read"))
        }
    }

    private func deliver(_ count: Int) {
        onRead?(UnsafeRawBufferPointer(start: buffer, count: count))
        issue()
    }
}

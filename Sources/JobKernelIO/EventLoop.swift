import CLibUV
import Glibc

/// A libuv loop of its own (never the default loop), driven from one thread.
///
/// Every handle created on it keeps the loop object alive until the handle's close callback,
/// so `uv_loop_t` outlives all of its handles.
public final class EventLoop {
    /// Size of the read buffer shared by all streams of this loop.
    static let readBufferSize = 64 * 1024

    let uv: UnsafeMutablePointer<uv_loop_t>
    /// One read buffer for every stream on the loop: a read callback consumes it before libuv
    /// allocates the next one, and only the loop's thread touches it.
    let readBuffer: UnsafeMutableRawPointer
    /// True once `close()` has released the libuv loop.
    public private(set) var isClosed = false

    /// Creates and initialises a fresh loop; also ignores SIGPIPE for the process.
    public init() throws(UVError) {
        EventLoop.ignoreSIGPIPE()
        let loop = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
        let status = uv_loop_init(loop)
        if status < 0 {
            loop.deallocate()
            throw UVError(status, "uv_loop_init")
        }
        uv = loop
        readBuffer = UnsafeMutableRawPointer.allocate(byteCount: EventLoop.readBufferSize, alignment: 16)
        uv.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        // Handles retain the loop, so none is open here; only the libuv loop itself remains.
        if !isClosed { close() }
    }

    /// Writing to a closed peer must return EPIPE rather than kill the process.
    public static func ignoreSIGPIPE() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Runs callbacks until `stop()` is called or nothing keeps the loop alive. Not re-entrant.
    public func run() {
        precondition(!isClosed, "run() on a closed EventLoop")
        uv_run(uv, UV_RUN_DEFAULT)
    }

    /// Runs one turn of the loop, waiting for events only if `wait` is true; returns true while handles remain active.
    @discardableResult
    public func runOnce(wait: Bool = true) -> Bool {
        precondition(!isClosed, "runOnce() on a closed EventLoop")
        return uv_run(uv, wait ? UV_RUN_ONCE : UV_RUN_NOWAIT) != 0
    }

    /// Makes `run()` return after the current loop turn.
    public func stop() {
        if !isClosed { uv_stop(uv) }
    }

    /// The loop's cached time in milliseconds (updated once per turn).
    public var nowMs: UInt64 { uv_now(uv) }

    /// Refreshes the cached `nowMs` (use before arming a timer after long synchronous work).
    public func updateTime() { uv_update_time(uv) }

    /// A monotonic clock in nanoseconds, not cached.
    public var hrtimeNs: UInt64 { uv_hrtime() }

    /// Closes every remaining handle, runs the loop until their close callbacks ran, and frees the loop. Idempotent; call it after `run()` returned, never from a callback.
    public func close() {
        if isClosed { return }
        uv_walk(uv, { handle, _ in
            guard let handle, uv_is_closing(handle) == 0 else { return }
            if let data = handle.pointee.data {
                Unmanaged<LoopHandle>.fromOpaque(data).takeUnretainedValue().close()
            } else {
                uv_close(handle, nil)
            }
        }, nil)
        // Pending requests (writes cancelled by close, file reads in the thread pool) complete here.
        var status = uv_loop_close(uv)
        var turns = 0
        while status == UV_EBUSY.rawValue && turns < 100 {
            uv_run(uv, UV_RUN_DEFAULT)
            turns += 1
            status = uv_loop_close(uv)
        }
        isClosed = true
        readBuffer.deallocate()
        // If something is still busy after that many turns, leaking the loop beats freeing memory in use.
        if status == 0 { uv.deallocate() }
    }
}

extension EventLoop {
    /// Runs `body` on a later loop turn (a one-shot zero timer); for rare paths that must not call back re-entrantly.
    func deferred(_ body: @escaping () -> Void) {
        let timer = LoopTimer(loop: self)
        timer.start(afterMs: 0) {
            timer.close()
            body()
        }
    }
}

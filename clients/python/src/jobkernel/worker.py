"""Workers.

* :func:`serve` — a persistent worker (docs/promises.md §5.2): JSON-RPC (NDJSON) on stdin/stdout, one ``run``
  at a time, ``cancel`` notifications, ``heartbeat`` notifications while a handler runs, and
  ``progress``/``log``/``enqueue``/``settings.get`` calls back to the kernel on the same channel.
* :class:`PullWorker` — an external worker for ``async_api`` types over the embedded broker
  (docs/promises.md §5.4): long-poll ``fetch``, automatic ``extend``, ``ack``/``nack``.

Handlers receive one argument, a :class:`Run` (persistent worker) or :class:`Task` (pull
worker), and return the unit's result. Raise :class:`PermanentError` to fail without retry; any
other exception fails the unit retryably. Cancellation is cooperative: check
``run.cancelled`` / call ``run.check_cancelled()`` / ``run.sleep()``; ``progress()`` and
``log()`` raise :class:`Cancelled` once the unit is cancelled.
"""

import ctypes
import io
import itertools
import json
import os
import sys
import threading
import time
import traceback
from typing import Any, BinaryIO, Callable, Dict, List, Optional, Sequence, Union

from . import _framing
from .errors import ConnectionLost, InvalidState, JobkernelError, LeaseExpired, NoKernel, error_from_response

__all__ = [
    "serve",
    "WorkerServer",
    "Run",
    "Items",
    "PullWorker",
    "Task",
    "PermanentError",
    "Cancelled",
    "progress",
    "log",
    "current_run",
]

HANDLER_ERROR = -32000
CANCELLED = -32800


class PermanentError(Exception):
    """Raise from a handler to fail the unit without retry (``data.retryable: false``)."""

    def __init__(self, message: str = "", data: Optional[Dict[str, Any]] = None):
        super().__init__(message)
        self.data = data or {}


class Cancelled(Exception):
    """The unit in hand was cancelled (or its lease lost); the handler should stop."""


class Items(list):
    """Return ``Items([{index, status, result?, error?}, ...])`` from a handler of a batch
    ``run`` to answer ``{"items": [...]}`` instead of ``{"result": ...}``."""


def _error_for(exc: BaseException) -> Dict[str, Any]:
    retryable = not isinstance(exc, PermanentError)
    message = str(exc) or type(exc).__name__
    data = {"reason": "handler_error", "retryable": retryable, "exception": type(exc).__name__}  # type: Dict[str, Any]
    if isinstance(exc, PermanentError) and exc.data:
        data.update(exc.data)
        data["retryable"] = False
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    data["traceback"] = "".join(tb)[-4000:]
    return {"code": HANDLER_ERROR, "message": message, "data": data}


# ---------------------------------------------------------------------------------------------
# Persistent worker (docs/promises.md §5.2)


_current = threading.local()


def current_run() -> "Run":
    """The :class:`Run` in hand (in the handler's thread)."""
    run = getattr(_current, "run", None)
    if run is None:
        raise RuntimeError("no run in hand (call this from a handler)")
    return run


def progress(current: Optional[float] = None, total: Any = None, phase: Optional[str] = None, message: Optional[str] = None, item: Optional[int] = None) -> Dict[str, Any]:
    """Reports the current run's progress to the kernel."""
    return current_run().progress(current, total, phase, message, item)


def log(message: str, level: str = "info") -> Dict[str, Any]:
    """Appends a line to the current run's job log."""
    return current_run().log(message, level)


class Run(object):
    """One ``run`` request: ``job``, ``item`` (``{index, value}`` or None), ``items`` (batch or None)."""

    def __init__(self, server: "WorkerServer", request_id: Any, params: Dict[str, Any]):
        self.server = server
        self.request_id = request_id
        self.job = params.get("job") or {}  # type: Dict[str, Any]
        self.item = params.get("item")  # type: Optional[Dict[str, Any]]
        self.items = params.get("items")  # type: Optional[List[Dict[str, Any]]]
        self.job_id = str(self.job.get("id"))
        self.cancel_event = threading.Event()
        self.thread = None  # type: Optional[threading.Thread]

    @property
    def payload(self) -> Any:
        return self.job.get("payload")

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled("job %s cancelled" % self.job_id)

    def sleep(self, seconds: float) -> None:
        """Sleeps, but raises :class:`Cancelled` as soon as the run is cancelled."""
        if self.cancel_event.wait(seconds):
            raise Cancelled("job %s cancelled" % self.job_id)

    def call(self, method: str, **params: Any) -> Any:
        """Calls the kernel over the worker's channel (``progress``, ``log``, ``enqueue``,
        ``settings.get``)."""
        return self.server.call(method, params)

    def progress(self, current: Optional[float] = None, total: Any = None, phase: Optional[str] = None, message: Optional[str] = None, item: Optional[int] = None) -> Dict[str, Any]:
        self.check_cancelled()
        params = {"id": self.job_id}  # type: Dict[str, Any]
        for k, v in (("current", current), ("total", total), ("phase", phase), ("message", message), ("item", item)):
            if v is not None:
                params[k] = v
        try:
            return self.server.call("progress", params)
        except InvalidState:
            if self.cancelled:
                raise Cancelled("job %s cancelled" % self.job_id)
            raise

    def log(self, message: str, level: str = "info") -> Dict[str, Any]:
        self.check_cancelled()
        return self.server.call("log", {"id": self.job_id, "message": message, "level": level})

    def enqueue(self, type: str, payload: Any = None, **params: Any) -> Dict[str, Any]:
        """Enqueues a job; its parent defaults to the job in hand (kernel side)."""
        params["type"] = type
        if payload is not None:
            params["payload"] = payload
        return self.server.call("enqueue", params)

    def settings_get(self, key: Optional[str] = None) -> Dict[str, Any]:
        return self.server.call("settings.get", {"key": key} if key else {})


class WorkerServer(object):
    """The persistent-worker loop behind :func:`serve` (usable directly with any streams)."""

    def __init__(
        self,
        handler: Callable[[Run], Any],
        rfile: BinaryIO,
        wfile: BinaryIO,
        heartbeat: float = 2.0,
        cancel_grace: float = 1.0,
        call_timeout: Optional[float] = 30.0,
    ):
        self.handler = handler
        self.rfile = rfile
        self.wfile = wfile
        self.heartbeat = heartbeat
        self.cancel_grace = cancel_grace
        self.call_timeout = call_timeout
        self._wlock = threading.Lock()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending = {}  # type: Dict[int, List[Any]]
        self.current = None  # type: Optional[Run]
        self._last_sent = time.monotonic()
        self._stop = threading.Event()
        self.closed = False

    # -- channel

    def send(self, msg: Dict[str, Any]) -> None:
        data = _framing.encode(msg, _framing.NDJSON)
        with self._wlock:
            if self.closed:
                raise ConnectionLost("worker channel closed")
            try:
                self.wfile.write(data)
                self.wfile.flush()
            except (OSError, ValueError) as e:
                raise ConnectionLost("worker channel closed: %s" % e)
            self._last_sent = time.monotonic()

    def call(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        rid = next(self._ids)
        slot = [threading.Event(), None, None]  # type: List[Any]
        with self._lock:
            if self.closed:
                raise ConnectionLost("worker channel closed")
            self._pending[rid] = slot
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}  # type: Dict[str, Any]
        if params is not None:
            msg["params"] = params
        try:
            self.send(msg)
        except BaseException:
            with self._lock:
                self._pending.pop(rid, None)
            raise
        if not slot[0].wait(self.call_timeout):
            with self._lock:
                self._pending.pop(rid, None)
            raise TimeoutError("%s: no answer from the kernel" % method)
        if slot[2] is not None:
            raise slot[2]
        return slot[1]

    def notify(self, method: str, params: Dict[str, Any]) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def _reply(self, rid: Any, result: Any = None, error: Optional[Dict[str, Any]] = None) -> None:
        msg = {"jsonrpc": "2.0", "id": rid}  # type: Dict[str, Any]
        if error is not None:
            msg["error"] = error
        else:
            msg["result"] = result
        try:
            self.send(msg)
        except ConnectionLost:
            pass

    # -- loop

    def serve_forever(self) -> None:
        hb = threading.Thread(target=self._heartbeat_loop, name="jobkernel-heartbeat", daemon=True)
        hb.start()
        try:
            while True:
                frame = _framing.read_frame(self.rfile, None)
                if frame is None:
                    break
                try:
                    msg = json.loads(frame.decode("utf-8"))
                except ValueError:
                    self._reply(None, error={"code": -32700, "message": "parse error", "data": {"reason": "parse_error"}})
                    continue
                for m in msg if isinstance(msg, list) else [msg]:
                    self._dispatch(m)
        finally:
            self._stop.set()
            with self._lock:
                self.closed = True
                pendings = list(self._pending.values())
                self._pending.clear()
            for slot in pendings:
                slot[2] = ConnectionLost("worker channel closed")
                slot[0].set()
            run = self.current
            if run is not None:
                run.cancel_event.set()
                if run.thread is not None:
                    run.thread.join(self.cancel_grace)

    def _dispatch(self, m: Any) -> None:
        if not isinstance(m, dict):
            self._reply(None, error={"code": -32600, "message": "invalid request", "data": {"reason": "invalid_request"}})
            return
        method = m.get("method")
        if method is None:  # a response to one of our calls
            rid = m.get("id")
            with self._lock:
                slot = self._pending.pop(rid, None)
            if slot is not None:
                if "error" in m:
                    slot[2] = error_from_response(m["error"])
                else:
                    slot[1] = m.get("result")
                slot[0].set()
            return
        params = m.get("params") or {}
        is_request = "id" in m
        if method == "run" and is_request:
            self._start_run(m["id"], params if isinstance(params, dict) else {})
        elif method == "cancel":
            run = self.current
            if run is not None and (params.get("job_id") is None or str(params.get("job_id")) == run.job_id):
                self._cancel(run)
            if is_request:
                self._reply(m["id"], True)
        elif method == "shutdown" and is_request:
            self._reply(m["id"], True)
        elif is_request:
            self._reply(m["id"], error={"code": -32601, "message": "method not found: %s" % method, "data": {"reason": "method_not_found"}})

    def _start_run(self, rid: Any, params: Dict[str, Any]) -> None:
        if self.current is not None:
            self._reply(rid, error={"code": -32007, "message": "worker busy: one run at a time", "data": {"reason": "unavailable", "retryable": True}})
            return
        run = Run(self, rid, params)
        self.current = run
        run.thread = threading.Thread(target=self._run, args=(run,), name="jobkernel-run-%s" % run.job_id, daemon=True)
        run.thread.start()

    def _run(self, run: Run) -> None:
        _current.run = run
        answer = None  # type: Optional[Dict[str, Any]]
        try:
            try:
                value = self.handler(run)
                answer = {"result": {"items": list(value)} if isinstance(value, Items) else {"result": value}}
            except Cancelled:
                answer = None
            except BaseException as e:  # noqa: B902 - a handler's failure is the unit's failure
                answer = {"error": _error_for(e)}
            if run.cancelled:
                answer = {"error": {"code": CANCELLED, "message": "cancelled", "data": {"reason": "cancelled"}}}
            elif answer is None:
                answer = {"error": {"code": CANCELLED, "message": "cancelled", "data": {"reason": "cancelled"}}}
        finally:
            _current.run = None
            self.current = None
            if answer is not None:
                self._reply(run.request_id, answer.get("result"), answer.get("error"))

    def _cancel(self, run: Run) -> None:
        run.cancel_event.set()
        if self.cancel_grace is None or run.thread is None:
            return

        def interrupt() -> None:
            # A handler that ignores the flag gets Cancelled raised in its thread (between
            # bytecodes) after the grace period.
            if self.current is run and run.thread is not None and run.thread.is_alive() and run.thread.ident is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(run.thread.ident), ctypes.py_object(Cancelled))

        t = threading.Timer(self.cancel_grace, interrupt)
        t.daemon = True
        t.start()

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(min(self.heartbeat, 0.5) if self.heartbeat > 0 else 0.5):
            run = self.current
            if run is None or self.heartbeat <= 0:
                continue
            if time.monotonic() - self._last_sent >= self.heartbeat:
                try:
                    self.notify("heartbeat", {"job_id": run.job_id})
                except ConnectionLost:
                    return


def serve(
    handler: Callable[[Run], Any],
    *,
    heartbeat: Optional[float] = None,
    cancel_grace: float = 1.0,
    stdin: Optional[BinaryIO] = None,
    stdout: Optional[BinaryIO] = None,
) -> None:
    """Runs a persistent worker on stdin/stdout until stdin closes.

    ``handler(run)`` returns the unit's result (answered as ``{"result": value}``; return
    :class:`Items` for a batch). Exceptions become JSON-RPC errors (``data.retryable`` false for
    :class:`PermanentError`). While a handler runs, ``heartbeat`` notifications go out every
    ``heartbeat`` seconds of silence (default ``$JOBKERNEL_HEARTBEAT_S`` or 2). The process's
    real stdout is reserved for the protocol: ``print()`` output goes to stderr (the unit's log).
    """
    if heartbeat is None:
        try:
            heartbeat = float(os.environ.get("JOBKERNEL_HEARTBEAT_S", "2"))
        except ValueError:
            heartbeat = 2.0
    if stdin is None:
        stdin = sys.stdin.buffer
    if stdout is None:
        # Keep a private handle on the real stdout and point fd 1 (and sys.stdout) at stderr, so
        # stray prints, from this process or its children, cannot corrupt the protocol.
        proto_fd = os.dup(1)
        os.dup2(2, 1)
        stdout = io.open(proto_fd, "wb", buffering=0)
        sys.stdout = sys.stderr
    server = WorkerServer(handler, stdin, stdout, heartbeat=heartbeat, cancel_grace=cancel_grace)
    server.serve_forever()


# ---------------------------------------------------------------------------------------------
# Pull worker (docs/promises.md §5.4, embedded broker)


class Task(object):
    """One leased unit: ``lease``, ``job``, ``item``, ``attempt``, ``expires_at``."""

    def __init__(self, worker: "PullWorker", lease: Dict[str, Any]):
        self.worker = worker
        self.client = worker.client
        self.lease = lease["lease"]  # type: str
        self.job = lease["job"]  # type: Dict[str, Any]
        self.item = lease.get("item")  # type: Optional[Dict[str, Any]]
        self.attempt = lease.get("attempt")
        self.expires_at = lease.get("expires_at")
        self.job_id = str(self.job["id"])
        self.cancel_event = threading.Event()

    @property
    def payload(self) -> Any:
        return self.job.get("payload")

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled("job %s cancelled or lease lost" % self.job_id)

    def sleep(self, seconds: float) -> None:
        if self.cancel_event.wait(seconds):
            raise Cancelled("job %s cancelled or lease lost" % self.job_id)

    def progress(self, current: Optional[float] = None, total: Any = None, phase: Optional[str] = None, message: Optional[str] = None, item: Optional[int] = None) -> Dict[str, Any]:
        self.check_cancelled()
        if item is None and self.item is not None:
            item = self.item.get("index")
        params = {"id": self.job_id}  # type: Dict[str, Any]
        for k, v in (("current", current), ("total", total), ("phase", phase), ("message", message), ("item", item)):
            if v is not None:
                params[k] = v
        try:
            return self.client.call("progress", params)
        except InvalidState:
            self.cancel_event.set()
            raise Cancelled("job %s is no longer running" % self.job_id)

    def log(self, message: str, level: str = "info") -> Dict[str, Any]:
        self.check_cancelled()
        try:
            return self.client.log(self.job_id, message, level)
        except InvalidState:
            self.cancel_event.set()
            raise Cancelled("job %s is no longer running" % self.job_id)


class PullWorker(object):
    """Serves ``async_api`` types: ``fetch`` (long-poll) → ``handler(task)`` → ``ack``/``nack``.

    While the handler runs, the lease is extended every ``extend_every`` seconds (default a third
    of ``lease_s``). An ``extend`` answered ``LeaseExpired`` (the job was cancelled, or the lease
    lost) sets ``task.cancelled``; the handler should stop, and nothing is acked. ``PermanentError``
    nacks with ``retryable: false``; any other exception nacks retryably.

    ``run()`` loops until :meth:`stop` (or ``max_units`` units are handled, or ``idle_timeout``
    seconds pass without work). ``concurrency`` > 1 runs that many fetch loops in threads.
    """

    def __init__(
        self,
        client: Any,
        types: Union[str, Sequence[str]],
        handler: Callable[[Task], Any],
        *,
        lease_s: float = 30.0,
        wait_s: float = 5.0,
        extend_every: Optional[float] = None,
        concurrency: int = 1,
        on_error: Optional[Callable[[Task, BaseException], None]] = None,
    ):
        self.client = client
        self.types = [types] if isinstance(types, str) else list(types)
        self.handler = handler
        self.lease_s = lease_s
        self.wait_s = wait_s
        self.extend_every = extend_every if extend_every is not None else max(0.05, lease_s / 3.0)
        self.concurrency = concurrency
        self.on_error = on_error
        self._stop = threading.Event()
        self._count_lock = threading.Lock()
        self.handled = 0
        self.acked = 0
        self.nacked = 0
        self.lost = 0  # units whose lease was lost / job cancelled

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, max_units: Optional[int] = None, idle_timeout: Optional[float] = None) -> int:
        """Runs the loop(s) in the calling thread (plus ``concurrency - 1`` threads); returns the
        number of units handled."""
        if self.concurrency <= 1:
            self._loop(max_units, idle_timeout)
        else:
            threads = [threading.Thread(target=self._loop, args=(max_units, idle_timeout), daemon=True) for _ in range(self.concurrency)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        return self.handled

    def start(self, max_units: Optional[int] = None, idle_timeout: Optional[float] = None) -> threading.Thread:
        """Runs :meth:`run` in a background thread and returns it."""
        t = threading.Thread(target=self.run, args=(max_units, idle_timeout), name="jobkernel-pull-worker", daemon=True)
        t.start()
        return t

    def _claim(self, max_units: Optional[int]) -> bool:
        with self._count_lock:
            if max_units is not None and self.handled >= max_units:
                return False
            self.handled += 1
            return True

    def _loop(self, max_units: Optional[int], idle_timeout: Optional[float]) -> None:
        idle_since = time.monotonic()
        backoff = 0.1
        while not self._stop.is_set():
            with self._count_lock:
                if max_units is not None and self.handled >= max_units:
                    return
            if idle_timeout is not None and time.monotonic() - idle_since > idle_timeout:
                return
            wait_s = self.wait_s
            if idle_timeout is not None:
                wait_s = max(0.0, min(wait_s, idle_timeout - (time.monotonic() - idle_since)))
            try:
                res = self.client.fetch(self.types, max=1, wait_s=wait_s, lease_s=self.lease_s)
                backoff = 0.1
            except (ConnectionLost, NoKernel, TimeoutError):
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, 5.0)
                continue
            leases = res.get("leases") or []
            for lease in leases:
                if not self._claim(None):
                    break
                self._handle(Task(self, lease))
                idle_since = time.monotonic()

    def _extend_loop(self, task: Task, done: threading.Event) -> None:
        while not done.wait(self.extend_every):
            try:
                self.client.extend(task.lease, self.lease_s)
            except LeaseExpired:
                task.cancel_event.set()
                return
            except (ConnectionLost, TimeoutError, JobkernelError):
                # The lease dies with its connection; the unit is put back by the kernel.
                task.cancel_event.set()
                return

    def _handle(self, task: Task) -> None:
        done = threading.Event()
        ext = threading.Thread(target=self._extend_loop, args=(task, done), name="jobkernel-extend", daemon=True)
        ext.start()
        try:
            try:
                result = self.handler(task)
                error = None  # type: Optional[BaseException]
            except BaseException as e:  # noqa: B902
                result, error = None, e
        finally:
            done.set()
            ext.join()
        try:
            if task.cancelled or isinstance(error, Cancelled):
                self.lost += 1
                return
            if error is None:
                self.client.ack(task.lease, result)
                self.acked += 1
                return
            if self.on_error is not None:
                try:
                    self.on_error(task, error)
                except Exception:
                    pass
            retryable = not isinstance(error, PermanentError)
            err = {"message": str(error) or type(error).__name__, "exception": type(error).__name__}  # type: Dict[str, Any]
            if isinstance(error, PermanentError) and error.data:
                err["data"] = error.data
            self.client.nack(task.lease, err, retryable=retryable)
            self.nacked += 1
        except LeaseExpired:
            # Cancelled (or expired) meanwhile: the kernel has already settled the unit.
            task.cancel_event.set()
            self.lost += 1

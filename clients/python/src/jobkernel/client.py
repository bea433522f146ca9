"""The synchronous client: one reader thread per connection matches responses by id and routes
notifications to subscriptions; any number of threads may call at once."""

import collections
import datetime
import itertools
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from . import _framing
from .errors import ConnectionLost, CursorExpired, JobFailed, JobkernelError, NoKernel, error_from_response

__all__ = [
    "Client",
    "Job",
    "Subscription",
    "Event",
    "TERMINAL_STATUSES",
    "default_socket_path",
    "default_binary",
]

TERMINAL_STATUSES = frozenset(["success", "partial_success", "failed", "cancelled", "skipped"])


class _Unset(object):
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET = _Unset()
_DEFAULT = _Unset()


def default_socket_path() -> str:
    """``$JOBKERNEL_SOCKET``, else ``$JOBKERNEL_HOME/kernel.sock``, else
    ``~/.local/state/jobkernel/kernel.sock``."""
    env = os.environ.get("JOBKERNEL_SOCKET")
    if env:
        return env
    home = os.environ.get("JOBKERNEL_HOME")
    if home:
        return os.path.join(home, "kernel.sock")
    return os.path.join(os.path.expanduser("~"), ".local", "state", "jobkernel", "kernel.sock")


def default_binary() -> str:
    """``$JOBKERNEL_BIN``, else ``jobkernel`` on ``PATH``."""
    return os.environ.get("JOBKERNEL_BIN") or shutil.which("jobkernel") or "jobkernel"


def time_param(value: Any) -> Any:
    """A time for ``run_at``: a ``datetime`` becomes RFC 3339 UTC with milliseconds (a naive one is
    taken as local time); a string or None passes unchanged."""
    if isinstance(value, datetime.datetime):
        utc = value.astimezone(datetime.timezone.utc)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (utc.microsecond // 1000)
    return value


def _ids(value: Any) -> Any:
    """One job id or many, as the kernel takes them (strings)."""
    if value is None or value is UNSET:
        return value
    if isinstance(value, (str, int)):
        return [str(value)]
    if hasattr(value, "id"):  # a Job or AsyncJob handle
        return [str(value.id)]
    return [str(getattr(v, "id", v)) for v in value]


def _params(**kw: Any) -> Dict[str, Any]:
    """Drops arguments left at their default (None or UNSET)."""
    return {k: v for k, v in kw.items() if v is not None and v is not UNSET}


class Event(dict):
    """The params of an ``event`` notification: ``{subscription, seq, ts, kind, job_id, data}``."""

    @property
    def seq(self) -> int:
        return self["seq"]

    @property
    def kind(self) -> str:
        return self["kind"]

    @property
    def job_id(self) -> Optional[str]:
        return self.get("job_id")

    @property
    def data(self) -> Any:
        return self.get("data")

    @property
    def ts(self) -> Optional[str]:
        return self.get("ts")


# ---------------------------------------------------------------------------------------------
# Subscription buffers


class _SubBuffer(object):
    """Events for one subscription, filled by the reader thread, drained by the consumer.

    With ``maxsize`` > 0 the reader blocks when the buffer is full (it stops reading the socket,
    so the kernel's outbound buffer grows: back-pressure, ending in ``subscription.dropped``).
    Control items (drop, connection lost) are never blocked.
    """

    def __init__(self, maxsize: int = 0):
        self.maxsize = maxsize
        self.items = collections.deque()  # type: Deque[Tuple[str, Any]]
        self.cond = threading.Condition()
        self.closed = False

    def put(self, kind: str, payload: Any) -> None:
        with self.cond:
            if kind == "event" and self.maxsize > 0:
                while not self.closed and len(self.items) >= self.maxsize:
                    self.cond.wait(0.5)
            if self.closed:
                return
            self.items.append((kind, payload))
            self.cond.notify_all()

    def get(self, timeout: Optional[float]) -> Tuple[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while not self.items:
                if self.closed:
                    return ("closed", None)
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("no event within %.3gs" % timeout)
                self.cond.wait(remaining)
            item = self.items.popleft()
            self.cond.notify_all()
            return item

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.items.clear()
            self.cond.notify_all()


# ---------------------------------------------------------------------------------------------
# One connection


class _Pending(object):
    __slots__ = ("event", "result", "error", "on_result")

    def __init__(self, on_result: Optional[Callable[[Any], None]]):
        self.event = threading.Event()
        self.result = None  # type: Any
        self.error = None  # type: Optional[BaseException]
        self.on_result = on_result


class _Connection(object):
    def __init__(
        self,
        rfile: Any,
        write: Callable[[bytes], None],
        shutdown: Callable[[], None],
        framing: str,
        label: str,
        on_notification: Optional[Callable[[str, Any], None]] = None,
    ):
        self.rfile = rfile
        self._write = write
        self._shutdown = shutdown
        self.framing = framing
        self.label = label
        self.on_notification = on_notification
        self.subs = {}  # type: Dict[str, _SubBuffer]
        self.closed = False
        self.close_reason = None  # type: Optional[BaseException]
        self._pending = {}  # type: Dict[int, _Pending]
        self._lock = threading.Lock()
        self._wlock = threading.Lock()
        self._ids = itertools.count(1)
        self.errors_without_id = []  # type: List[JobkernelError]
        self._thread = threading.Thread(target=self._read_loop, name="jobkernel-reader", daemon=True)
        self._thread.start()

    # -- sending

    def send(self, msg: Dict[str, Any]) -> None:
        data = _framing.encode(msg, self.framing)
        with self._wlock:
            if self.closed:
                raise ConnectionLost("connection to %s is closed" % self.label)
            try:
                self._write(data)
            except (OSError, ValueError) as e:
                raise ConnectionLost("connection to %s lost: %s" % (self.label, e))

    def request(
        self,
        method: str,
        params: Optional[Dict[str, Any]],
        timeout: Optional[float],
        on_result: Optional[Callable[[Any], None]] = None,
    ) -> Any:
        rid = next(self._ids)
        pending = _Pending(on_result)
        with self._lock:
            if self.closed:
                raise ConnectionLost("connection to %s is closed" % self.label)
            self._pending[rid] = pending
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}  # type: Dict[str, Any]
        if params is not None:
            msg["params"] = params
        try:
            self.send(msg)
        except BaseException:
            with self._lock:
                self._pending.pop(rid, None)
            raise
        if not pending.event.wait(timeout):
            with self._lock:
                self._pending.pop(rid, None)
            raise TimeoutError("%s: no answer within %.3gs" % (method, timeout))
        if pending.error is not None:
            raise pending.error
        return pending.result

    def notify(self, method: str, params: Optional[Dict[str, Any]] = None) -> None:
        msg = {"jsonrpc": "2.0", "method": method}  # type: Dict[str, Any]
        if params is not None:
            msg["params"] = params
        self.send(msg)

    # -- receiving

    def _read_loop(self) -> None:
        reason = None  # type: Optional[BaseException]
        try:
            while True:
                frame = _framing.read_frame(self.rfile, self.framing)
                if frame is None:
                    break
                try:
                    msg = json.loads(frame.decode("utf-8"))
                except ValueError:
                    continue
                for m in msg if isinstance(msg, list) else [msg]:
                    if isinstance(m, dict):
                        self._dispatch(m)
        except BaseException as e:  # pragma: no cover - defensive
            reason = e
        finally:
            self._mark_closed(ConnectionLost("connection to %s lost%s" % (self.label, ": %s" % reason if reason else "")))

    def _dispatch(self, m: Dict[str, Any]) -> None:
        method = m.get("method")
        if isinstance(method, str):
            params = m.get("params")
            if "id" in m:  # a request from the kernel: a client serves none
                try:
                    self.send({"jsonrpc": "2.0", "id": m["id"], "error": {"code": -32601, "message": "method not found", "data": {"reason": "method_not_found"}}})
                except ConnectionLost:
                    pass
                return
            if method == "event" and isinstance(params, dict):
                buf = self.subs.get(str(params.get("subscription")))
                if buf is not None:
                    buf.put("event", Event(params))
                return
            if method == "subscription.dropped" and isinstance(params, dict):
                buf = self.subs.pop(str(params.get("subscription")), None)
                if buf is not None:
                    buf.put("dropped", params)
                return
            if self.on_notification is not None:
                try:
                    self.on_notification(method, params)
                except Exception:
                    pass
            return
        rid = m.get("id")
        with self._lock:
            pending = self._pending.pop(rid, None) if isinstance(rid, int) else None
        if pending is None:
            if "error" in m:
                self.errors_without_id.append(error_from_response(m["error"]))
            return
        if "error" in m:
            pending.error = error_from_response(m["error"])
        else:
            pending.result = m.get("result")
            if pending.on_result is not None:
                try:
                    pending.on_result(pending.result)
                except Exception as e:  # pragma: no cover - defensive
                    pending.error = e
        pending.event.set()

    def _mark_closed(self, reason: BaseException) -> None:
        with self._lock:
            if self.closed and self.close_reason is not None:
                return
            self.closed = True
            self.close_reason = reason
            pendings = list(self._pending.values())
            self._pending.clear()
        for p in pendings:
            p.error = reason
            p.event.set()
        for buf in list(self.subs.values()):
            buf.put("lost", self)
        self.subs.clear()

    def close(self) -> None:
        with self._wlock:
            self.closed = True
        try:
            self._shutdown()
        except OSError:
            pass
        self._mark_closed(ConnectionLost("connection to %s closed" % self.label))

    def join(self, timeout: Optional[float] = None) -> None:
        self._thread.join(timeout)


# ---------------------------------------------------------------------------------------------
# Subscriptions


class Subscription(object):
    """A live subscription, iterated for :class:`Event` s.

    Tracks the seq of the last event handed out; after a disconnect (socket transport) or a
    ``subscription.dropped`` notification it resubscribes with ``since`` = that seq, so the caller
    sees every matching event exactly once, in seq order.

    ``timeout`` bounds the wait for each event while iterating (``TimeoutError``); ``None`` waits
    forever. ``next(timeout)`` waits for one event.
    """

    def __init__(
        self,
        client: "Client",
        filters: Dict[str, Any],
        since: Optional[int],
        timeout: Optional[float],
        queue_size: int,
        resume: bool,
    ):
        self._client = client
        self.filters = filters
        self.timeout = timeout
        self.resume = resume
        self._buf = _SubBuffer(queue_size)
        self._conn = None  # type: Optional[_Connection]
        self.id = None  # type: Optional[str]
        self.seq = 0
        self.jobs = None  # type: Optional[List[Dict[str, Any]]]
        self.last_seq = since  # type: Optional[int]
        self.drops = 0
        self.reconnects = 0
        self.closed = False
        self._subscribe(since)

    def _subscribe(self, since: Optional[int]) -> None:
        conn = self._client._connection()
        params = dict(self.filters)
        if since is not None:
            params["since"] = since
        buf = self._buf

        def register(result: Any) -> None:  # runs in the reader thread, before the next message
            conn.subs[str(result["subscription"])] = buf

        result = conn.request("subscribe", params, self._client.timeout, on_result=register)
        self._conn = conn
        self.id = str(result["subscription"])
        self.seq = result.get("seq", 0)
        if "jobs" in result:
            self.jobs = result["jobs"]
        if self.last_seq is None:
            self.last_seq = self.seq

    def _resume_after_loss(self, deadline: Optional[float]) -> None:
        delay = 0.05
        limit = time.monotonic() + self._client.reconnect_timeout
        if deadline is not None:
            limit = min(limit, deadline)
        while True:
            try:
                self._subscribe(self.last_seq)
                self.reconnects += 1
                return
            except CursorExpired:
                raise
            except (NoKernel, ConnectionLost, TimeoutError):
                if time.monotonic() + delay > limit:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def next(self, timeout: Union[float, None, _Unset] = _DEFAULT) -> Event:
        """The next event; ``TimeoutError`` if none comes within ``timeout`` seconds."""
        if timeout is _DEFAULT:
            timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.closed:
                raise StopIteration
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            kind, payload = self._buf.get(remaining)
            if kind == "event":
                if payload.seq <= (self.last_seq or 0):
                    continue  # already seen (replay overlap): exactly once
                self.last_seq = payload.seq
                return payload
            if kind == "dropped":
                if str(payload.get("subscription")) != self.id:
                    continue
                self.drops += 1
                if not self.resume:
                    raise ConnectionLost("subscription %s dropped at seq %s" % (self.id, payload.get("last_seq")))
                self._subscribe(self.last_seq)
                continue
            if kind == "lost":
                if payload is not self._conn:
                    continue  # a marker from a connection we already left
                if not self.resume or not self._client._can_reconnect():
                    self.closed = True
                    raise self._conn.close_reason or ConnectionLost("connection lost")
                self._resume_after_loss(deadline)
                continue
            if kind == "closed":
                raise StopIteration

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        return self.next()

    def close(self) -> None:
        """Unsubscribes (best effort) and ends iteration."""
        if self.closed:
            return
        self.closed = True
        conn = self._conn
        if conn is not None and self.id is not None:
            conn.subs.pop(self.id, None)
            if not conn.closed:
                try:
                    conn.request("unsubscribe", {"subscription": self.id}, self._client.timeout)
                except (JobkernelError, ConnectionLost, TimeoutError):
                    pass
        self._buf.close()

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# Job handle


class Job(object):
    """A handle on one job: ``.id``, ``.data`` (the latest job object seen), ``.duplicate``."""

    def __init__(self, client: "Client", data: Dict[str, Any], duplicate: bool = False):
        self.client = client
        self.data = data
        self.id = str(data["id"])
        self.duplicate = duplicate

    @property
    def status(self) -> str:
        return self.data["status"]

    def refresh(self) -> Dict[str, Any]:
        self.data = self.client.get(self.id)
        return self.data

    def wait(self, timeout: Optional[float] = None, raise_on_failure: bool = False) -> Dict[str, Any]:
        """Blocks until the job is terminal and returns the final job object.

        Subscribes with ``ids=[id]``: the snapshot in the subscribe result answers at once for a
        job already finished; otherwise waits for the ``job.status`` event to a terminal status.
        Raises ``TimeoutError`` after ``timeout`` seconds, and with ``raise_on_failure``
        :class:`JobFailed` when the job ended other than ``success``.
        """
        final = self._wait(timeout)
        if raise_on_failure and final.get("status") != "success":
            raise JobFailed(final)
        return final

    def items(self, status: Optional[str] = None) -> List[Dict[str, Any]]:
        """Every item's result (docs/promises.md §13 ``items``), paging through them."""
        return list(self.client.iter_items(self.id, status=status))

    def remove(self) -> int:
        """Removes this (finished) job; returns how many jobs went (descendants included)."""
        return self.client.remove(self.id)

    def _wait(self, timeout: Optional[float]) -> Dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        sub = self.client.subscribe(ids=[self.id], kinds=["job.status"])
        try:
            while True:
                if sub.jobs:
                    snap = sub.jobs[0]
                    sub.jobs = None  # consumed; a resubscribe refreshes it
                    self.data = snap
                    if snap["status"] in TERMINAL_STATUSES:
                        return snap
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("job %s not finished within %.3gs" % (self.id, timeout))
                try:
                    ev = sub.next(remaining)
                except TimeoutError:
                    raise TimeoutError("job %s not finished within %.3gs" % (self.id, timeout))
                if ev.kind == "job.status":
                    job = ev.data.get("job")
                    if isinstance(job, dict):
                        self.data = job
                    if ev.data.get("to") in TERMINAL_STATUSES:
                        return self.data
        finally:
            sub.close()

    def cancel(self, reason: Optional[str] = None) -> Dict[str, Any]:
        self.data = self.client.cancel(self.id, reason=reason)
        return self.data

    def retry(self) -> Dict[str, Any]:
        self.data = self.client.retry(self.id)
        return self.data

    def logs(self, since: int = 0) -> List[Dict[str, Any]]:
        return list(self.client.iter_logs(self.id, since=since))

    def __repr__(self) -> str:
        return "<Job %s %s %s>" % (self.id, self.data.get("type"), self.data.get("status"))


# ---------------------------------------------------------------------------------------------
# The client


class Client(object):
    """A synchronous, thread-safe jobkernel client.

    ``Client()`` connects to the Unix socket at ``socket_path`` (default
    :func:`default_socket_path`); :meth:`spawn` starts ``jobkernel serve --stdio`` and talks
    Content-Length framing over its pipes. ``timeout`` bounds each call (``None``: no bound);
    ``name`` is sent with ``initialize`` on every (re)connect and becomes the default
    ``created_by``.
    """

    def __init__(
        self,
        socket_path: Optional[str] = None,
        *,
        timeout: Optional[float] = 30.0,
        name: Optional[str] = None,
        version: Optional[str] = None,
        reconnect_timeout: float = 10.0,
        on_notification: Optional[Callable[[str, Any], None]] = None,
        _connect: bool = True,
    ):
        self.socket_path = socket_path or default_socket_path()
        self.timeout = timeout
        self.name = name
        self.version = version
        self.reconnect_timeout = reconnect_timeout
        self.on_notification = on_notification
        self.process = None  # type: Optional[subprocess.Popen]
        self._conn = None  # type: Optional[_Connection]
        self._conn_lock = threading.Lock()
        self._closed = False
        if _connect:
            self._connection()

    # -- transports

    @classmethod
    def spawn(
        cls,
        binary: Optional[str] = None,
        *args: str,
        db: Optional[str] = None,
        config: Optional[str] = None,
        timeout: Optional[float] = 30.0,
        name: Optional[str] = None,
        version: Optional[str] = None,
        stderr: Any = None,
        env: Optional[Dict[str, str]] = None,
        on_notification: Optional[Callable[[str, Any], None]] = None,
    ) -> "Client":
        """Starts ``BINARY serve --stdio [--db DB] [--config CONFIG] ARGS...`` and connects to it
        over its stdin/stdout with Content-Length framing. Closing the client closes the kernel's
        stdin, which shuts it down gracefully."""
        binary = binary or default_binary()
        argv = [binary, "serve", "--stdio"]
        if db is not None:
            argv += ["--db", db]
        if config is not None:
            argv += ["--config", config]
        argv += list(args)
        self = cls(timeout=timeout, name=name, version=version, on_notification=on_notification, _connect=False)
        self.socket_path = None  # type: ignore[assignment]
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env, bufsize=0)
        except OSError as e:
            raise NoKernel(" ".join(argv), e)
        self.process = proc

        def write(data: bytes) -> None:
            assert proc.stdin is not None
            proc.stdin.write(data)
            proc.stdin.flush()

        def shutdown() -> None:
            if proc.stdin is not None:
                proc.stdin.close()

        conn = _Connection(proc.stdout, write, shutdown, _framing.CONTENT_LENGTH, "%s (stdio)" % binary, self._notify)
        self._conn = conn
        self._after_connect(conn)
        return self

    def _open_socket(self) -> _Connection:
        path = self.socket_path
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError, PermissionError, OSError) as e:
            sock.close()
            raise NoKernel(path, e)
        rfile = sock.makefile("rb")

        def shutdown() -> None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

        return _Connection(rfile, sock.sendall, shutdown, _framing.NDJSON, path, self._notify)

    def _notify(self, method: str, params: Any) -> None:
        if self.on_notification is not None:
            self.on_notification(method, params)

    def _after_connect(self, conn: _Connection) -> None:
        if self.name:
            client = {"name": self.name}
            if self.version:
                client["version"] = self.version
            conn.request("initialize", {"client": client}, self.timeout)

    def _can_reconnect(self) -> bool:
        return self.process is None and not self._closed

    def _connection(self) -> _Connection:
        with self._conn_lock:
            conn = self._conn
            if conn is not None and not conn.closed:
                return conn
            if self._closed:
                raise ConnectionLost("client is closed")
            if self.process is not None:
                raise (conn.close_reason if conn is not None and conn.close_reason else ConnectionLost("kernel process gone"))
            conn = self._open_socket()
            self._conn = conn
        try:
            self._after_connect(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.closed

    def disconnect(self) -> None:
        """Closes the current connection; the next call reconnects (socket transport)."""
        conn = self._conn
        if conn is not None:
            conn.close()

    def close(self, timeout: float = 10.0) -> None:
        """Closes the connection (and, for a spawned kernel, waits for it to exit)."""
        self._closed = True
        conn = self._conn
        if conn is not None:
            conn.close()
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- raw calls

    def call(self, method: str, params: Optional[Dict[str, Any]] = None, *, _timeout: Any = _DEFAULT, **kwparams: Any) -> Any:
        """Calls any method with named parameters: ``call("stats")``,
        ``call("get", id="7")`` or ``call("get", {"id": "7"})``. Raises the typed
        :class:`~jobkernel.JobkernelError` subclass for an error answer."""
        if params is None:
            params = kwparams or None
        elif kwparams:
            params = dict(params, **kwparams)
        timeout = self.timeout if _timeout is _DEFAULT else _timeout
        return self._connection().request(method, params, timeout)

    def notify(self, method: str, params: Optional[Dict[str, Any]] = None) -> None:
        """Sends a notification (no answer)."""
        self._connection().notify(method, params)

    # -- methods (docs/promises.md §6)

    def initialize(self, name: str, version: Optional[str] = None) -> Dict[str, Any]:
        self.name, self.version = name, version
        return self.call("initialize", client=_params(name=name, version=version))

    def enqueue(
        self,
        type: str,
        payload: Any = UNSET,
        *,
        items: Optional[Sequence[Any]] = None,
        priority: Optional[int] = None,
        idempotency_key: Optional[str] = None,
        created_by: Optional[str] = None,
        run_at: Union[str, datetime.datetime, None] = None,
        delay_s: Optional[float] = None,
        max_attempts: Optional[int] = None,
        timeout_s: Optional[float] = None,
        parent_id: Optional[str] = None,
        manual: Optional[bool] = None,
        after: Any = None,
    ) -> Job:
        """Creates a job (committed when this returns) and returns its :class:`Job` handle.

        ``run_at`` takes a ``datetime`` (a naive one is local time) or an RFC 3339 string;
        ``after`` one job (id or :class:`Job`) or several that must succeed first (docs/promises.md §8.6)."""
        res = self.call(
            "enqueue",
            _params(
                type=type, payload=payload, items=list(items) if items is not None else None, priority=priority,
                idempotency_key=idempotency_key, created_by=created_by, run_at=time_param(run_at), delay_s=delay_s,
                max_attempts=max_attempts, timeout_s=timeout_s, parent_id=parent_id, manual=manual,
                after=_ids(after),
            ),
        )
        return Job(self, res["job"], bool(res.get("duplicate")))

    def job(self, id: Union[str, int]) -> Job:
        """A :class:`Job` handle on an existing job (fetched with ``get``)."""
        return Job(self, self.get(id))

    def get(self, id: Union[str, int]) -> Dict[str, Any]:
        return self.call("get", id=str(id))

    def list(
        self,
        status: Any = None,
        type: Any = None,
        dispatch_mode: Any = None,
        parent_id: Any = UNSET,
        created_by: Any = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Dict[str, Any]:
        """One page ``{jobs, next_cursor}``, newest first. ``parent_id=None`` lists top-level jobs."""
        params = _params(status=status, type=type, dispatch_mode=dispatch_mode, created_by=created_by, limit=limit, cursor=cursor)
        if parent_id is not UNSET:
            params["parent_id"] = parent_id
        return self.call("list", params)

    def iter_jobs(self, **filters: Any) -> Iterator[Dict[str, Any]]:
        """Every matching job, newest first, following ``next_cursor``."""
        cursor = None
        while True:
            page = self.list(cursor=cursor, **filters)
            for job in page["jobs"]:
                yield job
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def cancel(self, id: Union[str, int], reason: Optional[str] = None) -> Dict[str, Any]:
        return self.call("cancel", _params(id=str(id), reason=reason))

    def retry(self, id: Union[str, int]) -> Dict[str, Any]:
        return self.call("retry", id=str(id))

    def progress(
        self,
        id: Union[str, int],
        current: Optional[float] = None,
        total: Any = UNSET,
        phase: Any = UNSET,
        message: Any = UNSET,
        item: Optional[int] = None,
    ) -> Dict[str, Any]:
        params = _params(id=str(id), current=current, item=item)
        for k, v in (("total", total), ("phase", phase), ("message", message)):
            if v is not UNSET:
                params[k] = v
        return self.call("progress", params)

    def log(self, id: Union[str, int], message: str, level: Optional[str] = None) -> Dict[str, Any]:
        return self.call("log", _params(id=str(id), message=message, level=level))

    def logs(self, id: Union[str, int], since: Optional[int] = None, limit: Optional[int] = None) -> Dict[str, Any]:
        return self.call("logs", _params(id=str(id), since=since, limit=limit))

    def iter_logs(self, id: Union[str, int], since: int = 0, limit: Optional[int] = None) -> Iterator[Dict[str, Any]]:
        """Every log line after ``since``, following ``next``."""
        while True:
            page = self.logs(id, since=since, limit=limit)
            for line in page["lines"]:
                yield line
            nxt = page.get("next")
            if nxt is None:
                return
            since = nxt

    def items(self, id: Union[str, int], status: Optional[str] = None, since: Optional[int] = None,
              limit: Optional[int] = None) -> Dict[str, Any]:
        """One page of a job's per-item results: ``{items, next}``."""
        return self.call("items", _params(id=str(id), status=status, since=since, limit=limit))

    def iter_items(self, id: Union[str, int], status: Optional[str] = None, limit: Optional[int] = None) -> Iterator[Dict[str, Any]]:
        """Every item of the job (optionally of one status), following ``next``."""
        since = None  # type: Optional[int]
        while True:
            page = self.items(id, status=status, since=since, limit=limit)
            for item in page["items"]:
                yield item
            if page.get("next") is None:
                return
            since = page["next"]

    def remove(self, ids: Any) -> int:
        """Removes finished jobs (one id, a :class:`Job`, or several) with their finished
        descendants; returns how many went. A job still open raises ``InvalidState``."""
        if isinstance(ids, Job):
            ids = ids.id
        return self.call("remove", ids=_ids(ids))["removed"]

    def clean(self, status: Any = None, type: Any = None, older_than_s: Optional[float] = None) -> int:
        """Removes every finished job matching the filters; returns how many went (answered once
        the kernel is done, which may take a while for many jobs: pass ``_timeout`` via ``call``)."""
        return self.call("clean", _params(status=status, type=type, older_than_s=older_than_s), _timeout=None)["removed"]

    def pause(self, type: Optional[str] = None) -> Dict[str, Any]:
        """Stops dispatching ``type`` (every type when None); returns the settings."""
        return self.call("pause", _params(type=type))

    def resume(self, type: Optional[str] = None) -> Dict[str, Any]:
        """Dispatches ``type`` again (without ``type``: everything, each paused type too)."""
        return self.call("resume", _params(type=type))

    def settings_get(self, key: Optional[str] = None) -> Dict[str, Any]:
        return self.call("settings.get", _params(key=key))

    def settings_set(self, key: str, value: Any) -> Dict[str, Any]:
        return self.call("settings.set", key=key, value=value)

    def schedules(self) -> List[Dict[str, Any]]:
        return self.call("schedules")

    def stats(self) -> Dict[str, Any]:
        return self.call("stats")

    def shutdown(self) -> bool:
        return self.call("shutdown")

    def discover(self) -> Dict[str, Any]:
        return self.call("rpc.discover")

    def subscribe(
        self,
        ids: Optional[Sequence[Union[str, int]]] = None,
        types: Optional[Sequence[str]] = None,
        kinds: Optional[Sequence[str]] = None,
        since: Optional[int] = None,
        *,
        timeout: Optional[float] = None,
        queue_size: int = 0,
        resume: bool = True,
    ) -> Subscription:
        """Subscribes and returns an iterator of :class:`Event` s (see :class:`Subscription`).

        ``queue_size`` > 0 bounds the events buffered in this process (the reader then waits for
        the consumer: back-pressure reaches the kernel, which may drop the subscription; it is
        resumed transparently). ``resume=False`` raises ``ConnectionLost`` instead of resuming.
        """
        filters = _params(
            ids=[str(i) for i in ids] if ids is not None else None,
            types=list(types) if types is not None else None,
            kinds=list(kinds) if kinds is not None else None,
        )
        return Subscription(self, filters, since, timeout, queue_size, resume)

    def unsubscribe(self, subscription: Union[str, Subscription]) -> bool:
        if isinstance(subscription, Subscription):
            subscription.close()
            return True
        return self.call("unsubscribe", subscription=subscription)

    def fetch(
        self,
        types: Union[str, Sequence[str]],
        max: Optional[int] = None,
        wait_s: Optional[float] = None,
        lease_s: Optional[float] = None,
    ) -> Dict[str, Any]:
        """``{leases: [{lease, job, item, attempt, expires_at}]}``; waits up to ``wait_s``."""
        timeout = self.timeout
        if timeout is not None and wait_s:
            timeout += wait_s
        types_list = [types] if isinstance(types, str) else list(types)
        return self.call("fetch", _params(types=types_list, max=max, wait_s=wait_s, lease_s=lease_s), _timeout=timeout)

    def ack(self, lease: str, result: Any = UNSET) -> bool:
        params = {"lease": lease}  # type: Dict[str, Any]
        if result is not UNSET:
            params["result"] = result
        return self.call("ack", params)

    def nack(self, lease: str, error: Union[str, Dict[str, Any]], retryable: Optional[bool] = None) -> bool:
        return self.call("nack", _params(lease=lease, error=error, retryable=retryable))

    def extend(self, lease: str, lease_s: Optional[float] = None) -> Dict[str, Any]:
        return self.call("extend", _params(lease=lease, lease_s=lease_s))

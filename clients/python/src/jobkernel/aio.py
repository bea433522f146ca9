"""The asyncio client: the same methods as :class:`jobkernel.Client`, as coroutines."""

import asyncio
import collections
import itertools
import json
import time
from typing import Any, AsyncIterator, Callable, Deque, Dict, List, Optional, Sequence, Tuple, Union

from . import _framing
from .client import (
    TERMINAL_STATUSES,
    UNSET,
    Event,
    _DEFAULT,
    _ids,
    _params,
    _Unset,
    time_param,
    default_binary,
    default_socket_path,
)
from .errors import ConnectionLost, CursorExpired, JobFailed, JobkernelError, NoKernel, error_from_response

__all__ = ["AsyncClient", "AsyncJob", "AsyncSubscription"]

_STREAM_LIMIT = 1 << 26


class _AsyncConnection(object):
    def __init__(self, reader: asyncio.StreamReader, writer: Any, framing: str, label: str, on_notification: Optional[Callable[[str, Any], None]]):
        self.reader = reader
        self.writer = writer
        self.framing = framing
        self.label = label
        self.on_notification = on_notification
        self.subs = {}  # type: Dict[str, _AsyncSubBuffer]
        self.closed = False
        self.close_reason = None  # type: Optional[BaseException]
        self._pending = {}  # type: Dict[int, Tuple[asyncio.Future, Optional[Callable[[Any], None]]]]
        self._ids = itertools.count(1)
        self._task = asyncio.ensure_future(self._read_loop())

    async def send(self, msg: Dict[str, Any]) -> None:
        if self.closed:
            raise ConnectionLost("connection to %s is closed" % self.label)
        try:
            self.writer.write(_framing.encode(msg, self.framing))
            await self.writer.drain()
        except (OSError, RuntimeError) as e:
            raise ConnectionLost("connection to %s lost: %s" % (self.label, e))

    async def request(self, method: str, params: Optional[Dict[str, Any]], timeout: Optional[float], on_result: Optional[Callable[[Any], None]] = None) -> Any:
        if self.closed:
            raise ConnectionLost("connection to %s is closed" % self.label)
        rid = next(self._ids)
        fut = asyncio.get_event_loop().create_future()
        self._pending[rid] = (fut, on_result)
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}  # type: Dict[str, Any]
        if params is not None:
            msg["params"] = params
        try:
            await self.send(msg)
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError("%s: no answer within %.3gs" % (method, timeout))
        finally:
            self._pending.pop(rid, None)

    async def _read_loop(self) -> None:
        reason = None
        try:
            while True:
                frame = await _framing.aread_frame(self.reader, self.framing)
                if frame is None:
                    break
                try:
                    msg = json.loads(frame.decode("utf-8"))
                except ValueError:
                    continue
                for m in msg if isinstance(msg, list) else [msg]:
                    if isinstance(m, dict):
                        await self._dispatch(m)
        except asyncio.CancelledError:
            pass
        except Exception as e:  # pragma: no cover - defensive
            reason = e
        finally:
            self._mark_closed(ConnectionLost("connection to %s lost%s" % (self.label, ": %s" % reason if reason else "")))

    async def _dispatch(self, m: Dict[str, Any]) -> None:
        method = m.get("method")
        if isinstance(method, str):
            params = m.get("params")
            if "id" in m:
                try:
                    await self.send({"jsonrpc": "2.0", "id": m["id"], "error": {"code": -32601, "message": "method not found", "data": {"reason": "method_not_found"}}})
                except ConnectionLost:
                    pass
                return
            if method == "event" and isinstance(params, dict):
                buf = self.subs.get(str(params.get("subscription")))
                if buf is not None:
                    await buf.put("event", Event(params))
                return
            if method == "subscription.dropped" and isinstance(params, dict):
                buf = self.subs.pop(str(params.get("subscription")), None)
                if buf is not None:
                    await buf.put("dropped", params)
                return
            if self.on_notification is not None:
                try:
                    self.on_notification(method, params)
                except Exception:
                    pass
            return
        rid = m.get("id")
        entry = self._pending.pop(rid, None) if isinstance(rid, int) else None
        if entry is None:
            return
        fut, on_result = entry
        if fut.done():
            return
        if "error" in m:
            fut.set_exception(error_from_response(m["error"]))
        else:
            result = m.get("result")
            if on_result is not None:
                on_result(result)
            fut.set_result(result)

    def _mark_closed(self, reason: BaseException) -> None:
        if self.closed and self.close_reason is not None:
            return
        self.closed = True
        self.close_reason = reason
        for fut, _ in list(self._pending.values()):
            if not fut.done():
                fut.set_exception(reason)
        self._pending.clear()
        for buf in list(self.subs.values()):
            buf.put_nowait("lost", self)
        self.subs.clear()

    async def close(self) -> None:
        self.closed = True
        try:
            if self.writer.can_write_eof():
                self.writer.write_eof()
        except (OSError, RuntimeError):
            pass
        try:
            self.writer.close()
        except (OSError, RuntimeError):
            pass
        self._task.cancel()
        try:
            await self._task
        except BaseException:
            pass
        self._mark_closed(ConnectionLost("connection to %s closed" % self.label))


class _AsyncSubBuffer(object):
    def __init__(self, maxsize: int = 0):
        self.maxsize = maxsize
        self.items = collections.deque()  # type: Deque[Tuple[str, Any]]
        self.cond = asyncio.Condition()
        self.closed = False

    async def put(self, kind: str, payload: Any) -> None:
        async with self.cond:
            if kind == "event" and self.maxsize > 0:
                while not self.closed and len(self.items) >= self.maxsize:
                    await self.cond.wait()
            if self.closed:
                return
            self.items.append((kind, payload))
            self.cond.notify_all()

    def put_nowait(self, kind: str, payload: Any) -> None:
        self.items.append((kind, payload))
        asyncio.ensure_future(self._wake())

    async def _wake(self) -> None:
        async with self.cond:
            self.cond.notify_all()

    async def get(self, timeout: Optional[float]) -> Tuple[str, Any]:
        async def wait() -> Tuple[str, Any]:
            async with self.cond:
                while not self.items:
                    if self.closed:
                        return ("closed", None)
                    await self.cond.wait()
                item = self.items.popleft()
                self.cond.notify_all()
                return item

        try:
            return await asyncio.wait_for(wait(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError("no event within %.3gs" % timeout)

    async def close(self) -> None:
        async with self.cond:
            self.closed = True
            self.items.clear()
            self.cond.notify_all()


class AsyncSubscription(object):
    """Async iterator of :class:`~jobkernel.Event` s with the same resume guarantees as
    :class:`jobkernel.Subscription`. Create it with ``await client.subscribe(...)``."""

    def __init__(self, client: "AsyncClient", filters: Dict[str, Any], since: Optional[int], timeout: Optional[float], queue_size: int, resume: bool):
        self._client = client
        self.filters = filters
        self.timeout = timeout
        self.resume = resume
        self._buf = _AsyncSubBuffer(queue_size)
        self._conn = None  # type: Optional[_AsyncConnection]
        self.id = None  # type: Optional[str]
        self.seq = 0
        self.jobs = None  # type: Optional[List[Dict[str, Any]]]
        self.last_seq = since
        self.drops = 0
        self.reconnects = 0
        self.closed = False

    async def _subscribe(self, since: Optional[int]) -> None:
        conn = await self._client._connection()
        params = dict(self.filters)
        if since is not None:
            params["since"] = since
        buf = self._buf

        def register(result: Any) -> None:
            conn.subs[str(result["subscription"])] = buf

        result = await conn.request("subscribe", params, self._client.timeout, on_result=register)
        self._conn = conn
        self.id = str(result["subscription"])
        self.seq = result.get("seq", 0)
        if "jobs" in result:
            self.jobs = result["jobs"]
        if self.last_seq is None:
            self.last_seq = self.seq

    async def _resume_after_loss(self, deadline: Optional[float]) -> None:
        delay = 0.05
        limit = time.monotonic() + self._client.reconnect_timeout
        if deadline is not None:
            limit = min(limit, deadline)
        while True:
            try:
                await self._subscribe(self.last_seq)
                self.reconnects += 1
                return
            except CursorExpired:
                raise
            except (NoKernel, ConnectionLost, TimeoutError):
                if time.monotonic() + delay > limit:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def next(self, timeout: Union[float, None, _Unset] = _DEFAULT) -> Event:
        if timeout is _DEFAULT:
            timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.closed:
                raise StopAsyncIteration
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            kind, payload = await self._buf.get(remaining)
            if kind == "event":
                if payload.seq <= (self.last_seq or 0):
                    continue
                self.last_seq = payload.seq
                return payload
            if kind == "dropped":
                if str(payload.get("subscription")) != self.id:
                    continue
                self.drops += 1
                if not self.resume:
                    raise ConnectionLost("subscription %s dropped" % self.id)
                await self._subscribe(self.last_seq)
                continue
            if kind == "lost":
                if payload is not self._conn:
                    continue
                if not self.resume or not self._client._can_reconnect():
                    self.closed = True
                    raise self._conn.close_reason or ConnectionLost("connection lost")
                await self._resume_after_loss(deadline)
                continue
            if kind == "closed":
                raise StopAsyncIteration

    def __aiter__(self) -> "AsyncSubscription":
        return self

    async def __anext__(self) -> Event:
        return await self.next()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        conn = self._conn
        if conn is not None and self.id is not None:
            conn.subs.pop(self.id, None)
            if not conn.closed:
                try:
                    await conn.request("unsubscribe", {"subscription": self.id}, self._client.timeout)
                except (JobkernelError, ConnectionLost, TimeoutError):
                    pass
        await self._buf.close()

    async def __aenter__(self) -> "AsyncSubscription":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class AsyncJob(object):
    """The asyncio twin of :class:`jobkernel.Job`."""

    def __init__(self, client: "AsyncClient", data: Dict[str, Any], duplicate: bool = False):
        self.client = client
        self.data = data
        self.id = str(data["id"])
        self.duplicate = duplicate

    @property
    def status(self) -> str:
        return self.data["status"]

    async def refresh(self) -> Dict[str, Any]:
        self.data = await self.client.get(self.id)
        return self.data

    async def wait(self, timeout: Optional[float] = None, raise_on_failure: bool = False) -> Dict[str, Any]:
        """See :meth:`jobkernel.Job.wait`."""
        final = await self._wait(timeout)
        if raise_on_failure and final.get("status") != "success":
            raise JobFailed(final)
        return final

    async def items(self, status: Optional[str] = None) -> List[Dict[str, Any]]:
        out = []  # type: List[Dict[str, Any]]
        since = None  # type: Optional[int]
        while True:
            page = await self.client.items(self.id, status=status, since=since)
            out += page["items"]
            if page.get("next") is None:
                return out
            since = page["next"]

    async def remove(self) -> int:
        return await self.client.remove(self.id)

    async def _wait(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        sub = await self.client.subscribe(ids=[self.id], kinds=["job.status"])
        try:
            while True:
                if sub.jobs:
                    snap = sub.jobs[0]
                    sub.jobs = None
                    self.data = snap
                    if snap["status"] in TERMINAL_STATUSES:
                        return snap
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("job %s not finished within %.3gs" % (self.id, timeout))
                try:
                    ev = await sub.next(remaining)
                except TimeoutError:
                    raise TimeoutError("job %s not finished within %.3gs" % (self.id, timeout))
                if ev.kind == "job.status":
                    job = ev.data.get("job")
                    if isinstance(job, dict):
                        self.data = job
                    if ev.data.get("to") in TERMINAL_STATUSES:
                        return self.data
        finally:
            await sub.close()

    async def cancel(self, reason: Optional[str] = None) -> Dict[str, Any]:
        self.data = await self.client.cancel(self.id, reason=reason)
        return self.data

    async def retry(self) -> Dict[str, Any]:
        self.data = await self.client.retry(self.id)
        return self.data

    def __repr__(self) -> str:
        return "<AsyncJob %s %s %s>" % (self.id, self.data.get("type"), self.data.get("status"))


class AsyncClient(object):
    """asyncio client. Create with ``await AsyncClient.connect(path)`` or
    ``await AsyncClient.spawn(binary, ...)``; use ``async with``."""

    def __init__(self, socket_path: Optional[str] = None, *, timeout: Optional[float] = 30.0, name: Optional[str] = None, version: Optional[str] = None, reconnect_timeout: float = 10.0, on_notification: Optional[Callable[[str, Any], None]] = None):
        self.socket_path = socket_path or default_socket_path()
        self.timeout = timeout
        self.name = name
        self.version = version
        self.reconnect_timeout = reconnect_timeout
        self.on_notification = on_notification
        self.process = None  # type: Optional[asyncio.subprocess.Process]
        self._conn = None  # type: Optional[_AsyncConnection]
        self._lock = None  # type: Optional[asyncio.Lock]
        self._closed = False

    @classmethod
    async def connect(cls, socket_path: Optional[str] = None, **kw: Any) -> "AsyncClient":
        self = cls(socket_path, **kw)
        await self._connection()
        return self

    @classmethod
    async def spawn(cls, binary: Optional[str] = None, *args: str, db: Optional[str] = None, config: Optional[str] = None, stderr: Any = None, env: Optional[Dict[str, str]] = None, **kw: Any) -> "AsyncClient":
        binary = binary or default_binary()
        argv = [binary, "serve", "--stdio"]
        if db is not None:
            argv += ["--db", db]
        if config is not None:
            argv += ["--config", config]
        argv += list(args)
        self = cls(**kw)
        self.socket_path = None  # type: ignore[assignment]
        try:
            proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr, env=env, limit=_STREAM_LIMIT)
        except OSError as e:
            raise NoKernel(" ".join(argv), e)
        self.process = proc
        assert proc.stdout is not None and proc.stdin is not None
        self._conn = _AsyncConnection(proc.stdout, proc.stdin, _framing.CONTENT_LENGTH, "%s (stdio)" % binary, self._notify)
        await self._after_connect(self._conn)
        return self

    def _notify(self, method: str, params: Any) -> None:
        if self.on_notification is not None:
            self.on_notification(method, params)

    async def _after_connect(self, conn: _AsyncConnection) -> None:
        if self.name:
            client = {"name": self.name}
            if self.version:
                client["version"] = self.version
            await conn.request("initialize", {"client": client}, self.timeout)

    def _can_reconnect(self) -> bool:
        return self.process is None and not self._closed

    async def _connection(self) -> _AsyncConnection:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            conn = self._conn
            if conn is not None and not conn.closed:
                return conn
            if self._closed:
                raise ConnectionLost("client is closed")
            if self.process is not None:
                raise (conn.close_reason if conn is not None and conn.close_reason else ConnectionLost("kernel process gone"))
            try:
                reader, writer = await asyncio.open_unix_connection(self.socket_path, limit=_STREAM_LIMIT)
            except OSError as e:
                raise NoKernel(self.socket_path, e)
            conn = _AsyncConnection(reader, writer, _framing.NDJSON, self.socket_path, self._notify)
            self._conn = conn
            try:
                await self._after_connect(conn)
            except BaseException:
                await conn.close()
                raise
            return conn

    async def disconnect(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def close(self, timeout: float = 10.0) -> None:
        self._closed = True
        if self._conn is not None:
            await self._conn.close()
        if self.process is not None:
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()

    async def __aenter__(self) -> "AsyncClient":
        await self._connection() if self.process is None else None
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def call(self, method: str, params: Optional[Dict[str, Any]] = None, *, _timeout: Any = _DEFAULT, **kwparams: Any) -> Any:
        if params is None:
            params = kwparams or None
        elif kwparams:
            params = dict(params, **kwparams)
        timeout = self.timeout if _timeout is _DEFAULT else _timeout
        conn = await self._connection()
        return await conn.request(method, params, timeout)

    async def initialize(self, name: str, version: Optional[str] = None) -> Dict[str, Any]:
        self.name, self.version = name, version
        return await self.call("initialize", client=_params(name=name, version=version))

    async def enqueue(self, type: str, payload: Any = UNSET, **kw: Any) -> AsyncJob:
        if "items" in kw and kw["items"] is not None:
            kw["items"] = list(kw["items"])
        if "run_at" in kw:
            kw["run_at"] = time_param(kw["run_at"])
        if "after" in kw:
            kw["after"] = _ids(kw["after"])
        res = await self.call("enqueue", _params(type=type, payload=payload, **kw))
        return AsyncJob(self, res["job"], bool(res.get("duplicate")))

    async def job(self, id: Union[str, int]) -> AsyncJob:
        return AsyncJob(self, await self.get(id))

    async def get(self, id: Union[str, int]) -> Dict[str, Any]:
        return await self.call("get", id=str(id))

    async def list(self, status: Any = None, type: Any = None, dispatch_mode: Any = None, parent_id: Any = UNSET, created_by: Any = None, limit: Optional[int] = None, cursor: Optional[str] = None) -> Dict[str, Any]:
        params = _params(status=status, type=type, dispatch_mode=dispatch_mode, created_by=created_by, limit=limit, cursor=cursor)
        if parent_id is not UNSET:
            params["parent_id"] = parent_id
        return await self.call("list", params)

    async def cancel(self, id: Union[str, int], reason: Optional[str] = None) -> Dict[str, Any]:
        return await self.call("cancel", _params(id=str(id), reason=reason))

    async def retry(self, id: Union[str, int]) -> Dict[str, Any]:
        return await self.call("retry", id=str(id))

    async def items(self, id: Union[str, int], status: Optional[str] = None, since: Optional[int] = None,
                    limit: Optional[int] = None) -> Dict[str, Any]:
        return await self.call("items", _params(id=str(id), status=status, since=since, limit=limit))

    async def remove(self, ids: Any) -> int:
        if isinstance(ids, AsyncJob):
            ids = ids.id
        return (await self.call("remove", ids=_ids(ids)))["removed"]

    async def clean(self, status: Any = None, type: Any = None, older_than_s: Optional[float] = None) -> int:
        return (await self.call("clean", _params(status=status, type=type, older_than_s=older_than_s), _timeout=None))["removed"]

    async def pause(self, type: Optional[str] = None) -> Dict[str, Any]:
        return await self.call("pause", _params(type=type))

    async def resume(self, type: Optional[str] = None) -> Dict[str, Any]:
        return await self.call("resume", _params(type=type))

    async def progress(self, id: Union[str, int], current: Optional[float] = None, total: Any = UNSET, phase: Any = UNSET, message: Any = UNSET, item: Optional[int] = None) -> Dict[str, Any]:
        params = _params(id=str(id), current=current, item=item)
        for k, v in (("total", total), ("phase", phase), ("message", message)):
            if v is not UNSET:
                params[k] = v
        return await self.call("progress", params)

    async def log(self, id: Union[str, int], message: str, level: Optional[str] = None) -> Dict[str, Any]:
        return await self.call("log", _params(id=str(id), message=message, level=level))

    async def logs(self, id: Union[str, int], since: Optional[int] = None, limit: Optional[int] = None) -> Dict[str, Any]:
        return await self.call("logs", _params(id=str(id), since=since, limit=limit))

    async def settings_get(self, key: Optional[str] = None) -> Dict[str, Any]:
        return await self.call("settings.get", _params(key=key))

    async def settings_set(self, key: str, value: Any) -> Dict[str, Any]:
        return await self.call("settings.set", key=key, value=value)

    async def schedules(self) -> List[Dict[str, Any]]:
        return await self.call("schedules")

    async def stats(self) -> Dict[str, Any]:
        return await self.call("stats")

    async def shutdown(self) -> bool:
        return await self.call("shutdown")

    async def discover(self) -> Dict[str, Any]:
        return await self.call("rpc.discover")

    async def subscribe(self, ids: Optional[Sequence[Union[str, int]]] = None, types: Optional[Sequence[str]] = None, kinds: Optional[Sequence[str]] = None, since: Optional[int] = None, *, timeout: Optional[float] = None, queue_size: int = 0, resume: bool = True) -> AsyncSubscription:
        filters = _params(
            ids=[str(i) for i in ids] if ids is not None else None,
            types=list(types) if types is not None else None,
            kinds=list(kinds) if kinds is not None else None,
        )
        sub = AsyncSubscription(self, filters, since, timeout, queue_size, resume)
        await sub._subscribe(since)
        return sub

    async def unsubscribe(self, subscription: Union[str, AsyncSubscription]) -> bool:
        if isinstance(subscription, AsyncSubscription):
            await subscription.close()
            return True
        return await self.call("unsubscribe", subscription=subscription)

    async def fetch(self, types: Union[str, Sequence[str]], max: Optional[int] = None, wait_s: Optional[float] = None, lease_s: Optional[float] = None) -> Dict[str, Any]:
        timeout = self.timeout
        if timeout is not None and wait_s:
            timeout += wait_s
        types_list = [types] if isinstance(types, str) else list(types)
        return await self.call("fetch", _params(types=types_list, max=max, wait_s=wait_s, lease_s=lease_s), _timeout=timeout)

    async def ack(self, lease: str, result: Any = UNSET) -> bool:
        params = {"lease": lease}  # type: Dict[str, Any]
        if result is not UNSET:
            params["result"] = result
        return await self.call("ack", params)

    async def nack(self, lease: str, error: Union[str, Dict[str, Any]], retryable: Optional[bool] = None) -> bool:
        return await self.call("nack", _params(lease=lease, error=error, retryable=retryable))

    async def extend(self, lease: str, lease_s: Optional[float] = None) -> Dict[str, Any]:
        return await self.call("extend", _params(lease=lease, lease_s=lease_s))

"""Black-box harness for jobkernel: start kernels, talk JSON-RPC 2.0 to them.

Standard library only. Every receive has a timeout so no test can hang.

    k = Kernel(binary, home, config_toml)      # usually via the `kernel` / `kernel_factory` fixtures
    k.start(); c = k.client(); c.call("stats")
    k.stop()  -> exit code (SIGTERM, waits, kills and reports if it had to)
    k.kill9(); k.start()                        # restart on the same db
"""

from __future__ import annotations

import collections
import json
import os
import re
import select
import signal
import socket
import subprocess
import time

DEFAULT_TIMEOUT = 5.0

RFC3339_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

# A config most tests use: async_api types stay `pending` until someone fetches them (embedded
# broker, docs/promises.md §5.4), which makes job states deterministic without any worker process.
BASE_CONFIG = """
[pipeline]
cancel_grace = "1s"
backoff_base = "1s"
backoff_max = "2s"

[workflow]
publishing = true
auto_publish = false

[types.remote]
mode = "async_api"
max_attempts = 3

[types.remote2]
mode = "async_api"
max_attempts = 3
"""


class RPCError(Exception):
    def __init__(self, code, message, data=None, response=None):
        super().__init__(f"JSON-RPC error {code}: {message} data={data!r}")
        self.code = code
        self.message = message
        self.data = data
        self.response = response

    @property
    def reason(self):
        return self.data.get("reason") if isinstance(self.data, dict) else None


class ProtocolError(AssertionError):
    """The peer broke the framing or the protocol (e.g. answered in the wrong framing)."""


class ChannelTimeout(AssertionError):
    """Nothing (or not the expected thing) arrived in time."""


class ChannelEOF(AssertionError):
    """The peer closed its side."""


def _id_key(i):
    return json.dumps(i, sort_keys=True)


def encode(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def frame(body: bytes, framing: str) -> bytes:
    if framing == "lsp":
        return b"Content-Length: %d\r\n\r\n" % len(body) + body
    return body + b"\n"


class Channel:
    """A JSON-RPC channel in one framing ("ndjson" or "lsp").

    Responses are matched by id; notifications (events) are buffered separately in `events`;
    responses with `id: null` land in `null_responses`; batch replies (arrays) in `batches`.
    `recv_message` / `recv_raw` bypass the buffers and return the next message from the wire.
    """

    def __init__(self, framing="ndjson"):
        assert framing in ("ndjson", "lsp")
        self.framing = framing
        self.buf = bytearray()
        self.eof = False
        self.events = collections.deque()
        self.responses = {}
        self.null_responses = collections.deque()
        self.batches = collections.deque()
        self._next_id = 1

    # -- transport, provided by subclasses
    def _send(self, data: bytes):
        raise NotImplementedError

    def _recv_some(self, timeout: float) -> bytes | None:
        """Bytes, b'' on EOF, None on timeout."""
        raise NotImplementedError

    # -- sending
    def send_raw(self, data: bytes):
        self._send(data)

    request_raw = send_raw

    def send_obj(self, obj):
        self._send(frame(encode(obj), self.framing))

    def new_id(self):
        i = self._next_id
        self._next_id += 1
        return i

    def request(self, method, params=None, id=None):
        """Send a request without waiting; returns its id."""
        if id is None:
            id = self.new_id()
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send_obj(msg)
        return id

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send_obj(msg)

    # -- receiving, raw
    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ChannelTimeout("timed out waiting for data from the kernel")
        data = self._recv_some(remaining)
        if data is None:
            raise ChannelTimeout("timed out waiting for data from the kernel")
        if data == b"":
            self.eof = True
            raise ChannelEOF("kernel closed the connection")
        self.buf += data

    def _try_frame(self):
        """One complete frame body from the buffer, or None."""
        if self.framing == "ndjson":
            while True:
                i = self.buf.find(b"\n")
                if i < 0:
                    if self.buf.lstrip()[:15].lower().startswith(b"content-length"):
                        raise ProtocolError(f"expected NDJSON, got LSP framing: {bytes(self.buf[:80])!r}")
                    return None
                line = bytes(self.buf[:i])
                del self.buf[: i + 1]
                if line.strip() == b"":
                    continue
                if line.lower().startswith(b"content-length"):
                    raise ProtocolError(f"expected NDJSON, got LSP framing: {line[:80]!r}")
                return line
        # lsp
        stripped = self.buf.lstrip()
        if stripped[:1] in (b"{", b"["):
            raise ProtocolError(f"expected Content-Length framing, got NDJSON: {bytes(self.buf[:80])!r}")
        i = self.buf.find(b"\r\n\r\n")
        if i < 0:
            return None
        headers = bytes(self.buf[:i]).decode("ascii", "replace")
        length = None
        for h in headers.split("\r\n"):
            name, _, value = h.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length is None:
            raise ProtocolError(f"LSP header without Content-Length: {headers!r}")
        if len(self.buf) < i + 4 + length:
            return None
        body = bytes(self.buf[i + 4 : i + 4 + length])
        del self.buf[: i + 4 + length]
        return body

    def recv_raw(self, timeout=DEFAULT_TIMEOUT) -> bytes:
        """Next frame body off the wire (not from the buffers)."""
        deadline = time.monotonic() + timeout
        while True:
            body = self._try_frame()
            if body is not None:
                return body
            self._fill(deadline)

    def recv_message(self, timeout=DEFAULT_TIMEOUT):
        """Next parsed message off the wire (not from the buffers)."""
        body = self.recv_raw(timeout)
        try:
            return json.loads(body)
        except ValueError as e:
            raise ProtocolError(f"kernel sent invalid JSON: {body[:200]!r}: {e}")

    def read_until_eof(self, timeout=DEFAULT_TIMEOUT):
        """All messages until the kernel closes its side; fails on timeout."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                out.append(self.recv_message(max(0.0, deadline - time.monotonic())))
            except ChannelEOF:
                if self.buf.strip():
                    raise ProtocolError(f"trailing partial frame at EOF: {bytes(self.buf[:200])!r}")
                return out

    def assert_silent(self, duration=0.3):
        """Nothing arrives within `duration`."""
        try:
            m = self.recv_message(duration)
        except ChannelTimeout:
            return
        raise AssertionError(f"expected no message, got {m!r}")

    # -- receiving, dispatched
    def _dispatch(self, msg):
        if isinstance(msg, list):
            self.batches.append(msg)
        elif isinstance(msg, dict) and "method" in msg:
            self.events.append(msg)
        elif isinstance(msg, dict) and "id" in msg:
            if msg["id"] is None:
                self.null_responses.append(msg)
            else:
                self.responses[_id_key(msg["id"])] = msg
        else:
            raise ProtocolError(f"unexpected message from kernel: {msg!r}")

    def pump(self, timeout):
        self._dispatch(self.recv_message(timeout))

    def wait_response(self, id, timeout=DEFAULT_TIMEOUT):
        """The full response object for `id` (other messages are buffered)."""
        key = _id_key(id)
        deadline = time.monotonic() + timeout
        while key not in self.responses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout(f"no response for id {id!r} within {timeout}s")
            try:
                self.pump(remaining)
            except ChannelTimeout:
                raise ChannelTimeout(f"no response for id {id!r} within {timeout}s")
        msg = self.responses.pop(key)
        assert msg.get("jsonrpc") == "2.0", f"response without jsonrpc 2.0: {msg!r}"
        assert ("result" in msg) != ("error" in msg), f"response must have exactly one of result/error: {msg!r}"
        return msg

    @staticmethod
    def unwrap(msg):
        if "error" in msg:
            e = msg["error"]
            raise RPCError(e.get("code"), e.get("message"), e.get("data"), msg)
        return msg["result"]

    def call(self, method, params=None, id=None, timeout=DEFAULT_TIMEOUT):
        """Request and wait: the result, or RPCError."""
        i = self.request(method, params, id)
        return self.unwrap(self.wait_response(i, timeout))

    def call_error(self, method, params=None, timeout=DEFAULT_TIMEOUT) -> RPCError:
        """Request that must fail: the RPCError."""
        try:
            r = self.call(method, params, timeout=timeout)
        except RPCError as e:
            return e
        raise AssertionError(f"{method} {params!r} should have failed, got {r!r}")

    def call_many(self, calls, window=200, timeout=30.0):
        """Pipeline [(method, params), ...] in windows; results (or RPCError objects) in order."""
        out = []
        deadline = time.monotonic() + timeout
        for start in range(0, len(calls), window):
            chunk = calls[start : start + window]
            body = b"".join(
                frame(encode({"jsonrpc": "2.0", "id": self._next_id + j, "method": m, **({"params": p} if p is not None else {})}), self.framing)
                for j, (m, p) in enumerate(chunk)
            )
            ids = list(range(self._next_id, self._next_id + len(chunk)))
            self._next_id += len(chunk)
            self._send(body)
            for i in ids:
                msg = self.wait_response(i, max(0.1, deadline - time.monotonic()))
                try:
                    out.append(self.unwrap(msg))
                except RPCError as e:
                    out.append(e)
        return out

    # -- events
    def next_event(self, timeout=DEFAULT_TIMEOUT, method="event"):
        """Next buffered-or-incoming notification with `method`; returns its params."""
        deadline = time.monotonic() + timeout
        while True:
            for n, m in enumerate(self.events):
                if m.get("method") == method:
                    del self.events[n]
                    return m.get("params")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout(f"no {method!r} notification within {timeout}s")
            self.pump(remaining)

    def events_until(self, stop, timeout=DEFAULT_TIMEOUT):
        """`event` params in arrival order up to and including the first one where stop(ev)."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next_event(max(0.0, deadline - time.monotonic()))
            out.append(ev)
            if stop(ev):
                return out

    def notifications_until(self, stop, timeout=DEFAULT_TIMEOUT):
        """All notifications (any method) in arrival order up to and including stop(msg)."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            if self.events:
                m = self.events.popleft()
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ChannelTimeout(f"stop condition not met within {timeout}s; got {len(out)} notifications")
                self.pump(remaining)
                continue
            out.append(m)
            if stop(m):
                return out


class Client(Channel):
    """A client on the kernel's Unix socket."""

    def __init__(self, path, framing="ndjson", connect_timeout=DEFAULT_TIMEOUT):
        super().__init__(framing)
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(connect_timeout)
        self.sock.connect(path)
        self.sock.settimeout(30.0)  # bounds sendall if the kernel stops reading

    def _send(self, data):
        self.sock.sendall(data)

    def _recv_some(self, timeout):
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return None
        try:
            return self.sock.recv(1 << 16)
        except ConnectionResetError:
            return b""

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class PipeChannel(Channel):
    """A channel over a subprocess's stdin/stdout."""

    def __init__(self, proc, framing="ndjson"):
        super().__init__(framing)
        self.proc = proc
        self.wfd = proc.stdin.fileno()
        self.rfd = proc.stdout.fileno()

    def _send(self, data):
        view = memoryview(data)
        deadline = time.monotonic() + 30
        while view:
            _, w, _ = select.select([], [self.wfd], [], max(0.0, deadline - time.monotonic()))
            if not w:
                raise ChannelTimeout("kernel's stdin did not drain")
            n = os.write(self.wfd, view[: 1 << 16])
            view = view[n:]

    def _recv_some(self, timeout):
        r, _, _ = select.select([self.rfd], [], [], max(0.0, timeout))
        if not r:
            return None
        return os.read(self.rfd, 1 << 16)

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass


def _fail(msg):
    import pytest

    pytest.fail(msg, pytrace=False)


class KernelBase:
    def __init__(self, binary, home, config_toml=None, extra_args=(), db=None):
        self.binary = binary
        self.home = str(home)
        self.config_toml = config_toml
        self.extra_args = list(extra_args)
        self.db = db or os.path.join(self.home, "jobs.db")
        self.config_path = None
        if config_toml is not None:
            self.config_path = os.path.join(self.home, "jobkernel.toml")
            with open(self.config_path, "w") as f:
                f.write(config_toml)
        self.stderr_path = os.path.join(self.home, "kernel.stderr")
        self.stdout_path = os.path.join(self.home, "kernel.stdout")
        self.proc = None
        self.runs = 0
        self.expected_exit = False
        self.clients = []
        self.killed_in_teardown = False

    def env(self, extra=None):
        env = dict(os.environ)
        env.pop("JOBKERNEL_SOCKET", None)
        env["JOBKERNEL_HOME"] = self.home
        env["HOME"] = self.home
        if extra:
            env.update(extra)
        return env

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def rss_kb(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def wait_exit(self, timeout=10.0):
        """Wait for an exit the test expects; returns the exit code."""
        self.expected_exit = True
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"kernel did not exit within {timeout}s\n--- stderr ---\n{self.stderr_text()[-4000:]}")

    def stop(self, timeout=10.0, sig=signal.SIGTERM):
        """Signal the kernel and wait; kills it (and fails) if it hangs. Returns the exit code."""
        self.expected_exit = True
        for c in self.clients:
            c.close()
        self.clients = []
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            self.killed_in_teardown = True
            raise AssertionError(
                f"kernel did not exit within {timeout}s of {sig.name}; SIGKILLed it\n"
                f"--- stderr ---\n{self.stderr_text()[-4000:]}"
            )

    def kill9(self):
        self.expected_exit = True
        for c in self.clients:
            c.close()
        self.clients = []
        if self.running():
            self.proc.kill()
            self.proc.wait(10)

    def teardown(self):
        """Stop the kernel; returns a failure message or None."""
        for c in self.clients:
            c.close()
        self.clients = []
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            rc = self.proc.returncode
            if not self.expected_exit and rc != 0:
                return f"kernel exited unexpectedly with code {rc}\n--- stderr ---\n{self.stderr_text()[-4000:]}"
            return None
        try:
            rc = self.stop()
        except AssertionError as e:
            return str(e)
        if rc != 0:
            return f"kernel exited {rc} on SIGTERM (expected 0)\n--- stderr ---\n{self.stderr_text()[-4000:]}"
        return None


class Kernel(KernelBase):
    """A kernel serving a Unix socket: `serve --socket S --db D [--config C] [extra_args]`."""

    def __init__(self, binary, home, config_toml=None, extra_args=(), db=None, socket_path=None):
        super().__init__(binary, home, config_toml, extra_args, db)
        self.sock = socket_path or os.path.join(self.home, "kernel.sock")

    def argv(self):
        a = [self.binary, "serve", "--socket", self.sock, "--db", self.db]
        if self.config_path:
            a += ["--config", self.config_path]
        return a + self.extra_args

    def spawn(self):
        """Start the process without waiting for readiness."""
        assert not self.running(), "kernel already running"
        self.runs += 1
        self.expected_exit = False
        with open(self.stderr_path, "ab") as err, open(self.stdout_path, "ab") as out:
            err.write(f"\n===== kernel run {self.runs}: {' '.join(self.argv())}\n".encode())
            err.flush()
            self.proc = subprocess.Popen(
                self.argv(), cwd=self.home, env=self.env(), stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )
        return self.proc

    def start(self, timeout=10.0):
        self.spawn()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.expected_exit = True
                _fail(f"kernel exited with code {rc} before serving its socket\n--- stderr ---\n{self.stderr_text()[-4000:]}")
            if os.path.exists(self.sock):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    s.settimeout(1.0)
                    s.connect(self.sock)
                    return
                except OSError:
                    pass
                finally:
                    s.close()
            if time.monotonic() > deadline:
                _fail(f"kernel did not accept on {self.sock} within {timeout}s\n--- stderr ---\n{self.stderr_text()[-4000:]}")
            time.sleep(0.02)

    def restart(self, kill9=False):
        if kill9:
            self.kill9()
        else:
            rc = self.stop()
            assert rc == 0, f"kernel exited {rc} on SIGTERM"
        return self.start()

    def client(self, framing="ndjson"):
        c = Client(self.sock, framing)
        self.clients.append(c)
        return c

    def cli(self, *args, env=None, timeout=20.0, stdin=None):
        """Run the binary as a client CLI (cwd = home, env isolated). Returns CompletedProcess (text)."""
        try:
            return subprocess.run(
                [self.binary, *args],
                cwd=self.home,
                env=self.env(env),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"CLI {args!r} did not finish within {timeout}s: {e}")


class StdioKernel(KernelBase):
    """`serve --stdio --db D`: one client on the process's pipes (a Channel via `.chan`)."""

    def __init__(self, binary, home, config_toml=None, extra_args=(), db=None, framing="ndjson"):
        super().__init__(binary, home, config_toml, extra_args, db)
        self.framing = framing
        self.chan = None

    def argv(self):
        a = [self.binary, "serve", "--stdio", "--db", self.db]
        if self.config_path:
            a += ["--config", self.config_path]
        return a + self.extra_args

    def start(self):
        self.runs += 1
        self.expected_exit = False
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                self.argv(), cwd=self.home, env=self.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
            )
        self.chan = PipeChannel(self.proc, self.framing)
        return self

    def call(self, *a, **kw):
        return self.chan.call(*a, **kw)

    def close_stdin(self):
        self.chan.close_stdin()

    def teardown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.chan.close_stdin()
        msg = super().teardown()
        for f in (self.proc.stdout if self.proc else None,):
            if f:
                f.close()
        return msg


# ---- small helpers used across test files

_ANY = object()

def assert_error(msg, code, reason=None, id=_ANY):
    assert isinstance(msg, dict) and "error" in msg, f"expected an error response, got {msg!r}"
    assert msg["error"]["code"] == code, msg
    if reason is not None:
        assert (msg["error"].get("data") or {}).get("reason") == reason, msg
    if id is not _ANY:
        assert "id" in msg and msg["id"] == id, msg



def enqueue(c, type="remote", **params):
    r = c.call("enqueue", {"type": type, **params})
    return r["job"]


def run_serve(kernel, *args, timeout=10):
    """Runs `jobkernel serve ARGS` to completion (for servers expected to exit on their own)."""
    try:
        return subprocess.run([kernel.binary, "serve", *args], cwd=kernel.home, env=kernel.env(),
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"`serve {' '.join(args)}` should have exited, still running after {timeout}s")


def process_gone(pid):
    """True when `pid` has exited (reaped, or a zombie nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(l.startswith("State:") and l.split()[1] == "Z" for l in f)
    except (FileNotFoundError, ProcessLookupError):  # ESRCH: reaped between the open and the read
        return True


def wait_for(pred, timeout=DEFAULT_TIMEOUT, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last={last!r})")


def wait_status(c, job_id, statuses, timeout=DEFAULT_TIMEOUT):
    if isinstance(statuses, str):
        statuses = {statuses}
    job = {}

    def check():
        nonlocal job
        job = c.call("get", {"id": job_id})
        return job if job["status"] in statuses else None

    try:
        return wait_for(check, timeout, what=f"job {job_id} in {statuses}")
    except AssertionError:
        raise AssertionError(f"job {job_id} not in {statuses} within {timeout}s; last: {job!r}")


def latest_seq(kernel):
    """The kernel's latest event seq, via a throwaway subscription (docs/promises.md §7: `seq` in the result)."""
    c = kernel.client()
    try:
        return c.call("subscribe", {"kinds": ["settings.changed"]})["seq"]
    finally:
        c.close()


def list_all(c, params=None, limit=100):
    out, cursor = [], None
    for _ in range(10000):
        p = dict(params or {}, limit=limit)
        if cursor is not None:
            p["cursor"] = cursor
        r = c.call("list", p)
        out += r["jobs"]
        cursor = r["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("list paging did not terminate")


def fetch(c, types=("remote",), **kw):
    timeout = DEFAULT_TIMEOUT + kw.get("wait_s", 0)
    return c.call("fetch", {"types": list(types), **kw}, timeout=timeout)["leases"]


def fetch_one(c, types=("remote",), wait_s=3, **kw):
    leases = fetch(c, types, wait_s=wait_s, **kw)
    assert len(leases) == 1, f"expected one lease, got {leases!r}"
    return leases[0]


def json_depth(v):
    if isinstance(v, dict):
        return 1 + max((json_depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((json_depth(x) for x in v), default=0)
    return 0


def depth_nested(depth_total, id=1):
    """An enqueue request whose JSON nesting depth (every object/array counts, the request object
    itself being level 1) is exactly depth_total."""
    # request {} = 1, params {} = 2, payload {} = 3, then k arrays
    k = depth_total - 3
    inner = []
    for _ in range(k - 1):
        inner = [inner]
    msg = {"jsonrpc": "2.0", "id": id, "method": "enqueue", "params": {"type": "remote", "payload": {"x": inner}}}
    assert json_depth(msg) == depth_total
    return msg

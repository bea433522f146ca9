"""Helpers for the gateway's tests: a real kernel, a real gateway, and small HTTP/SSE clients.

Every wait is bounded; nothing here sleeps for a fixed time to "let things settle" where a
condition can be polled instead.
"""

import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def kernel_bin():
    return os.environ.get("JOBKERNEL_BIN") or os.path.join(REPO, ".build", "debug", "jobkernel")


def web_bin():
    return os.environ.get("JOBKERNEL_WEB_BIN") or os.path.join(os.path.dirname(kernel_bin()), "jobkernel-web")


def wait_for(condition, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Kernel:
    """`jobkernel serve` on a socket and database in `home`; restartable on the same database."""

    def __init__(self, home, config=None):
        self.home = home
        self.socket = os.path.join(home, "k.sock")
        self.db = os.path.join(home, "jobs.db")
        self.config = None
        if config is not None:
            self.config = os.path.join(home, "jobkernel.toml")
            with open(self.config, "w") as f:
                f.write(config)
        self.proc = None
        self.log = open(os.path.join(home, "kernel.log"), "ab")

    def start(self):
        args = [kernel_bin(), "serve", "--socket", self.socket, "--db", self.db]
        if self.config:
            args += ["--config", self.config]
        env = dict(os.environ, JOBKERNEL_HOME=self.home)
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=env)
        wait_for(self._answers, timeout=20, what=f"the kernel to answer at {self.socket}")
        return self

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"the kernel exited with {self.proc.returncode}; see {self.home}/kernel.log")
        try:
            self.call("stats")
            return True
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def _request(self, s, method, params):
        """Sends one request on `s` and reads its answer (the first line back)."""
        s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}).encode() + b"\n")
        data = b""
        while b"\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("the kernel closed the connection")
            data += chunk
        return json.loads(data.split(b"\n", 1)[0])

    def _connect(self, timeout):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.socket)
        return s

    def call(self, method, params=None, timeout=10.0):
        """One request on a fresh connection; returns the result or raises RuntimeError(error)."""
        with self._connect(timeout) as s:
            answer = self._request(s, method, params)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer["result"]

    def seq(self):
        return self.call("stats")["seq"]

    def hold_lease(self, types, timeout=10.0):
        """Fetches one unit on a connection kept open (a lease ends with its connection);
        returns (connection, lease). Close the connection to give the unit back."""
        s = self._connect(timeout)
        leases = self._request(s, "fetch", {"types": types, "wait_s": 5})["result"]["leases"]
        assert leases, f"no {types} unit was offered"
        return s, leases[0]


class Gateway:
    """`jobkernel-web` on a free port of `listen_host` (loopback). It prints a login link that
    works once (`login_url`) and the token (`token`, for Authorization: Bearer)."""

    def __init__(self, home, socket_path, extra=(), heartbeat=1, listen_host="127.0.0.1"):
        self.home = home
        self.log = open(os.path.join(home, "web.log"), "ab")
        args = [web_bin(), "--listen", f"{listen_host}:0", "--socket", socket_path, "--heartbeat", str(heartbeat), *extra]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log)
        self._pending = b""
        line = self._line(timeout=30)
        match = re.match(r"jobkernel web: (http://" + re.escape(listen_host) + r":(\d+))/\?login=([0-9a-f]{64})$", line)
        assert match, f"the gateway printed {line!r}, not its login link"
        self.base, self.port, self.login_code = match.group(1), int(match.group(2)), match.group(3)
        self.login_url = f"{self.base}/?login={self.login_code}"
        self.token_line = self._line(timeout=10)
        token = re.match(r"jobkernel web: token ([0-9a-f]{64}) ", self.token_line)
        self.token = token.group(1) if token else None
        self.host = f"{listen_host}:{self.port}"
        self.listen_host = listen_host
        self.logged_in = False

    def _line(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            if self.proc.poll() is not None:
                raise AssertionError(f"the gateway exited with {self.proc.returncode}; see {self.home}/web.log")
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"the gateway printed no line within {timeout}s")
            self._pending += os.read(self.proc.stdout.fileno(), 4096)
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode()

    def browser_url(self, fragment=""):
        """The login link the first time (it works once), then the plain URL (the cookie is set)."""
        if self.logged_in:
            return f"{self.base}/{fragment}"
        self.logged_in = True
        return self.login_url + fragment

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def auth(self):
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method, path, body=None, headers=None, token=True, timeout=10.0):
        """Returns (status, headers dict lowercased, body bytes)."""
        conn = http.client.HTTPConnection(self.listen_host, self.port, timeout=timeout)
        all_headers = dict(self.auth()) if token else {}
        all_headers.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        result = (response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        conn.close()
        return result

    def rpc(self, method, params=None):
        status, _, body = self.request("POST", "/rpc", {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}})
        assert status == 200, (status, body)
        answer = json.loads(body)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer["result"]


class SSE:
    """A raw `GET /events` reader: parses the stream into events and comments as they come."""

    def __init__(self, gateway, path="/events", headers=None, rcvbuf=None, token=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect((gateway.listen_host, gateway.port))
        lines = [f"GET {path} HTTP/1.1", f"Host: {gateway.host}", "Accept: text/event-stream"]
        if token:
            lines.append(f"Authorization: Bearer {gateway.token}")
        for key, value in (headers or {}).items():
            lines.append(f"{key}: {value}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.raw = b""
        self.body = b""
        self.status = None
        self.closed = False
        self.events = []  # dicts: id, event, data (str), comment
        self._chunked = False

    def _read(self, timeout):
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = self.sock.recv(1 << 16)
        except (ConnectionResetError, socket.timeout):
            chunk = b""
        if not chunk:
            self.closed = True
            return True
        self.raw += chunk
        self._parse()
        return True

    def _parse(self):
        if self.status is None:
            if b"\r\n\r\n" not in self.raw:
                return
            head, self.raw = self.raw.split(b"\r\n\r\n", 1)
            self.status = int(head.split(b" ")[1])
            self.headers = head.decode(errors="replace").lower()
            self._chunked = "transfer-encoding: chunked" in self.headers
        if self._chunked:
            while True:
                if b"\r\n" not in self.raw:
                    break
                size_line, rest = self.raw.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    self.closed = True
                    self.raw = b""
                    break
                if len(rest) < size + 2:
                    break
                self.body += rest[:size]
                self.raw = rest[size + 2:]
        else:
            self.body += self.raw
            self.raw = b""
        while b"\n\n" in self.body:
            block, self.body = self.body.split(b"\n\n", 1)
            event = {"id": None, "event": "message", "data": None, "comment": None}
            data_lines = []
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    event["comment"] = line[1:].strip()
                elif line.startswith("id: "):
                    event["id"] = line[4:]
                elif line.startswith("event: "):
                    event["event"] = line[7:]
                elif line.startswith("data: "):
                    data_lines.append(line[6:])
                elif line.startswith("retry: "):
                    event["retry"] = int(line[7:])
            if data_lines:
                event["data"] = "\n".join(data_lines)
            self.events.append(event)

    def wait(self, predicate, timeout=10.0, what="an SSE condition"):
        deadline = time.monotonic() + timeout
        while not predicate(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; got {self.events[-5:]}")
            if self.closed:
                raise AssertionError(f"the stream closed while waiting for {what}; got {self.events[-5:]}")
            self._read(min(remaining, 0.5))
        return self

    def read_until_closed(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"the stream did not close within {timeout}s")
            self._read(min(remaining, 0.5))
        return self

    def messages(self):
        """The kernel events received, as dicts, each with its SSE id."""
        out = []
        for e in self.events:
            if e["event"] == "message" and e["data"] is not None:
                obj = json.loads(e["data"])
                obj["_id"] = e["id"]
                out.append(obj)
        return out

    def seqs(self):
        return [m["seq"] for m in self.messages()]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# A command job that reports progress every `step` seconds, `total` steps, then succeeds.
def progress_argv(total=20, step=0.3, phase="work"):
    script = (
        "import json,sys,time\n"
        f"total={total}\n"
        "for i in range(total+1):\n"
        f"    print(json.dumps({{'progress':{{'current':i,'total':total,'phase':'{phase}'}}}}), flush=True)\n"
        f"    print('step %d' % i, flush=True)\n"
        f"    time.sleep({step})\n"
        "print(json.dumps({'result':{'steps':total}}), flush=True)\n"
    )
    return ["python3", "-c", script]

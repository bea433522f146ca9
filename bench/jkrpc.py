"""A minimal NDJSON JSON-RPC 2.0 client of the kernel's Unix socket, shared by bench/soak and
bench/killsoak. Standard library only; one connection per thread."""

from __future__ import annotations

import collections
import json
import select
import socket
import time

REPLY_TIMEOUT_S = 15.0  # a live kernel that does not answer this long is a stall


class Gone(Exception):
    """The connection closed or failed (the kernel was killed, or stopped)."""


class Stall(Exception):
    """A live kernel did not answer in time."""


class Conn:
    def __init__(self, path: str, timeout: float = 1.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise Gone(str(e))
        self.sock.settimeout(10.0)
        self.buf = bytearray()
        self.next_id = 1
        self.responses: dict[int, dict] = {}
        self.notes: collections.deque = collections.deque()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, method: str, params=None) -> int:
        i = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": i, "method": method}
        if params is not None:
            msg["params"] = params
        self.send_raw(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
        return i

    def send_raw(self, data: bytes):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Gone(str(e))

    def pump(self, timeout: float) -> bool:
        """Read what arrives within `timeout`; False if nothing did."""
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return False
        try:
            data = self.sock.recv(1 << 16)
        except OSError as e:
            raise Gone(str(e))
        if not data:
            raise Gone("EOF")
        self.buf += data
        while True:
            n = self.buf.find(b"\n")
            if n < 0:
                break
            line = bytes(self.buf[:n])
            del self.buf[: n + 1]
            if not line.strip():
                continue
            msg = json.loads(line)
            if "method" in msg:
                self.notes.append(msg)
            else:
                self.responses[msg.get("id")] = msg
        return True

    def wait(self, i: int, timeout: float = REPLY_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout
        while i not in self.responses:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Stall(f"no answer to request {i} within {timeout}s")
            self.pump(min(left, 0.5))
        return self.responses.pop(i)

    def call(self, method: str, params=None, timeout: float = REPLY_TIMEOUT_S):
        msg = self.wait(self.send(method, params), timeout)
        if "error" in msg:
            raise RPCError(msg["error"])
        return msg["result"]


class RPCError(Exception):
    def __init__(self, error: dict):
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.error = error



#!/usr/bin/env python3
"""A persistent worker for bench/soak, speaking the worker protocol (protocol/pools.md) on
stdin/stdout: NDJSON JSON-RPC, one `run` at a time.

Each run logs two lines and reports progress through its own channel (a client connection of the
kernel's), works a few milliseconds (300 ms for one job in twenty, so that cancels find it
running), and answers:
  - payload `{"fail": "retryable"}` fails its first attempt retryably, then succeeds;
  - payload `{"fail": "permanent"}` fails without retry (`data.retryable: false`);
  - an item whose value is `{"fail": true}` fails (retryably, so it uses up its attempts);
  - anything else succeeds with `{"by": "worker", "job": id, "item": index}`.
A `cancel {job_id}` for the run in hand is answered with -32800. Standard library only.
"""

import json
import os
import select
import sys
import time

out = sys.stdout.buffer
inp = sys.stdin.buffer.raw if hasattr(sys.stdin.buffer, "raw") else sys.stdin.buffer
buf = b""
pending = []  # messages read while a run was in hand, not yet handled
own_id = 0


def send(msg):
    out.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
    out.flush()


def call(method, params):
    """A request of the worker's own; the answer is read and dropped like any response."""
    global own_id
    own_id += 1
    send({"jsonrpc": "2.0", "id": f"w{own_id}", "method": method, "params": params})


def read_messages(timeout):
    """Messages that arrive within `timeout` (None: block until one does)."""
    global buf
    r, _, _ = select.select([inp], [], [], timeout)
    if not r:
        return []
    data = os.read(inp.fileno(), 1 << 16)
    if not data:
        sys.exit(0)
    buf += data
    msgs = []
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        if line.strip():
            msgs.append(json.loads(line))
    return msgs


def work(job_id, seconds):
    """Sleeps `seconds` unless a cancel for `job_id` comes first; True if cancelled."""
    until = time.monotonic() + seconds
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return False
        for m in read_messages(left):
            if m.get("method") == "cancel" and (m.get("params") or {}).get("job_id") == job_id:
                return True
            if m.get("method") == "run":
                pending.append(m)


def run(msg):
    p = msg["params"]
    job, item = p["job"], p.get("item")
    jid = job["id"]
    index = item["index"] if item else None
    payload = job.get("payload") or {}
    call("log", {"id": jid, "message": f"soak worker {os.getpid()} on job {jid} item {index}"})
    call("progress", {"id": jid, "current": 1, "total": 2, "phase": "work"})
    call("log", {"id": jid, "message": "x" * 200, "level": "debug"})
    slow = int(jid) % 20 == 0
    if work(jid, 0.3 if slow else 0.003):
        send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32800, "message": "cancelled",
                                                             "data": {"reason": "cancelled"}}})
        return
    fail = payload.get("fail") if isinstance(payload, dict) else None
    if fail == "retryable" and job.get("attempt", 1) <= 1:
        send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32000, "message": "soak: flaky"}})
        return
    if fail == "permanent":
        send({"jsonrpc": "2.0", "id": msg["id"],
              "error": {"code": -32000, "message": "soak: permanent", "data": {"retryable": False}}})
        return
    if item and isinstance(item.get("value"), dict) and item["value"].get("fail"):
        send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32000, "message": "soak: bad item"}})
        return
    send({"jsonrpc": "2.0", "id": msg["id"], "result": {"result": {"by": "worker", "job": jid, "item": index}}})


def main():
    while True:
        msgs = pending[:] or read_messages(None)
        pending.clear()
        for m in msgs:
            if m.get("method") == "run":
                run(m)
            # cancels for runs already answered, and answers to our own calls: nothing to do


if __name__ == "__main__":
    main()

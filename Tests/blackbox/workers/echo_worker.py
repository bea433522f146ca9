#!/usr/bin/env python3
"""A persistent worker for the tests, speaking the worker protocol (docs/promises.md §5.2) on stdin/stdout.

The job payload says what to do: {"result": X} answers X; {"sleep": S} works S seconds
(sending heartbeats unless "silent" is true); {"fail": MSG, "retryable": B} answers an error;
{"exit": N} exits the process mid-run; {"progress": N} reports N progress steps first;
{"child": TYPE} enqueues a job of TYPE (the parent defaults to the job in hand); {"answer": X}
answers the run with X as the JSON-RPC result, verbatim; {"flood": N} sends N `log` notifications
as fast as the pipe takes them; {"mark": PATH} appends the job's id to PATH when the run begins.
"""
import json
import os
import select
import sys
import time

next_id = 1000
cancelled = set()
pending_lines = []


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


stdin_bytes = b""


def read_line(timeout):
    """The next line from the kernel, or None after `timeout` seconds (None: wait for ever).

    Reads fd 0 itself: `select` on a buffered `sys.stdin` misses a second line (a `cancel` that
    came with its `run`) that `readline` already pulled into Python's buffer."""
    global stdin_bytes
    if pending_lines:
        return pending_lines.pop(0)
    deadline = None if timeout is None else time.monotonic() + timeout
    while b"\n" not in stdin_bytes:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        r, _, _ = select.select([0], [], [], left)
        if not r:
            return None
        chunk = os.read(0, 65536)
        if not chunk:
            sys.exit(0)
        stdin_bytes += chunk
    line, _, stdin_bytes = stdin_bytes.partition(b"\n")
    return line.decode("utf-8") + "\n"


def call(method, params):
    """A request to the kernel; notifications that arrive meanwhile are kept for later."""
    global next_id
    next_id += 1
    my_id = next_id
    send({"jsonrpc": "2.0", "id": my_id, "method": method, "params": params})
    while True:
        line = read_line(10)
        if line is None:
            raise RuntimeError("no answer to " + method)
        msg = json.loads(line)
        if msg.get("id") == my_id and "method" not in msg:
            return msg
        if msg.get("method") == "cancel":
            cancelled.add(msg["params"]["job_id"])
        else:
            pending_lines.append(line)


def run(req_id, params):
    job = params["job"]
    p = job["payload"] if isinstance(job["payload"], dict) else {}
    jid = job["id"]
    sys.stderr.write(f"worker {os.getpid()} runs job {jid}\n")
    sys.stderr.flush()
    first_run = True
    if "mark" in p:
        if os.path.exists(p["mark"]):
            first_run = jid not in open(p["mark"]).read().split()
        with open(p["mark"], "a") as f:
            f.write(jid + "\n")
    if "deaf_first" in p and first_run:
        time.sleep(float(p["deaf_first"]))  # deaf to `cancel`: only a kill ends this
    for i in range(int(p.get("progress", 0))):
        call("progress", {"id": jid, "current": i + 1, "total": int(p["progress"])})
    if "child" in p:
        call("enqueue", {"type": p["child"], "payload": {"from_worker": jid}})
    if "flood" in p:
        lines = (json.dumps({"jsonrpc": "2.0", "method": "log",
                             "params": {"id": jid, "message": "flood line %07d, padded to about sixty" % i}})
                 for i in range(int(p["flood"])))
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
    if "exit" in p:
        sys.exit(int(p["exit"]))
    if "sleep" in p:
        end = time.time() + float(p["sleep"])
        while time.time() < end:
            line = read_line(0.2)
            if line:
                msg = json.loads(line)
                if msg.get("method") == "cancel":
                    cancelled.add(msg["params"]["job_id"])
            if jid in cancelled:
                send({"jsonrpc": "2.0", "id": req_id, "error": {"code": -32800, "message": "cancelled", "data": {"reason": "cancelled"}}})
                return
            if not p.get("silent"):
                send({"jsonrpc": "2.0", "method": "heartbeat", "params": {"job_id": jid}})
    if "fail" in p:
        send({"jsonrpc": "2.0", "id": req_id, "error": {"code": -32000, "message": p["fail"],
                                                           "data": {"retryable": p.get("retryable", True)}}})
        return
    if "answer" in p:
        send({"jsonrpc": "2.0", "id": req_id, "result": p["answer"]})
        return
    result = p.get("result", {"pid": os.getpid(), "item": params.get("item"), "policy": os.sched_getscheduler(0)})
    send({"jsonrpc": "2.0", "id": req_id, "result": {"result": result}})


while True:
    line = read_line(None)
    msg = json.loads(line)
    if msg.get("method") == "run":
        run(msg["id"], msg["params"])
    elif msg.get("method") == "cancel":
        cancelled.add(msg["params"]["job_id"])

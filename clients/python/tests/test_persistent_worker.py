"""The persistent-worker helper driven over pipes: the test plays the kernel's side of §5.2."""

import json
import os
import queue
import subprocess
import sys
import threading
import time

import pytest

from conftest import HERE, PKG_SRC

WORKER = str(HERE / "workers" / "demo_worker.py")


class KernelSide(object):
    def __init__(self, env=None):
        e = dict(os.environ)
        e["PYTHONPATH"] = str(PKG_SRC) + os.pathsep + e.get("PYTHONPATH", "")
        e.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e
        )
        self.inbox = queue.Queue()
        self.stderr_lines = []
        self.raw_stdout = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        self.next_id = 100

    def _read(self):
        for line in self.proc.stdout:
            self.raw_stdout.append(line)
            self.inbox.put(json.loads(line))
        self.inbox.put(None)

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line.decode("utf-8", "replace").rstrip("\n"))

    def send(self, msg):
        msg = dict(msg, jsonrpc="2.0")
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def recv(self, timeout=5.0):
        try:
            msg = self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("worker sent nothing within %ss; stderr: %s" % (timeout, self.stderr_lines[-10:]))
        assert msg is not None, "worker closed stdout; stderr: %s" % self.stderr_lines[-10:]
        return msg

    def run(self, payload, job_id="7", item=None, items=None):
        self.next_id += 1
        job = {"id": job_id, "type": "demo", "payload": payload, "attempt": 1, "status": "running"}
        self.send({"id": self.next_id, "method": "run", "params": {"job": job, "item": item, "items": items}})
        return self.next_id

    def expect_response(self, rid, timeout=5.0, ignore=("heartbeat",)):
        deadline = time.monotonic() + timeout
        while True:
            msg = self.recv(max(0.01, deadline - time.monotonic()))
            if msg.get("method") in ignore:
                continue
            assert msg.get("id") == rid and "method" not in msg, msg
            return msg

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture
def worker():
    w = KernelSide({"JOBKERNEL_HEARTBEAT_S": "0.2"})
    yield w
    if w.proc.poll() is None:
        w.close()


def test_run_answers_result(worker):
    rid = worker.run({"action": "echo", "v": 1})
    msg = worker.expect_response(rid)
    assert msg["result"] == {"result": {"payload": {"action": "echo", "v": 1}, "item": None}}
    rid = worker.run({"action": "echo"}, item={"index": 3, "value": "x"})
    assert worker.expect_response(rid)["result"]["result"]["item"] == {"index": 3, "value": "x"}
    assert worker.close() == 0  # EOF on stdin: the worker exits cleanly


def test_batch_answers_items(worker):
    rid = worker.run({"action": "batch"}, items=[{"index": 0, "value": "a"}, {"index": 1, "value": "b"}])
    assert worker.expect_response(rid)["result"] == {
        "items": [{"index": 0, "status": "success", "result": "a"}, {"index": 1, "status": "success", "result": "b"}]
    }


def test_progress_and_log_go_back_over_the_channel(worker):
    rid = worker.run({"action": "progress"}, job_id="42")
    req = worker.recv()
    while req.get("method") == "heartbeat":
        req = worker.recv()
    assert req["method"] == "progress" and req["params"] == {"id": "42", "current": 1, "total": 2, "phase": "half"}
    worker.send({"id": req["id"], "result": {"current": 1, "total": 2, "percent": 50.0, "phase": "half", "message": None}})
    req = worker.recv()
    while req.get("method") == "heartbeat":
        req = worker.recv()
    assert req["method"] == "log" and req["params"] == {"id": "42", "message": "module-level log", "level": "info"}
    worker.send({"id": req["id"], "result": {"seq": 1}})
    msg = worker.expect_response(rid)
    assert msg["result"]["result"] == {"progress": {"current": 1, "total": 2, "percent": 50.0, "phase": "half", "message": None}, "log": {"seq": 1}}


def test_kernel_error_reaches_handler_as_typed_error(worker):
    rid = worker.run({"action": "enqueue"})
    req = worker.recv()
    while req.get("method") == "heartbeat":
        req = worker.recv()
    assert req["method"] == "enqueue" and req["params"] == {"type": "child", "payload": {"x": 1}}
    worker.send({"id": req["id"], "error": {"code": -32002, "message": "unknown type child", "data": {"reason": "unknown_type"}}})
    msg = worker.expect_response(rid)
    assert msg["error"]["data"]["exception"] == "UnknownType"
    assert msg["error"]["data"]["retryable"] is True


def test_exceptions_map_to_errors(worker):
    rid = worker.run({"action": "fail"})
    err = worker.expect_response(rid)["error"]
    assert err["message"] == "nope" and err["data"]["retryable"] is True and err["data"]["exception"] == "ValueError"
    rid = worker.run({"action": "permanent"})
    err = worker.expect_response(rid)["error"]
    assert err["message"] == "bad input" and err["data"]["retryable"] is False and err["data"]["hint"] == "fix"


def test_cancel_answers_32800(worker):
    rid = worker.run({"action": "wait_cancel"}, job_id="9")
    time.sleep(0.2)
    worker.send({"method": "cancel", "params": {"job_id": "9"}})
    t0 = time.monotonic()
    err = worker.expect_response(rid, timeout=3)["error"]
    assert err["code"] == -32800 and err["data"]["reason"] == "cancelled"
    assert time.monotonic() - t0 < 1.0
    # the worker is free again
    rid = worker.run({"action": "echo"})
    assert "result" in worker.expect_response(rid)


def test_cancel_of_a_handler_that_ignores_it(worker):
    rid = worker.run({"action": "ignore_cancel"}, job_id="10")
    time.sleep(0.2)
    worker.send({"method": "cancel", "params": {"job_id": "10"}})
    err = worker.expect_response(rid, timeout=5)["error"]  # interrupted after cancel_grace (0.5 s)
    assert err["code"] == -32800


def test_cancel_for_another_job_is_ignored(worker):
    rid = worker.run({"action": "slow", "s": 0.5}, job_id="11")
    worker.send({"method": "cancel", "params": {"job_id": "999"}})
    assert worker.expect_response(rid)["result"] == {"result": "slow done"}


def test_heartbeats_while_running(worker):
    rid = worker.run({"action": "slow", "s": 1.0}, job_id="12")
    beats = 0
    deadline = time.monotonic() + 5
    while True:
        msg = worker.recv(max(0.01, deadline - time.monotonic()))
        if msg.get("method") == "heartbeat":
            assert msg["params"] == {"job_id": "12"} and "id" not in msg
            beats += 1
            continue
        assert msg["id"] == rid
        break
    assert beats >= 2
    time.sleep(0.5)
    assert worker.inbox.empty()  # idle: no heartbeats


def test_stdout_is_reserved_for_the_protocol(worker):
    rid = worker.run({"action": "print"})
    assert worker.expect_response(rid)["result"] == {"result": 1}
    worker.close()
    assert all(json.loads(l) for l in worker.raw_stdout)
    assert "this goes to stderr, not the protocol" in worker.stderr_lines
    assert "child-output" in worker.stderr_lines


def test_protocol_errors(worker):
    worker.send({"id": 1, "method": "nope"})
    assert worker.expect_response(1)["error"]["code"] == -32601
    worker.proc.stdin.write(b"not json\n")
    worker.proc.stdin.flush()
    msg = worker.recv()
    assert msg["id"] is None and msg["error"]["code"] == -32700
    rid = worker.run({"action": "slow", "s": 0.5})
    rid2 = worker.run({"action": "echo"})
    busy = worker.expect_response(rid2)
    assert busy["error"]["code"] == -32007
    assert worker.expect_response(rid)["result"] == {"result": "slow done"}

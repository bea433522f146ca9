"""docs/promises.md §9: durability and recovery after kill -9 (and graceful restarts)."""

import os
import signal
import threading
import time

import jk
from jk import enqueue, fetch_one, list_all


def test_every_acknowledged_enqueue_survives_kill9(kernel):
    c = kernel.client()
    n = 300
    body = b"".join(
        jk.frame(jk.encode({"jsonrpc": "2.0", "id": i, "method": "enqueue",
                            "params": {"type": "remote", "payload": {"i": i}}}), "ndjson")
        for i in range(n))
    c.send_raw(body)
    acked = {}
    deadline = time.monotonic() + 30
    while len(acked) < n:
        msg = c.recv_message(timeout=max(0.1, deadline - time.monotonic()))
        assert "result" in msg, msg
        acked[msg["id"]] = msg["result"]["job"]["id"]
    kernel.kill9()  # as soon as the last ack arrived
    kernel.start()
    c = kernel.client()
    jobs = {j["id"]: j for j in list_all(c, limit=1000)}
    missing = [i for i, jid in acked.items() if jid not in jobs]
    assert not missing, f"{len(missing)} acknowledged jobs lost after kill -9"
    for i, jid in acked.items():
        assert jobs[jid]["payload"] == {"i": i}
        assert jobs[jid]["status"] == "pending"


def test_kill9_mid_stream_keeps_every_acked_job(kernel):
    c = kernel.client()
    n = 2000
    body = b"".join(
        jk.frame(jk.encode({"jsonrpc": "2.0", "id": i, "method": "enqueue", "params": {"type": "remote"}}), "ndjson")
        for i in range(n))

    def send():
        try:
            c.send_raw(body)
        except OSError:
            pass  # the kernel died under us: expected

    t = threading.Thread(target=send, daemon=True)
    t.start()
    acked = []
    for _ in range(200):  # kill after some, not all, acks
        msg = c.recv_message(timeout=10)
        acked.append(msg["result"]["job"]["id"])
    kernel.kill9()
    t.join(10)
    kernel.start()
    ids = {j["id"] for j in list_all(kernel.client(), limit=1000)}
    assert set(acked) <= ids


def test_leased_unit_comes_back_with_attempt_counted(kernel):
    c = kernel.client()
    job = enqueue(c)
    fetch_one(c)
    assert c.call("get", {"id": job["id"]})["attempt"] == 1
    kernel.kill9()
    kernel.start()
    c = kernel.client()
    l = fetch_one(c, wait_s=8)
    assert l["job"]["id"] == job["id"]
    assert c.call("get", {"id": job["id"]})["attempt"] == 2
    c.call("ack", {"lease": l["lease"], "result": "ok"})
    assert c.call("get", {"id": job["id"]})["status"] == "success"


def test_old_lease_is_dead_after_restart(kernel):
    c = kernel.client()
    enqueue(c)
    old = fetch_one(c)
    kernel.kill9()
    kernel.start()
    c = kernel.client()
    assert c.call_error("ack", {"lease": old["lease"]}).code == -32005


def test_idempotency_keys_hold_after_kill9(kernel):
    c = kernel.client()
    p = {"type": "remote", "payload": {"a": 1}, "idempotency_key": "durable-key", "created_by": "me"}
    first = c.call("enqueue", p)["job"]
    kernel.kill9()
    kernel.start()
    c = kernel.client()
    again = c.call("enqueue", p)
    assert again["duplicate"] is True and again["job"]["id"] == first["id"]
    e = c.call_error("enqueue", dict(p, payload={"a": 2}))
    assert e.code == -32003 and e.data.get("job_id") == first["id"]


def test_acknowledged_changes_survive_kill9(kernel):
    c = kernel.client()
    a = enqueue(c)
    b = enqueue(c)
    c.call("cancel", {"id": a["id"]})
    l = fetch_one(c)
    assert l["job"]["id"] == b["id"]
    c.call("log", {"id": b["id"], "message": "before crash"})
    c.call("ack", {"lease": l["lease"], "result": {"r": 1}})
    c.call("settings.set", {"key": "workflow.publishing", "value": False})
    kernel.kill9()
    kernel.start()
    c = kernel.client()
    assert c.call("get", {"id": a["id"]})["status"] == "cancelled"
    got = c.call("get", {"id": b["id"]})
    assert got["status"] == "success" and got["result"] == {"r": 1}
    assert [l["message"] for l in c.call("logs", {"id": b["id"]})["lines"]] == ["before crash"]
    assert c.call("settings.get", {"key": "workflow.publishing"}) == {"workflow.publishing": False}


def test_events_replay_after_kill9(kernel):
    c = kernel.client()
    ids = [enqueue(c)["id"] for _ in range(5)]
    before = jk.latest_seq(kernel)
    kernel.kill9()
    kernel.start()
    s = kernel.client()
    top = s.call("subscribe", {"since": 0})["seq"]
    assert top >= before
    evs = s.events_until(lambda e: e["seq"] >= top, timeout=10)
    assert [e["seq"] for e in evs] == list(range(1, top + 1))
    assert [e["job_id"] for e in evs if e["kind"] == "job.created"] == ids
    # new events continue after the old ones
    enqueue(kernel.client())
    ev = s.events_until(lambda e: e["kind"] == "job.created")[-1]
    assert ev["seq"] > top


def test_handler_process_dies_with_kernel(kernel, tmp_path):
    # docs/promises.md §5.1 "A handler dies with its kernel" and 9 "no handler ... of the old kernel is left
    # running". Uses the built-in `command` type.
    pidfile = os.path.join(kernel.home, "handler.pid")
    c = kernel.client()
    enqueue(c, "command", payload={"argv": ["sh", "-c", f"echo $$ > {pidfile}; exec sleep 60"]})
    jk.wait_for(lambda: os.path.exists(pidfile) and open(pidfile).read().strip(), 10, what="handler started")
    pid = int(open(pidfile).read().strip())
    kernel.kill9()

    try:
        jk.wait_for(lambda: jk.process_gone(pid), 5, what=f"handler {pid} to die with the kernel")
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def test_running_command_job_requeued_after_kill9(kernel):
    c = kernel.client()
    job = enqueue(c, "command", payload={"argv": ["sleep", "30"]})
    jk.wait_status(c, job["id"], "running", timeout=10)
    kernel.kill9()
    kernel.start()
    c = kernel.client()
    got = jk.wait_for(lambda: (lambda j: j if j["attempt"] >= 2 or j["status"] in ("pending", "scheduled") else None)(
        c.call("get", {"id": job["id"]})), 10, what="requeue")
    assert got["status"] in ("pending", "scheduled", "running")
    c.call("cancel", {"id": job["id"]})


def test_graceful_restart_keeps_everything(kernel):
    c = kernel.client()
    ids = [enqueue(c, payload={"i": i})["id"] for i in range(20)]
    kernel.restart()
    got = [j["id"] for j in list_all(kernel.client())]
    assert got == list(reversed(ids))

import threading
import time

import pytest

import jobkernel
from jobkernel import PermanentError, PullWorker


def test_pull_worker_end_to_end(kernel, client):
    seen = []

    def handler(task):
        seen.append((task.job_id, task.item and task.item["index"], task.attempt))
        task.progress(current=1, total=2, phase="work")
        task.log("working on %s" % (task.item or task.payload))
        if task.item is not None:
            return {"item": task.item["value"] * 2}
        return {"echo": task.payload}

    jobs = [client.enqueue("remote", {"n": i}) for i in range(3)]
    itemized = client.enqueue("remote", items=[1, 2, 3])
    wc = kernel.client()
    w = PullWorker(wc, ["remote"], handler, wait_s=1, lease_s=5)
    th = w.start(max_units=6, idle_timeout=15)
    finals = [j.wait(timeout=15) for j in jobs + [itemized]]
    th.join(15)
    assert not th.is_alive()
    assert w.acked == 6 and w.nacked == 0 and w.lost == 0
    for i, f in enumerate(finals[:3]):
        assert f["status"] == "success" and f["result"] == {"echo": {"n": i}}
        assert f["progress"]["phase"] == "work"
    assert finals[3]["status"] == "success" and finals[3]["items"]["success"] == 3
    lines = client.logs(jobs[0].id)["lines"]
    assert lines[0]["message"].startswith("working on")
    wc.close()


def test_pull_worker_failures(kernel, client):
    def handler(task):
        kind = task.payload["kind"]
        if kind == "permanent":
            raise PermanentError("bad input", {"hint": "fix it"})
        if kind == "flaky" and task.attempt < 2:
            raise RuntimeError("try again")
        return "ok:%s" % task.attempt

    perm = client.enqueue("remote", {"kind": "permanent"}, max_attempts=3)
    flaky = client.enqueue("remote", {"kind": "flaky"}, max_attempts=3)
    wc = kernel.client()
    w = PullWorker(wc, "remote", handler, wait_s=0.5, lease_s=5)
    th = w.start(max_units=3, idle_timeout=15)
    p = perm.wait(15)
    f = flaky.wait(15)
    th.join(15)
    assert p["status"] == "failed" and p["attempt"] == 1
    assert "bad input" in p["error"]["message"]
    assert f["status"] == "success" and f["result"] == "ok:2" and f["attempt"] == 2
    assert w.nacked == 2 and w.acked == 1
    wc.close()


def test_pull_worker_extends_lease_and_stops_on_cancel(kernel, client):
    started = threading.Event()
    outcome = {}

    def handler(task):
        started.set()
        t0 = time.monotonic()
        try:
            while True:
                task.sleep(0.05)  # raises Cancelled once an extend answers LeaseExpired
                if time.monotonic() - t0 > 20:
                    return "not cancelled?"
        except jobkernel.Cancelled:
            outcome["cancelled_after"] = time.monotonic() - t0
            raise

    long_job = client.enqueue("remote", {"long": True})
    wc = kernel.client()
    # lease of 1 s, extended every 0.3 s: a run of 2 s only survives if extend works
    w = PullWorker(wc, "remote", handler, wait_s=0.5, lease_s=1, extend_every=0.3)
    th = w.start(max_units=1, idle_timeout=20)
    assert started.wait(10)
    time.sleep(2.0)
    assert client.get(long_job.id)["status"] == "running"
    assert client.get(long_job.id)["attempt"] == 1  # lease never expired
    assert client.cancel(long_job.id)["status"] == "cancelled"
    th.join(10)
    assert not th.is_alive()
    assert w.lost == 1 and w.acked == 0
    assert outcome["cancelled_after"] > 2.0
    assert client.get(long_job.id)["status"] == "cancelled"
    wc.close()


def test_pull_worker_ack_after_cancel_is_lease_expired(kernel, client):
    """A handler that ignores cancellation: its ack answers LeaseExpired and the worker moves on."""
    job = client.enqueue("remote")
    gate = threading.Event()

    def handler(task):
        gate.wait(10)
        return "late"

    wc = kernel.client()
    w = PullWorker(wc, "remote", handler, wait_s=0.5, lease_s=30)
    th = w.start(max_units=1, idle_timeout=10)
    deadline = time.monotonic() + 10
    while client.get(job.id)["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    client.cancel(job.id)
    gate.set()
    th.join(10)
    assert w.lost == 1 and w.acked == 0
    assert client.get(job.id)["status"] == "cancelled"
    wc.close()


def test_pull_worker_stop(kernel):
    wc = kernel.client()
    w = PullWorker(wc, "remote", lambda t: None, wait_s=0.3)
    th = w.start()
    time.sleep(0.5)
    w.stop()
    th.join(5)
    assert not th.is_alive()
    wc.close()

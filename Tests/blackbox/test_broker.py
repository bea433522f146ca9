"""docs/promises.md §5.4: the embedded broker (async_api units offered via fetch/ack/nack/extend).

`lease_s` is a `fetch` parameter in protocol/protocol.md (not a type config key), so short leases are asked
for per fetch. Backoff is configured short in jk.BASE_CONFIG (base 1 s, max 2 s).
"""

import threading
import time

import jk
from jk import enqueue, fetch, fetch_one, wait_status


def test_fetch_without_work_returns_empty(client):
    assert fetch(client) == []


def test_fetch_lease_shape_and_job_running(client):
    job = enqueue(client, payload={"p": 1})
    lease = fetch_one(client)
    assert isinstance(lease["lease"], str) and lease["lease"]
    assert lease["job"]["id"] == job["id"]
    assert lease["job"]["payload"] == {"p": 1}
    assert lease["item"] is None
    got = client.call("get", {"id": job["id"]})
    assert got["status"] == "running"
    assert got["attempt"] == 1
    assert got["started_at"] is not None


def test_fetch_only_requested_types(client):
    enqueue(client, "remote2")
    assert fetch(client, ["remote"]) == []
    assert len(fetch(client, ["remote", "remote2"])) == 1


def test_fetch_order_priority_then_age(client):
    low = enqueue(client, priority=10)
    mid1 = enqueue(client, priority=50)
    mid2 = enqueue(client, priority=50)
    high = enqueue(client, priority=95)
    order = [fetch_one(client)["job"]["id"] for _ in range(4)]
    assert order == [high["id"], mid1["id"], mid2["id"], low["id"]]


def test_fetch_max(client):
    for _ in range(5):
        enqueue(client)
    leases = fetch(client, max=3)
    assert len(leases) == 3
    assert len({l["lease"] for l in leases}) == 3
    assert len(fetch(client, max=10)) == 2


def test_ack_completes_with_result(client):
    job = enqueue(client)
    lease = fetch_one(client)
    client.call("ack", {"lease": lease["lease"], "result": {"answer": 42}})
    got = client.call("get", {"id": job["id"]})
    assert got["status"] == "success"
    assert got["result"] == {"answer": 42}
    assert got["finished_at"] is not None and got["error"] is None


def test_ack_twice_is_lease_expired(client):
    enqueue(client)
    lease = fetch_one(client)
    client.call("ack", {"lease": lease["lease"]})
    e = client.call_error("ack", {"lease": lease["lease"]})
    assert e.code == -32005 and e.reason == "lease_expired"


def test_unknown_lease(client):
    for m, p in [("ack", {}), ("nack", {"error": "x"}), ("extend", {})]:
        e = client.call_error(m, dict(p, lease="no-such-lease"))
        assert e.code == -32005 and e.reason == "lease_expired", m


def _items_job(client, n, **kw):
    job = enqueue(client, items=[f"v{i}" for i in range(n)], **kw)
    leases = fetch(client, max=n, wait_s=2)
    assert len(leases) == n
    by_index = {l["item"]["index"]: l for l in leases}
    assert sorted(by_index) == list(range(n))
    for i, l in by_index.items():
        assert l["item"]["value"] == f"v{i}"
        assert l["job"]["id"] == job["id"]
    return job, by_index


def test_items_all_acked_success(client):
    job, leases = _items_job(client, 3)
    for l in leases.values():
        client.call("ack", {"lease": l["lease"], "result": l["item"]["index"]})
    got = client.call("get", {"id": job["id"]})
    assert got["status"] == "success"
    assert got["items"]["success"] == 3 and got["items"]["running"] == 0
    if got["progress"] is not None:
        assert got["progress"]["current"] == 3 and got["progress"]["total"] == 3


def test_items_some_failed_partial_success(client):
    job, leases = _items_job(client, 3)
    client.call("ack", {"lease": leases[0]["lease"]})
    client.call("nack", {"lease": leases[1]["lease"], "error": {"message": "bad input"}, "retryable": False})
    mid = client.call("get", {"id": job["id"]})
    assert mid["status"] == "running"
    assert mid["items"]["success"] == 1 and mid["items"]["failed"] == 1 and mid["items"]["running"] == 1
    client.call("ack", {"lease": leases[2]["lease"]})
    got = client.call("get", {"id": job["id"]})
    assert got["status"] == "partial_success"
    assert got["items"] == {"total": 3, "pending": 0, "running": 0, "success": 2, "failed": 1, "cancelled": 0}


def test_items_all_failed(client):
    job, leases = _items_job(client, 2)
    client.call("nack", {"lease": leases[0]["lease"], "error": "string error", "retryable": False})
    client.call("nack", {"lease": leases[1]["lease"], "error": {"message": "obj error", "code": 7}, "retryable": False})
    got = client.call("get", {"id": job["id"]})
    assert got["status"] == "failed"
    assert got["items"]["failed"] == 2


def test_nack_non_retryable_fails_job(client):
    job = enqueue(client)
    l = fetch_one(client)
    client.call("nack", {"lease": l["lease"], "error": "nope", "retryable": False})
    got = client.call("get", {"id": job["id"]})
    assert got["status"] == "failed"
    assert got["error"]["message"] == "nope"


def test_nack_retryable_backs_off_then_runs_again(client):
    job = enqueue(client)
    l1 = fetch_one(client)
    client.call("nack", {"lease": l1["lease"], "error": {"message": "flaky"}})  # retryable defaults true
    got = client.call("get", {"id": job["id"]})
    assert got["status"] == "scheduled", got  # waits its backoff (docs/promises.md §8.2)
    l2 = fetch_one(client, wait_s=6)
    assert l2["job"]["id"] == job["id"]
    assert client.call("get", {"id": job["id"]})["attempt"] == 2
    client.call("ack", {"lease": l2["lease"]})
    assert client.call("get", {"id": job["id"]})["status"] == "success"


def test_nack_retryable_without_attempts_left_fails(client):
    job = enqueue(client, max_attempts=1)
    l = fetch_one(client)
    client.call("nack", {"lease": l["lease"], "error": "flaky", "retryable": True})
    got = client.call("get", {"id": job["id"]})
    assert got["status"] == "failed" and got["error"]["message"] == "flaky"


def test_lease_expiry_puts_unit_back_with_attempt_counted(client):
    job = enqueue(client)
    l1 = fetch_one(client, lease_s=1)
    assert client.call("get", {"id": job["id"]})["attempt"] == 1
    l2 = fetch_one(client, wait_s=8, lease_s=30)
    assert l2["job"]["id"] == job["id"] and l2["lease"] != l1["lease"]
    assert client.call("get", {"id": job["id"]})["attempt"] == 2
    e = client.call_error("ack", {"lease": l1["lease"]})
    assert e.code == -32005 and e.reason == "lease_expired"
    client.call("ack", {"lease": l2["lease"], "result": 1})
    assert client.call("get", {"id": job["id"]})["status"] == "success"


def test_lease_expiry_with_no_attempts_left_fails(client):
    job = enqueue(client, max_attempts=1)
    fetch_one(client, lease_s=1)
    got = wait_status(client, job["id"], "failed", timeout=6)
    assert got["error"]["message"] == "lease expired"


def test_ack_after_expiry_is_lease_expired(client):
    enqueue(client, max_attempts=1)
    l = fetch_one(client, lease_s=1)
    time.sleep(2.0)
    e = client.call_error("ack", {"lease": l["lease"], "result": 1})
    assert e.code == -32005 and e.reason == "lease_expired"


def test_extend_keeps_lease_alive(client):
    job = enqueue(client, max_attempts=1)
    l = fetch_one(client, lease_s=1)
    for _ in range(4):
        time.sleep(0.5)
        client.call("extend", {"lease": l["lease"], "lease_s": 1})
    client.call("ack", {"lease": l["lease"]})
    assert client.call("get", {"id": job["id"]})["status"] == "success"


def test_fetch_long_poll_returns_when_work_arrives_and_connection_keeps_serving(kernel):
    a = kernel.client()
    b = kernel.client()
    fid = a.request("fetch", {"types": ["remote"], "wait_s": 8})
    # the same connection answers other calls while the fetch waits
    t0 = time.monotonic()
    assert isinstance(a.call("stats", {}, timeout=3), dict)
    assert a.call("list", {}, timeout=3)["jobs"] == []
    assert time.monotonic() - t0 < 2
    time.sleep(0.3)
    job = enqueue(b)
    t1 = time.monotonic()
    r = a.unwrap(a.wait_response(fid, timeout=6))
    assert time.monotonic() - t1 < 2, "fetch should return promptly once work is enqueued"
    assert [l["job"]["id"] for l in r["leases"]] == [job["id"]]


def test_fetch_wait_times_out_empty(client):
    t0 = time.monotonic()
    assert fetch(client, wait_s=1) == []
    assert 0.8 <= time.monotonic() - t0 < 4


def test_closing_fetching_connection_puts_units_back(kernel):
    a = kernel.client()
    b = kernel.client()
    job = enqueue(b)
    fetch_one(a)
    assert b.call("get", {"id": job["id"]})["status"] == "running"
    a.close()
    l = fetch_one(b, wait_s=8)
    assert l["job"]["id"] == job["id"]
    assert b.call("get", {"id": job["id"]})["attempt"] == 2


def test_cancel_leased_job_is_immediate_and_leases_die(client):
    job = enqueue(client, items=[1, 2, 3])
    leases = fetch(client, max=3)
    assert len(leases) == 3
    client.call("ack", {"lease": leases[0]["lease"]})
    r = client.call("cancel", {"id": job["id"]})
    assert r["status"] == "cancelled"
    assert r["items"]["success"] == 1 and r["items"]["cancelled"] == 2
    for m, p in [("extend", {}), ("ack", {"result": 1}), ("nack", {"error": "x"})]:
        e = client.call_error(m, dict(p, lease=leases[1]["lease"]))
        assert e.code == -32005, m
    e = client.call_error("ack", {"lease": leases[2]["lease"]})
    assert e.code == -32005
    assert client.call("get", {"id": job["id"]})["status"] == "cancelled"


def test_cancel_leased_single_job(client):
    job = enqueue(client)
    l = fetch_one(client)
    assert client.call("cancel", {"id": job["id"]})["status"] == "cancelled"
    assert client.call_error("ack", {"lease": l["lease"]}).code == -32005
    assert fetch(client) == []


def test_progress_and_log_on_leased_job(kernel):
    w = kernel.client()
    c = kernel.client()
    job = enqueue(c)
    fetch_one(w)
    p = w.call("progress", {"id": job["id"], "current": 3, "total": 10, "phase": "infer", "message": "going"})
    assert p["current"] == 3 and p["total"] == 10 and p["phase"] == "infer"
    assert abs(p["percent"] - 30.0) < 1e-6
    r = w.call("log", {"id": job["id"], "message": "hello from worker", "level": "info"})
    assert isinstance(r["seq"], int)

    def progressed():
        g = c.call("get", {"id": job["id"]})
        return g if g["progress"] and g["progress"]["current"] == 3 else None

    g = jk.wait_for(progressed, 2, what="progress visible")  # reports may be coalesced <= 50 ms
    assert g["progress"]["total"] == 10 and g["progress"]["message"] == "going"
    assert g["last_activity_at"] is not None
    lines = c.call("logs", {"id": job["id"]})["lines"]
    assert [(l["seq"], l["message"]) for l in lines] == [(r["seq"], "hello from worker")]


def test_progress_on_item(client):
    job = enqueue(client, items=["a", "b"])
    fetch(client, max=2)
    p = client.call("progress", {"id": job["id"], "item": 1, "current": 1, "total": 4})
    assert isinstance(p, dict)


def test_retry_partial_success_reruns_only_failed_units(client):
    job, leases = _items_job(client, 3)
    client.call("ack", {"lease": leases[0]["lease"], "result": "r0"})
    client.call("ack", {"lease": leases[1]["lease"], "result": "r1"})
    client.call("nack", {"lease": leases[2]["lease"], "error": "bad", "retryable": False})
    assert client.call("get", {"id": job["id"]})["status"] == "partial_success"
    r = client.call("retry", {"id": job["id"]})
    assert r["status"] == "pending"
    assert r["items"]["success"] == 2 and r["items"]["pending"] == 1 and r["items"]["failed"] == 0
    again = fetch(client, max=5, wait_s=2)
    assert [l["item"]["index"] for l in again] == [2]
    assert client.call("get", {"id": job["id"]})["attempt"] == 1  # fresh attempts
    client.call("ack", {"lease": again[0]["lease"]})
    done = client.call("get", {"id": job["id"]})
    assert done["status"] == "success" and done["items"]["success"] == 3


def test_retry_failed_job_restarts_attempts(client):
    job = enqueue(client, max_attempts=2)
    l = fetch_one(client)
    client.call("nack", {"lease": l["lease"], "error": "x", "retryable": False})
    assert client.call("get", {"id": job["id"]})["status"] == "failed"
    r = client.call("retry", {"id": job["id"]})
    assert r["status"] == "pending"
    l2 = fetch_one(client)
    assert l2["job"]["id"] == job["id"]
    assert client.call("get", {"id": job["id"]})["attempt"] == 1


def test_retry_success_is_invalid_state(client):
    job = enqueue(client)
    client.call("ack", {"lease": fetch_one(client)["lease"]})
    e = client.call_error("retry", {"id": job["id"]})
    assert e.code == -32004 and e.data.get("status") == "success"


def test_retry_running_is_invalid_state(client):
    job = enqueue(client)
    fetch_one(client)
    e = client.call_error("retry", {"id": job["id"]})
    assert e.code == -32004 and e.data.get("status") == "running"


def test_concurrent_fetchers_never_share_a_unit(kernel):
    c = kernel.client()
    n = 30
    c.call_many([("enqueue", {"type": "remote", "payload": {"i": i}}) for i in range(n)])
    got, lock = [], threading.Lock()

    def worker():
        w = kernel.client()
        while True:
            leases = fetch(w, max=2)
            if not leases:
                return
            for l in leases:
                w.call("ack", {"lease": l["lease"]})
            with lock:
                got.extend(l["job"]["id"] for l in leases)

    ts = [threading.Thread(target=worker) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert len(got) == n and len(set(got)) == n
    assert {j["status"] for j in jk.list_all(c)} == {"success"}

import json
import os
import socket
import threading
import time

import pytest

import jobkernel
from jobkernel import Client


def lease_one(client, type_="remote", wait_s=5, **kw):
    res = client.fetch([type_], wait_s=wait_s, **kw)
    assert res["leases"], "no unit offered"
    return res["leases"][0]


def test_no_kernel_hint(tmp_path, monkeypatch):
    path = str(tmp_path / "nothing.sock")
    with pytest.raises(jobkernel.NoKernel) as ei:
        Client(path, timeout=2)
    assert "jobkernel serve" in str(ei.value)
    assert path in str(ei.value)
    assert isinstance(ei.value, ConnectionError)
    # default path resolution
    monkeypatch.setenv("JOBKERNEL_SOCKET", path)
    assert jobkernel.default_socket_path() == path
    monkeypatch.delenv("JOBKERNEL_SOCKET")
    monkeypatch.setenv("JOBKERNEL_HOME", str(tmp_path))
    assert jobkernel.default_socket_path() == str(tmp_path / "kernel.sock")
    monkeypatch.delenv("JOBKERNEL_HOME")
    assert jobkernel.default_socket_path().endswith(".local/state/jobkernel/kernel.sock")


def test_default_socket_from_env(kernel, monkeypatch):
    monkeypatch.setenv("JOBKERNEL_SOCKET", kernel.socket)
    with Client(timeout=5) as c:
        assert c.stats()["jobs"]["pending"] == 0


def test_enqueue_get_list(client):
    job = client.enqueue("remote", {"n": 1}, priority=70)
    assert isinstance(job, jobkernel.Job)
    assert job.id.isdigit() and job.status == "pending" and job.duplicate is False
    assert job.data["payload"] == {"n": 1} and job.data["priority"] == 70
    got = client.get(job.id)
    assert got["id"] == job.id and got["type"] == "remote"
    assert client.job(job.id).data["payload"] == {"n": 1}

    ids = [job.id] + [client.enqueue("other", {"n": i}).id for i in range(4)]
    page = client.list(type="other", limit=2)
    assert [j["id"] for j in page["jobs"]] == ids[:0:-1][:2]  # newest first
    assert page["next_cursor"]
    assert [j["id"] for j in client.iter_jobs(type="other", limit=2)] == ids[:0:-1]
    assert [j["id"] for j in client.list(type=["remote", "other"], limit=100)["jobs"]] == ids[::-1]
    assert client.list(status="cancelled")["jobs"] == []
    assert len(client.list(parent_id=None)["jobs"]) == 5


def test_enqueue_items_and_options(client):
    job = client.enqueue("remote", items=["a", "b", "c"], idempotency_key="k1", created_by="tester", max_attempts=2, manual=True)
    assert job.data["items"]["total"] == 3
    assert job.data["created_by"] == "tester" and job.data["max_attempts"] == 2 and job.data["manual"] is True
    dup = client.enqueue("remote", items=["a", "b", "c"], idempotency_key="k1", created_by="tester", max_attempts=2, manual=True)
    assert dup.duplicate is True and dup.id == job.id
    with pytest.raises(jobkernel.IdempotencyConflict) as ei:
        client.enqueue("remote", items=["x"], idempotency_key="k1", created_by="tester")
    assert ei.value.code == -32003 and ei.value.data["job_id"] == job.id
    sched = client.enqueue("remote", delay_s=3600)
    assert sched.status == "scheduled"
    child = client.enqueue("other", parent_id=job.id)
    assert child.data["parent_id"] == job.id
    assert client.get(job.id)["children"]["total"] == 1


def test_initialize_name_is_created_by(kernel):
    with kernel.client(name="py-test", version="1.0") as c:
        assert c.enqueue("remote").data["created_by"] == "py-test"
        res = c.initialize("renamed")
        assert res["protocol"] == "1" and res["server"]["name"] == "jobkernel"
        assert c.enqueue("remote").data["created_by"] == "renamed"


def test_cancel_and_retry(client):
    job = client.enqueue("remote", {"x": 1})
    done = job.cancel("superseded")
    assert done["status"] == "cancelled"
    assert done["error"]["message"] == "superseded"
    again = job.retry()
    assert again["status"] == "pending" and again["error"] is None
    with pytest.raises(jobkernel.InvalidState) as ei:
        client.retry(job.id)
    assert ei.value.code == -32004 and ei.value.data["status"] == "pending"
    # cancelling a terminal job returns it unchanged
    client.cancel(job.id)
    assert client.cancel(job.id)["status"] == "cancelled"


def test_progress_log_logs(client):
    job = client.enqueue("remote")
    with pytest.raises(jobkernel.InvalidState):
        client.progress(job.id, current=1)  # not running
    lease = lease_one(client)
    assert lease["job"]["id"] == job.id
    p = client.progress(job.id, current=3, total=10, phase="infer")
    assert p["percent"] == 30.0 and p["phase"] == "infer"
    p = client.progress(job.id, message="hi")
    assert p["current"] == 3 and p["message"] == "hi"
    seqs = [client.log(job.id, "line %d" % i, level="debug" if i % 2 else "info")["seq"] for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    page = client.logs(job.id, limit=2)
    assert [l["message"] for l in page["lines"]] == ["line 0", "line 1"] and page["next"] == 2
    assert [l["seq"] for l in client.iter_logs(job.id, limit=2)] == [1, 2, 3, 4, 5]
    assert [l["message"] for l in client.iter_logs(job.id, since=3)] == ["line 3", "line 4"]
    assert client.ack(lease["lease"], {"ok": True}) is True
    final = job.wait(timeout=5)
    assert final["status"] == "success" and final["result"] == {"ok": True}
    assert final["progress"]["phase"] == "infer"
    assert len(job.logs()) == 5


def test_wait_already_finished_and_live_and_timeout(client, kernel):
    job = client.enqueue("remote")
    lease = lease_one(client)
    with pytest.raises(TimeoutError):
        job.wait(timeout=0.3)
    other = kernel.client()

    def finish():
        time.sleep(0.3)
        other.ack(lease["lease"], 42)

    t = threading.Thread(target=finish)
    t.start()
    t0 = time.monotonic()
    final = job.wait(timeout=10)
    t.join(5)
    assert final["status"] == "success" and final["result"] == 42
    assert time.monotonic() - t0 < 5
    # already terminal: answered from the subscribe snapshot at once
    t0 = time.monotonic()
    assert client.job(job.id).wait(timeout=5)["status"] == "success"
    assert time.monotonic() - t0 < 1
    other.close()


def test_fetch_ack_nack_extend(client):
    j1 = client.enqueue("remote", max_attempts=1)
    lease = lease_one(client, lease_s=5)
    assert lease["attempt"] == 1 and lease["item"] is None
    ext = client.extend(lease["lease"], lease_s=10)
    assert ext["lease"] == lease["lease"] and ext["expires_at"]
    assert client.nack(lease["lease"], "boom", retryable=False) is True
    assert client.get(j1.id)["status"] == "failed"
    with pytest.raises(jobkernel.LeaseExpired) as ei:
        client.ack(lease["lease"])
    assert ei.value.code == -32005 and ei.value.reason == "lease_expired"
    assert client.fetch("remote", wait_s=0)["leases"] == []
    # retryable nack comes back after backoff
    j2 = client.enqueue("other", max_attempts=3)
    l1 = lease_one(client, "other")
    client.nack(l1["lease"], {"message": "flaky", "code": "E1"})
    l2 = lease_one(client, "other", wait_s=5)
    assert l2["job"]["id"] == j2.id and l2["attempt"] == 2
    client.ack(l2["lease"], "ok")
    assert j2.wait(5)["status"] == "success"


def test_cancel_leased_job_ends_lease(client):
    job = client.enqueue("remote")
    lease = lease_one(client)
    assert client.cancel(job.id)["status"] == "cancelled"
    with pytest.raises(jobkernel.LeaseExpired):
        client.extend(lease["lease"])
    with pytest.raises(jobkernel.LeaseExpired):
        client.ack(lease["lease"], 1)


def test_settings_schedules_stats_discover(client):
    assert client.settings_get() == {"workflow.auto_publish": False, "workflow.publishing": True}
    assert client.settings_get("workflow.publishing") == {"workflow.publishing": True}
    sub = client.subscribe(kinds=["settings.changed"], timeout=5)
    assert client.settings_set("workflow.auto_publish", True) == {"workflow.auto_publish": True}
    ev = next(sub)
    assert ev.kind == "settings.changed" and ev.data == {"key": "workflow.auto_publish", "value": True} and ev.job_id is None
    sub.close()
    with pytest.raises(jobkernel.InvalidParams) as ei:
        client.settings_set("nope", True)
    assert ei.value.field == "key"
    assert client.schedules() == []
    st = client.stats()
    assert set(["jobs", "seq", "leases"]) <= set(st)
    doc = client.discover()
    assert doc["openrpc"] and any(m["name"] == "enqueue" for m in doc["methods"])


def test_undeclared_toggle_is_refused_with_did_you_mean(client):
    with pytest.raises(jobkernel.InvalidParams) as ei:
        client.settings_set("workflow.publsihing", True)
    assert ei.value.field == "key" and "did you mean workflow.publishing?" in str(ei.value)
    with pytest.raises(jobkernel.InvalidParams) as ei:
        client.settings_get("workflow.brand_new")
    assert ei.value.field == "key"
    assert "workflow.brand_new" not in client.settings_get()


def test_call_raw(client):
    assert client.call("stats")["jobs"]["pending"] == 0
    job = client.call("enqueue", type="remote", payload={"a": 1})["job"]
    assert client.call("get", {"id": job["id"]})["payload"] == {"a": 1}


def test_integer_job_id_accepted(client):
    job = client.call("enqueue", type="remote")["job"]
    assert client.call("get", id=int(job["id"]))["id"] == job["id"]


def test_error_mapping(client, kernel):
    cases = [
        (lambda: client.call("no.such.method"), jobkernel.MethodNotFound, -32601, "method_not_found"),
        (lambda: client.call("$/anything"), jobkernel.MethodNotFound, -32601, "method_not_found"),
        (lambda: client.list(limit=0), jobkernel.InvalidParams, -32602, "invalid_params"),
        (lambda: client.call("get", id="1", bogus=1), jobkernel.InvalidParams, -32602, "invalid_params"),
        (lambda: client.get("987654"), jobkernel.JobNotFound, -32001, "not_found"),
        (lambda: client.enqueue("no_such_type"), jobkernel.UnknownType, -32002, "unknown_type"),
        (lambda: client.ack("no-such-lease"), jobkernel.LeaseExpired, -32005, "lease_expired"),
        (lambda: client.fetch("local"), jobkernel.InvalidParams, -32602, "invalid_params"),
    ]
    for fn, cls, code, reason in cases:
        with pytest.raises(cls) as ei:
            fn()
        e = ei.value
        assert isinstance(e, jobkernel.JobkernelError)
        assert e.code == code and e.reason == reason, (e, cls)
        assert e.message
    j = client.enqueue("remote", idempotency_key="same")
    with pytest.raises(jobkernel.IdempotencyConflict):
        client.enqueue("remote", {"other": True}, idempotency_key="same")
    with pytest.raises(jobkernel.InvalidState):
        client.retry(j.id)
    seq = client.stats()["seq"]
    with pytest.raises(jobkernel.InvalidParams):
        client.subscribe(since=seq + 100)
    with pytest.raises(jobkernel.InvalidParams) as ei:
        client.enqueue("remote", {"x": "y" * (1 << 20)})
    assert ei.value.reason == "too_large" and ei.value.field == "payload"


def test_error_mapping_framing_level(kernel):
    """-32700 and -32600 over a raw socket, mapped by the same function the client uses."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(kernel.socket)
    s.sendall(b'this is not json\n{"jsonrpc":"2.0","id":7,"method":"get","params":null}\n[]\n')
    f = s.makefile("rb")
    answers = [json.loads(f.readline()) for _ in range(3)]
    s.close()
    errs = [jobkernel.errors.error_from_response(a["error"]) for a in answers]
    assert isinstance(errs[0], jobkernel.ParseError) and answers[0]["id"] is None
    assert isinstance(errs[1], jobkernel.InvalidRequest) and answers[1]["id"] == 7
    assert isinstance(errs[2], jobkernel.InvalidRequest)
    for code, cls in jobkernel.errors.ERRORS_BY_CODE.items():
        e = jobkernel.errors.error_from_response({"code": code, "message": "m", "data": {"reason": "r"}})
        assert type(e) is cls and e.code == code
    e = jobkernel.errors.error_from_response({"code": -32099, "message": "custom"})
    assert type(e) is jobkernel.JobkernelError and e.code == -32099


def test_cursor_expired(make_kernel):
    # Pruning runs when the kernel starts (and then once a minute): fill the log, restart on the
    # same database with a 1 ms retention, and every event but the latest is gone.
    k = make_kernel('[limits]\nevent_retention = "1ms"\n', name="retain")
    with k.client() as c:
        for _ in range(3):
            c.enqueue("remote")
        last = c.stats()["seq"]
    k.stop()
    time.sleep(0.05)
    k2 = make_kernel('[limits]\nevent_retention = "1ms"\n', name="retain")
    with k2.client() as c:
        c.enqueue("remote")
        with pytest.raises(jobkernel.CursorExpired) as e:
            c.subscribe(since=0)
        assert e.value.code == -32006 and e.value.reason == "cursor_expired" and e.value.data["oldest_seq"] == last
        # oldest_seq - 1 is accepted: the replay starts at the latest event the first kernel wrote.
        sub = c.subscribe(since=last - 1, timeout=5)
        assert next(iter(sub)).seq == last
        sub.close()


def test_shutdown_then_calls_fail_cleanly(kernel):
    c1 = kernel.client(reconnect_timeout=1)
    c2 = kernel.client()
    c1.enqueue("remote")
    assert c2.shutdown() is True
    assert kernel.proc.wait(10) == 0
    assert not os.path.exists(kernel.socket)
    with pytest.raises(jobkernel.TransportError):  # ConnectionLost, or NoKernel on reconnect
        c1.stats()
    c1.close()
    c2.close()


def test_unavailable_after_shutdown(kernel):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(kernel.socket)
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"shutdown"}\n{"jsonrpc":"2.0","id":2,"method":"enqueue","params":{"type":"remote"}}\n')
    f = s.makefile("rb")
    answers = {}
    for _ in range(2):
        line = f.readline()
        if not line:
            break
        m = json.loads(line)
        answers[m["id"]] = m
    s.close()
    assert answers[1]["result"] is True
    e = jobkernel.errors.error_from_response(answers[2]["error"])
    assert isinstance(e, jobkernel.Unavailable) and e.code == -32007


def test_concurrent_threads_share_one_client(client):
    errors = []
    ids = []
    lock = threading.Lock()

    def work(n):
        try:
            for i in range(20):
                j = client.enqueue("other", {"t": n, "i": i})
                assert client.get(j.id)["payload"] == {"t": n, "i": i}
                with lock:
                    ids.append(j.id)
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(set(ids)) == 160


def test_fetch_long_poll_does_not_block_other_calls(kernel):
    c = kernel.client()
    got = {}

    def poll():
        got["res"] = c.fetch("remote", wait_s=5)

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    job = c.enqueue("remote", {"late": True})  # same connection, while fetch waits
    assert time.monotonic() - t0 < 2
    t.join(10)
    assert got["res"]["leases"][0]["job"]["id"] == job.id
    c.close()

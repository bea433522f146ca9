import threading
import time

import pytest

import jobkernel


def produce(kernel, n, type_="remote", payload_bytes=0, pause=0.0):
    """Enqueues n jobs from another connection in a thread; returns (thread, ids)."""
    ids = []

    def run():
        with kernel.client() as c:
            for i in range(n):
                payload = {"i": i}
                if payload_bytes:
                    payload["pad"] = "x" * payload_bytes
                ids.append(c.enqueue(type_, payload).id)
                if pause:
                    time.sleep(pause)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, ids


def collect(sub, n, timeout=20):
    events = []
    deadline = time.monotonic() + timeout
    while len(events) < n:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "only %d of %d events" % (len(events), n)
        events.append(sub.next(remaining))
    return events


def check_exactly_once(events, ids):
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "events out of order or duplicated"
    assert [e.job_id for e in events] == ids, "missed or duplicated jobs"


def test_subscribe_filters_and_order(client):
    sub = client.subscribe(types=["remote"], kinds=["job.created", "job.status"], timeout=5)
    assert sub.id and isinstance(sub.seq, int) and sub.jobs is None
    client.enqueue("other")  # filtered out by type
    job = client.enqueue("remote", {"a": 1})
    job.cancel()
    evs = collect(sub, 2)
    assert [e.kind for e in evs] == ["job.created", "job.status"]
    assert evs[0].data["job"]["id"] == job.id and evs[0].job_id == job.id
    assert evs[1].data["from"] == "pending" and evs[1].data["to"] == "cancelled"
    assert evs[0].seq < evs[1].seq and evs[0].seq > sub.seq
    with pytest.raises(TimeoutError):
        sub.next(0.2)
    sub.close()
    with pytest.raises(StopIteration):
        next(sub)


def test_subscribe_ids_snapshot_and_since_replay(client):
    job = client.enqueue("remote")
    seq0 = client.stats()["seq"]
    lease = client.fetch("remote", wait_s=2)["leases"][0]
    client.log(job.id, "hello")
    client.ack(lease["lease"], "r")
    # replay from seq0 with an ids filter: the job's snapshot plus every event after seq0
    with client.subscribe(ids=[job.id], since=seq0, timeout=5) as sub:
        assert sub.jobs[0]["id"] == job.id and sub.jobs[0]["status"] == "success"
        kinds = []
        while True:
            ev = sub.next(5)
            kinds.append(ev.kind)
            if ev.kind == "job.status" and ev.data["to"] == "success":
                break
        assert "job.log" in kinds and kinds.count("job.status") == 2


def test_unknown_ids_and_bad_since(client):
    with pytest.raises(jobkernel.JobNotFound):
        client.subscribe(ids=["424242"])
    with pytest.raises(jobkernel.InvalidParams):
        client.subscribe(since=client.stats()["seq"] + 5)
    with pytest.raises(jobkernel.InvalidParams):
        client.unsubscribe("not-a-subscription")


def test_resume_after_disconnect_mid_stream(kernel):
    n = 200
    c = kernel.client()
    sub = c.subscribe(types=["remote"], kinds=["job.created"], timeout=10)
    t, ids = produce(kernel, n, pause=0.001)
    events = []
    cuts = 0
    deadline = time.monotonic() + 30
    while len(events) < n:
        assert time.monotonic() < deadline
        events.append(sub.next(10))
        if len(events) in (20, 90, 150):
            c.disconnect()  # kill the connection mid-stream
            cuts += 1
    t.join(10)
    assert len(ids) == n
    check_exactly_once(events, ids)
    assert sub.reconnects == cuts == 3
    with pytest.raises(TimeoutError):
        sub.next(0.3)  # nothing extra
    sub.close()
    c.close()


def test_resume_after_socket_shutdown_by_peer(kernel):
    """The transport dies underneath (as if the kernel's side went away): same guarantees."""
    import socket as socketmod

    c = kernel.client()
    sub = c.subscribe(kinds=["job.created"], timeout=10)
    t, ids = produce(kernel, 60, pause=0.002)
    events = []
    while len(events) < 60:
        events.append(sub.next(10))
        if len(events) == 10:
            # shut the socket down without telling the client object
            conn = c._conn
            conn.rfile.raw._sock.shutdown(socketmod.SHUT_RDWR)
    t.join(10)
    check_exactly_once(events, ids)
    assert sub.reconnects >= 1
    sub.close()
    c.close()


def test_resume_after_subscription_dropped(make_kernel):
    kernel = make_kernel("[limits]\nmax_outbound_bytes = 32768\n")
    n = 300
    c = kernel.client()
    # queue_size=1: the reader thread stops reading while the consumer sleeps, so the kernel's
    # outbound buffer fills and it drops the subscription.
    sub = c.subscribe(types=["remote"], kinds=["job.created"], timeout=10, queue_size=1)
    t, ids = produce(kernel, n, payload_bytes=8192)
    time.sleep(1.5)
    events = collect(sub, n, timeout=60)
    t.join(30)
    check_exactly_once(events, ids)
    assert sub.drops >= 1, "the kernel never dropped the subscription"
    with pytest.raises(TimeoutError):
        sub.next(0.3)
    sub.close()
    c.close()


def test_resume_across_kernel_restart(make_kernel):
    k = make_kernel(name="restart")
    c = k.client(reconnect_timeout=20)
    sub = c.subscribe(types=["remote"], kinds=["job.created"], timeout=15)
    with k.client() as p:
        first = [p.enqueue("remote").id for _ in range(5)]
    got = collect(sub, 5)
    k.stop()
    k2 = make_kernel(name="restart")
    with k2.client() as p:
        second = [p.enqueue("remote").id for _ in range(5)]
    got += collect(sub, 5, timeout=30)
    check_exactly_once(got, first + second)
    assert sub.reconnects == 1
    sub.close()
    c.close()


def test_no_resume_raises(kernel):
    c = kernel.client()
    sub = c.subscribe(resume=False, timeout=5)
    c.disconnect()
    with pytest.raises(jobkernel.ConnectionLost):
        sub.next(5)
    c.close()

"""GET /events (docs/promises.md §14, §7): Server-Sent Events, `id:` = seq, resumable with no gap and no duplicate."""

import json
import os
import signal

import pytest

import web
from web import SSE


def subscribed(sse):
    """Waits for the stream's subscription: without `since`, a stream starts at the kernel's present."""
    return sse.wait(lambda s: any(e["event"] == "subscribed" for e in s.events), what="the subscribed event")


def enqueue(target, n, type_="command"):
    return [target.call("enqueue", {"type": type_, "payload": {"argv": ["true"]}})["job"]["id"] for _ in range(n)]


def test_each_event_has_its_seq_as_id_and_the_event_object_as_data(gateway, kernel):
    sse = SSE(gateway)
    sse.wait(lambda s: any(e["event"] == "subscribed" for e in s.events), what="the subscribed event")
    assert sse.status == 200 and "content-type: text/event-stream" in sse.headers
    assert any(e.get("retry") == 1000 for e in sse.events)
    ids = enqueue(kernel, 3)
    sse.wait(lambda s: sum(1 for m in s.messages() if m["kind"] == "job.status" and m["data"]["to"] == "success") >= 3,
             what="three jobs to finish")
    messages = sse.messages()
    for m in messages:
        assert m["_id"] == str(m["seq"])
        assert set(m) >= {"seq", "ts", "kind", "job_id", "data"}
    seqs = [m["seq"] for m in messages]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "no gap, no duplicate, in order"
    assert {m["job_id"] for m in messages if m["kind"] == "job.created"} == set(ids)
    sse.close()


@pytest.mark.parametrize("how", ["since", "last-event-id"])
def test_a_reconnect_resumes_after_its_seq(gateway, kernel, how):
    enqueue(kernel, 4)
    web.wait_for(lambda: kernel.call("stats")["jobs"]["success"] == 4, what="four jobs done")
    latest = kernel.seq()
    cut = latest // 2
    sse = SSE(gateway, f"/events?since={cut}") if how == "since" else SSE(gateway, "/events?since=0", headers={"Last-Event-ID": str(cut)})
    sse.wait(lambda s: s.messages() and s.messages()[-1]["seq"] == latest, what=f"the replay up to {latest}")
    assert sse.seqs() == list(range(cut + 1, latest + 1))
    subscribed = [e for e in sse.events if e["event"] == "subscribed"][0]
    assert subscribed["id"] == str(cut) and json.loads(subscribed["data"])["seq"] == latest
    enqueue(kernel, 1)
    sse.wait(lambda s: s.seqs()[-1] >= latest + 3, what="live events after the replay")
    seqs = sse.seqs()
    assert seqs == list(range(cut + 1, seqs[-1] + 1))
    sse.close()


def test_filters_select_ids_types_and_kinds(gateway, kernel):
    first, second = enqueue(kernel, 2)
    web.wait_for(lambda: kernel.call("stats")["jobs"]["success"] == 2, what="two jobs done")
    by_id = SSE(gateway, f"/events?since=0&ids={second}")
    by_kind = SSE(gateway, "/events?since=0&kinds=job.created,job.log")
    by_type = SSE(gateway, "/events?since=0&types=nosuchtype")
    latest = kernel.seq()
    by_id.wait(lambda s: any(m["kind"] == "job.status" and m["data"]["to"] == "success" for m in s.messages()), what="job 2 done")
    assert {m["job_id"] for m in by_id.messages()} == {second}
    by_kind.wait(lambda s: len([m for m in s.messages() if m["kind"] == "job.created"]) == 2, what="two job.created")
    assert {m["kind"] for m in by_kind.messages()} <= {"job.created", "job.log"}
    by_type.wait(lambda s: any(e["event"] == "subscribed" for e in s.events), what="subscribed")
    by_type.wait(lambda s: any(e["comment"] == "heartbeat" for e in s.events), timeout=5, what="a heartbeat")
    assert by_type.messages() == [] and latest > 0
    for s in (by_id, by_kind, by_type):
        s.close()


def test_a_bad_filter_is_the_kernels_error_as_an_error_event(gateway):
    sse = SSE(gateway, "/events?kinds=job.nonsense")
    sse.read_until_closed()
    errors = [e for e in sse.events if e["event"] == "error"]
    assert errors and json.loads(errors[0]["data"])["code"] == -32602
    status, _, body = gateway.request("GET", "/events?since=-4")
    assert status == 400 and b"since" in body


def test_an_idle_stream_gets_heartbeat_comments(gateway):
    sse = SSE(gateway)
    sse.wait(lambda s: sum(1 for e in s.events if e["comment"] == "heartbeat") >= 2, timeout=5, what="two heartbeats")
    sse.close()


def enqueue_and_see_every_seq(sse, kernel, n, done):
    """After a kernel restart: enqueues `n` jobs, waits until `done` jobs succeeded in all, and
    checks that the stream carried every seq once, through the kernel's latest."""
    enqueue(kernel, n)
    web.wait_for(lambda: kernel.call("stats")["jobs"]["success"] == done, what=f"{done} jobs done")
    latest = kernel.seq()
    sse.wait(lambda s: s.seqs() and s.seqs()[-1] == latest, timeout=15, what=f"seq {latest} after the restart")
    seqs = sse.seqs()
    assert seqs == list(range(seqs[0], latest + 1)), "every seq once, across the restart"


def test_the_stream_resumes_across_a_kernel_restart_with_no_gap(gateway, kernel):
    sse = subscribed(SSE(gateway))
    enqueue(kernel, 2)
    sse.wait(lambda s: len(s.seqs()) >= 2, what="events before the restart")
    kernel.stop()  # graceful: SIGTERM
    sse.wait(lambda s: any("went away" in (e["comment"] or "") or "waiting" in (e["comment"] or "") for e in s.events),
             what="the gateway to notice the kernel left")
    kernel.start()
    enqueue_and_see_every_seq(sse, kernel, 2, done=4)
    assert not sse.closed
    sse.close()


def test_the_stream_resumes_across_a_kernel_kill(gateway, kernel):
    sse = subscribed(SSE(gateway))
    enqueue(kernel, 1)
    sse.wait(lambda s: len(s.seqs()) >= 1, what="a first event")
    kernel.stop(signal.SIGKILL)
    kernel.start()
    enqueue_and_see_every_seq(sse, kernel, 1, done=2)
    sse.close()


def test_a_new_kernel_database_resets_the_stream(gateway, kernel):
    """A resume point the kernel never had (its database was replaced) is said with `event: reset`."""
    enqueue(kernel, 2)
    web.wait_for(lambda: kernel.call("stats")["jobs"]["success"] == 2, what="two jobs done")
    sse = SSE(gateway, f"/events?since={kernel.seq()}")
    sse.wait(lambda s: any(e["event"] == "subscribed" for e in s.events), what="subscribed")
    kernel.stop()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(kernel.db + suffix):
            os.remove(kernel.db + suffix)
    kernel.start()
    enqueue(kernel, 1)
    sse.wait(lambda s: any(e["event"] == "reset" for e in s.events), timeout=15, what="a reset event")
    sse.wait(lambda s: any(m["kind"] == "job.created" and m["job_id"] == "1" for m in s.messages()), timeout=15,
             what="the new kernel's first job")
    sse.close()


SMALL_OUTBOUND = """
[limits]
max_outbound_bytes = "64KiB"

[types.remote]
mode = "async_api"
"""


def test_a_subscriber_the_kernel_drops_is_closed_and_resumes_with_last_event_id(home):
    kernel = web.Kernel(home, SMALL_OUTBOUND).start()
    gateway = web.Gateway(home, kernel.socket)
    try:
        job = kernel.call("enqueue", {"type": "remote"})["job"]
        held, lease = kernel.hold_lease(["remote"])
        assert lease["job"]["id"] == job["id"]
        # A reader that reads nothing for a while: its kernel connection backs up.
        slow = SSE(gateway, "/events?since=0&kinds=job.log", rcvbuf=4096)
        slow.wait(lambda s: s.status == 200, what="the response head")
        line = "y" * 60000
        for _ in range(400):  # ~24 MB of events: more than every buffer between the kernel and the reader
            kernel.call("log", {"id": job["id"], "message": line})
        slow.read_until_closed(timeout=60)
        first = slow.seqs()
        assert first, "some events came before the drop"
        assert any("dropped" in (e["comment"] or "") for e in slow.events), "the gateway said why it closed"
        assert first == list(range(first[0], first[-1] + 1))
        # What EventSource does next: reconnect with Last-Event-ID.
        latest = kernel.seq()
        again = SSE(gateway, "/events?kinds=job.log", headers={"Last-Event-ID": str(first[-1])})
        again.wait(lambda s: s.seqs() and s.seqs()[-1] == latest, timeout=60, what=f"the rest up to {latest}")
        seqs = first + again.seqs()
        logs = [m for m in slow.messages() + again.messages() if m["kind"] == "job.log"]
        assert len(logs) == 400 and seqs == sorted(set(seqs)), "every log event exactly once"
        again.close()
        held.close()
    finally:
        gateway.stop()
        kernel.stop()


def test_a_gateway_started_before_the_kernel_serves_once_it_comes(home):
    kernel = web.Kernel(home)
    gateway = web.Gateway(home, kernel.socket)
    try:
        status, _, body = gateway.request("POST", "/rpc", {"jsonrpc": "2.0", "id": 1, "method": "stats"})
        assert status == 503 and b"jobkernel serve" in body
        sse = SSE(gateway)
        sse.wait(lambda s: any("waiting for the kernel" in (e["comment"] or "") for e in s.events), what="a waiting comment")
        kernel.start()
        subscribed(sse)
        job = kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}})["job"]
        sse.wait(lambda s: any(m["kind"] == "job.created" and m["job_id"] == job["id"] for m in s.messages()), what="the job")
        assert gateway.rpc("get", {"id": job["id"]})["id"] == job["id"]
        sse.close()
    finally:
        gateway.stop()
        kernel.stop()
    with open(f"{home}/web.log") as f:
        assert "no kernel answers" in f.read(), "the gateway said at start that no kernel answers"

"""docs/promises.md §7: events, subscriptions, replay, slow subscribers."""

import threading
import time

import jk
from jk import enqueue, fetch_one, latest_seq

EVENT_KINDS = {"job.created", "job.status", "job.progress", "job.log", "item.status", "settings.changed"}


def events_through(c, seq, timeout=10):
    """Events on `c` up to and including `seq` (unfiltered subscriptions see every seq)."""
    return c.events_until(lambda ev: ev["seq"] >= seq, timeout)


def assert_consecutive(evs, first, last):
    seqs = [e["seq"] for e in evs]
    assert seqs == list(range(first, last + 1)), f"expected seqs {first}..{last}, got {seqs}"


def test_subscribe_result_shape(client):
    r = client.call("subscribe", {})
    assert isinstance(r["subscription"], (str, int)) and not isinstance(r["subscription"], bool)
    assert isinstance(r["seq"], int) and r["seq"] >= 0


def test_event_shape_and_created(kernel):
    s = kernel.client()
    sub = s.call("subscribe", {})
    job = enqueue(kernel.client(), payload={"z": 1})
    ev = s.events_until(lambda e: e["kind"] == "job.created")[-1]
    assert set(ev) >= {"subscription", "seq", "ts", "kind", "job_id", "data"}
    assert ev["subscription"] == sub["subscription"]
    assert ev["seq"] > sub["seq"]
    assert jk.RFC3339_MS_Z.match(ev["ts"])
    assert ev["job_id"] == job["id"]
    assert ev["data"]["job"]["id"] == job["id"] and ev["data"]["job"]["payload"] == {"z": 1}


def test_status_event(kernel):
    s = kernel.client()
    s.call("subscribe", {"kinds": ["job.status"]})
    c = kernel.client()
    job = enqueue(c)
    c.call("cancel", {"id": job["id"]})
    ev = s.next_event()
    assert ev["kind"] == "job.status" and ev["job_id"] == job["id"]
    assert ev["data"]["from"] == "pending" and ev["data"]["to"] == "cancelled"
    assert ev["data"]["job"]["status"] == "cancelled"


def test_response_comes_before_first_event(kernel):
    c = kernel.client()
    for _ in range(5):
        enqueue(c)
    s = kernel.client()
    # replay from 0 makes events available immediately; the response must still be first on the wire
    s.send_raw(b'{"jsonrpc":"2.0","id":"sub","method":"subscribe","params":{"since":0}}\n')
    first = s.recv_message()
    assert first.get("id") == "sub" and "result" in first, first
    ev = s.recv_message()
    assert ev.get("method") == "event" and ev["params"]["seq"] == 1


def test_events_in_seq_order_gap_free_no_duplicates(kernel):
    s = kernel.client()
    start = s.call("subscribe", {})["seq"]
    c = kernel.client()
    ids = [r["job"]["id"] for r in c.call_many([("enqueue", {"type": "remote", "items": [1, 2]})] * 10)]
    for i in ids[:4]:
        c.call("cancel", {"id": i})
    c.call("settings.set", {"key": "workflow.auto_publish", "value": True})
    last = latest_seq(kernel)
    evs = events_through(s, last)
    assert_consecutive(evs, start + 1, last)
    assert all(e["kind"] in EVENT_KINDS for e in evs)
    created = [e["job_id"] for e in evs if e["kind"] == "job.created"]
    assert created == ids
    s.assert_silent(0.3)  # nothing beyond `last` (nothing else happened)


def test_two_subscribers_see_the_same_stream(kernel):
    a, b = kernel.client(), kernel.client()
    sa = a.call("subscribe", {})["seq"]
    sb = b.call("subscribe", {})["seq"]
    assert sa == sb
    c = kernel.client()
    for _ in range(5):
        enqueue(c)
    last = latest_seq(kernel)
    ea, eb = events_through(a, last), events_through(b, last)
    assert [(e["seq"], e["kind"], e["job_id"]) for e in ea] == [(e["seq"], e["kind"], e["job_id"]) for e in eb]


def test_filters_and_across_or_within(kernel):
    c = kernel.client()
    s_types = kernel.client()
    s_types.call("subscribe", {"types": ["remote"], "kinds": ["job.created", "job.status"]})
    s_or = kernel.client()
    s_or.call("subscribe", {"types": ["remote", "remote2"], "kinds": ["job.created"]})
    a = enqueue(c, "remote")
    b = enqueue(c, "remote2")
    c.call("cancel", {"id": a["id"]})
    c.call("cancel", {"id": b["id"]})
    c.call("settings.set", {"key": "workflow.auto_publish", "value": True})
    sentinel = enqueue(c, "remote", payload={"sentinel": True})
    evs = s_types.events_until(lambda e: e["kind"] == "job.created" and e["job_id"] == sentinel["id"])
    assert [(e["kind"], e["job_id"]) for e in evs] == [
        ("job.created", a["id"]), ("job.status", a["id"]), ("job.created", sentinel["id"])]
    evs = s_or.events_until(lambda e: e["job_id"] == sentinel["id"])
    assert [(e["kind"], e["job_id"]) for e in evs] == [
        ("job.created", a["id"]), ("job.created", b["id"]), ("job.created", sentinel["id"])]


def test_ids_filter_and_snapshots(kernel):
    c = kernel.client()
    a = enqueue(c)
    b = enqueue(c, items=[1, 2])
    other = enqueue(c)
    c.call("cancel", {"id": b["id"]})
    s = kernel.client()
    r = s.call("subscribe", {"ids": [b["id"], a["id"]]})
    assert [j["id"] for j in r["jobs"]] == [b["id"], a["id"]]  # in the order of ids
    assert r["jobs"][0]["status"] == "cancelled" and r["jobs"][1]["status"] == "pending"
    c.call("cancel", {"id": other["id"]})
    c.call("settings.set", {"key": "workflow.auto_publish", "value": True})
    c.call("cancel", {"id": a["id"]})
    evs = s.events_until(lambda e: e["kind"] == "job.status")
    assert [(e["kind"], e["job_id"]) for e in evs] == [("job.status", a["id"])]


def test_kinds_filter_settings_changed(kernel):
    s = kernel.client()
    s.call("subscribe", {"kinds": ["settings.changed"]})
    c = kernel.client()
    enqueue(c)
    c.call("settings.set", {"key": "workflow.publishing", "value": False})
    ev = s.next_event()
    assert ev["kind"] == "settings.changed"
    assert ev["job_id"] is None
    assert ev["data"] == {"key": "workflow.publishing", "value": False}


def test_since_replays_then_continues_live(kernel):
    c = kernel.client()
    for _ in range(5):
        enqueue(c)
    mid = latest_seq(kernel)
    for _ in range(5):
        enqueue(c)
    s = kernel.client()
    r = s.call("subscribe", {"since": mid})
    top = r["seq"]
    assert top > mid
    enqueue(c)
    last = latest_seq(kernel)
    assert_consecutive(events_through(s, last), mid + 1, last)


def test_since_seam_has_no_gap_or_duplicate_under_concurrent_writes(kernel):
    c = kernel.client()
    for _ in range(10):
        enqueue(c)
    since = latest_seq(kernel) - 5
    stop = threading.Event()
    errors = []

    def writer():
        w = kernel.client()
        try:
            while not stop.is_set():
                w.call_many([("enqueue", {"type": "remote"})] * 5)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=writer)
    t.start()
    try:
        time.sleep(0.2)
        s = kernel.client()
        r = s.call("subscribe", {"since": since})
        time.sleep(0.3)
    finally:
        stop.set()
        t.join(10)
    assert not errors, errors
    last = latest_seq(kernel)
    evs = events_through(s, last, timeout=15)
    assert r["seq"] >= since
    assert_consecutive(evs, since + 1, last)


def test_since_above_latest_is_invalid_params(client):
    top = client.call("subscribe", {})["seq"]
    e = client.call_error("subscribe", {"since": top + 1000})
    assert e.code == -32602


def test_since_zero_replays_everything(kernel):
    c = kernel.client()
    ids = [enqueue(c)["id"] for _ in range(3)]
    s = kernel.client()
    top = s.call("subscribe", {"since": 0})["seq"]
    evs = events_through(s, top)
    assert_consecutive(evs, 1, top)
    assert [e["job_id"] for e in evs if e["kind"] == "job.created"] == ids


def test_since_across_restart(kernel):
    c = kernel.client()
    ids = [enqueue(c)["id"] for _ in range(3)]
    before = latest_seq(kernel)
    kernel.restart()
    c = kernel.client()
    s = kernel.client()
    top = s.call("subscribe", {"since": 0})["seq"]
    assert top >= before
    evs = events_through(s, top)
    assert_consecutive(evs, 1, top)
    assert [e["job_id"] for e in evs if e["kind"] == "job.created"] == ids
    new = enqueue(c)
    ev = s.events_until(lambda e: e["kind"] == "job.created")[-1]
    assert ev["job_id"] == new["id"] and ev["seq"] > top
    s2 = kernel.client()
    s2.call("subscribe", {"since": before})
    evs2 = events_through(s2, ev["seq"])
    assert_consecutive(evs2, before + 1, ev["seq"])


def test_unsubscribe_stops_events(kernel):
    s = kernel.client()
    sub = s.call("subscribe", {})["subscription"]
    assert s.call("unsubscribe", {"subscription": sub}) is True
    s.events.clear()
    enqueue(kernel.client())
    latest_seq(kernel)
    s.call("stats", {})  # a round trip after the event was committed
    assert not [m for m in s.events if m.get("method") == "event"]


def test_progress_coalescing_keeps_log_gap_free(kernel):
    w = kernel.client()
    job = enqueue(w)
    fetch_one(w)
    s = kernel.client()
    start = s.call("subscribe", {})["seq"]
    w.call_many([("progress", {"id": job["id"], "current": i, "total": 50}) for i in range(1, 51)])
    time.sleep(0.2)  # past the 50 ms coalescing window
    w.call("log", {"id": job["id"], "message": "after"})
    last = latest_seq(kernel)
    evs = events_through(s, last)
    assert_consecutive(evs, start + 1, last)
    prog = [e for e in evs if e["kind"] == "job.progress"]
    assert 1 <= len(prog) < 50  # 50 pipelined reports arrive within one window: coalesced
    assert prog[-1]["data"]["progress"]["current"] == 50  # the last value wins
    currents = [e["data"]["progress"]["current"] for e in prog]
    assert currents == sorted(currents)
    assert evs[-1]["kind"] == "job.log" and evs[-1]["data"]["message"] == "after"


def test_last_progress_report_before_a_status_change_is_published_before_it(kernel):
    # docs/promises.md §7: a report still inside the 50 ms window when the job ends is published, and
    # before the job.status event.
    w = kernel.client()
    job = enqueue(w)
    lease = fetch_one(w)["lease"]
    s = kernel.client()
    s.call("subscribe", {"ids": [job["id"]], "kinds": ["job.progress", "job.status"]})
    w.call_many([("progress", {"id": job["id"], "current": 1, "total": 2}),
                 ("progress", {"id": job["id"], "current": 2, "total": 2}),
                 ("ack", {"lease": lease})])
    evs = s.events_until(lambda e: e["kind"] == "job.status")
    assert evs[-1]["data"]["to"] == "success"
    prog = [e["data"]["progress"]["current"] for e in evs if e["kind"] == "job.progress"]
    assert prog and prog[-1] == 2, evs
    s.assert_silent(0.2)  # and not published again when the window closes


def test_log_event(kernel):
    w = kernel.client()
    job = enqueue(w)
    fetch_one(w)
    s = kernel.client()
    s.call("subscribe", {"ids": [job["id"]], "kinds": ["job.log"]})
    r = w.call("log", {"id": job["id"], "message": "m1", "level": "error"})
    ev = s.next_event()
    assert ev["data"] == {"seq": r["seq"], "level": "error", "message": "m1"}


def test_item_status_events(kernel):
    w = kernel.client()
    job = enqueue(w, items=["a", "b"])
    s = kernel.client()
    s.call("subscribe", {"ids": [job["id"]], "kinds": ["item.status"]})
    for l in jk.fetch(w, max=2):
        if l["item"]["index"] == 0:
            w.call("ack", {"lease": l["lease"]})
        else:
            w.call("nack", {"lease": l["lease"], "error": "bad", "retryable": False})
    ends = {}

    def both_done(e):
        assert e["kind"] == "item.status" and e["job_id"] == job["id"]
        assert {"index", "from", "to"} <= set(e["data"])
        if e["data"]["to"] in ("success", "failed"):
            ends[e["data"]["index"]] = e["data"]["to"]
        return len(ends) == 2

    s.events_until(both_done)
    assert ends == {0: "success", 1: "failed"}


SLOW_CONFIG = jk.BASE_CONFIG + """
[limits]
max_outbound_bytes = 65536
"""


def _flood_logs(w, job_id, batches, per_batch=200, size=2000, probe=None):
    line = "x" * size
    for b in range(batches):
        w.call_many([("log", {"id": job_id, "message": f"{b}:{i}:{line}"}) for i in range(per_batch)],
                    window=per_batch, timeout=60)
        if probe:
            probe()


def test_slow_subscriber_is_dropped_not_disconnected_and_misses_nothing(kernel_factory):
    k = kernel_factory(SLOW_CONFIG)
    w = k.client()
    job = enqueue(w)
    fetch_one(w)
    slow = k.client()
    sub = slow.call("subscribe", {})
    start = sub["seq"]
    # ~1.2 MB of events: well past the socket buffers plus the 64 KiB outbound limit
    _flood_logs(w, job["id"], batches=3)
    top = latest_seq(k)

    # Now read: events in seq order, then exactly one subscription.dropped.
    msgs = slow.notifications_until(lambda m: m.get("method") == "subscription.dropped", timeout=20)
    dropped = msgs[-1]["params"]
    assert dropped["subscription"] == sub["subscription"]
    last_seq = dropped["last_seq"]
    evs = [m["params"] for m in msgs if m.get("method") == "event"]
    assert len(evs) == len(msgs) - 1
    if evs:
        assert_consecutive(evs, start + 1, last_seq)
    else:
        assert last_seq == start
    assert last_seq < top, "the subscriber should have been dropped before the end of the flood"

    # The connection still works and carries no more events for the dropped subscription.
    assert isinstance(slow.call("stats", {}), dict)
    slow.assert_silent(0.3)
    assert not [m for m in slow.events if m.get("method") == "event"]

    # Resubscribe with since=last_seq: everything after it, no gap, no duplicate. A reader that
    # is dropped again (e.g. during a large replay) resubscribes again from the new last_seq.
    cur = last_seq
    deadline = time.monotonic() + 60
    slow.call("subscribe", {"since": cur}, timeout=10)
    while cur < top:
        assert time.monotonic() < deadline, f"replay stalled at {cur} of {top}"
        m = slow.notifications_until(lambda m: True, timeout=10)[-1]
        if m["method"] == "event":
            assert m["params"]["seq"] == cur + 1, f"gap or duplicate after {cur}: {m['params']['seq']}"
            cur += 1
        else:
            assert m["method"] == "subscription.dropped", m
            assert m["params"]["last_seq"] == cur
            slow.call("subscribe", {"since": cur}, timeout=10)


def test_memory_stays_bounded_with_a_stalled_subscriber(kernel_factory):
    k = kernel_factory(SLOW_CONFIG)
    w = k.client()
    job = enqueue(w)
    fetch_one(w)
    stalled = [k.client() for _ in range(3)]
    for s in stalled:
        s.call("subscribe", {})
    _flood_logs(w, job["id"], batches=5)  # warm-up: caches, the subscribers get dropped
    rss_before = k.rss_kb()
    peak = [rss_before]
    # ~24 MB more of log events with three subscribers that never read
    _flood_logs(w, job["id"], batches=60, probe=lambda: peak.append(k.rss_kb()))
    grown = max(peak) - rss_before
    # Bound chosen loosely: an unbounded queue would hold 3 x 24 MB of event bytes.
    assert grown < 48 * 1024, f"kernel RSS grew by {grown // 1024} MiB while subscribers stalled"
    for s in stalled:
        assert isinstance(s.call("stats", {}, timeout=20), dict)


def test_unsubscribe_of_another_connections_subscription_is_invalid(kernel):
    a, b = kernel.client(), kernel.client()
    sub = a.call("subscribe", {})["subscription"]
    e = b.call_error("unsubscribe", {"subscription": sub})
    assert e.code == -32602 and e.data["field"] == "subscription"
    assert a.call("unsubscribe", {"subscription": sub}) is True
    assert a.call("unsubscribe", {"subscription": sub}) is True  # ending it twice is harmless


def test_replayed_job_created_is_byte_for_byte_the_live_one(kernel_factory):
    # The log keeps job.created compact and renders the job object from the job row when it is
    # replayed; a replay must still show the job exactly as it was when created, whatever
    # happened to it since.
    k = kernel_factory(jk.BASE_CONFIG)
    c, live = k.client(), k.client()
    start = live.call("subscribe", {"kinds": ["job.created"]})["seq"]
    parent = c.call("enqueue", {"type": "remote", "payload": {"p": [1, "x", None, 2.5]}, "priority": 95,
                                "idempotency_key": "k1"})["job"]
    c.call("enqueue", {"type": "remote2", "items": ["a", {"b": 1}], "parent_id": parent["id"], "max_attempts": 2})
    c.call("enqueue", {"type": "remote", "payload": "later", "delay_s": 3600})
    c.call("enqueue", {"type": "remote", "run_at": "2020-01-01T00:00:00Z", "manual": True})
    seen = []
    for _ in range(4):
        seen.append(live.next_event(timeout=5))
    # Move the jobs on: run, log, finish, fail, cancel.
    for lease in c.call("fetch", {"types": ["remote", "remote2"], "max": 10})["leases"]:
        c.call("log", {"id": lease["job"]["id"], "message": "working"})
        c.call("progress", {"id": lease["job"]["id"], "current": 1, "total": 2})
        c.call("ack", {"lease": lease["lease"], "result": {"done": lease["job"]["id"]}})
    for job in c.call("list", {"status": ["scheduled", "pending"]})["jobs"]:
        c.call("cancel", {"id": job["id"]})
    replay = k.client()
    replay.call("subscribe", {"kinds": ["job.created"], "since": start})
    replayed = [replay.next_event(timeout=5) for _ in range(4)]
    strip = lambda es: [{k: v for k, v in e.items() if k != "subscription"} for e in es]
    assert strip(replayed) == strip(seen)
    assert [e["data"]["job"]["status"] for e in replayed] == ["pending", "pending", "scheduled", "pending"]


def test_replayed_job_status_is_the_live_one(kernel_factory):
    # The log keeps job.status as the job's changing state and renders the job object from the
    # job row and that state when it is replayed: every status change must replay as it was sent
    # live — progress, results, errors, backoffs, retries, items and parents with children.
    k = kernel_factory(jk.BASE_CONFIG)
    c, live = k.client(), k.client()
    start = live.call("subscribe", {"kinds": ["job.status"]})["seq"]
    parent = c.call("enqueue", {"type": "remote", "payload": {"p": [1, "x", None, 2.5]}, "max_attempts": 3})["job"]
    c.call("enqueue", {"type": "remote2", "items": ["a", {"b": 1}], "parent_id": parent["id"]})
    c.call("enqueue", {"type": "remote", "payload": "doomed"})
    for lease in c.call("fetch", {"types": ["remote", "remote2"], "max": 10})["leases"]:
        c.call("progress", {"id": lease["job"]["id"], "current": 0.5, "total": 3, "phase": "p", "message": "m"})
        if lease["job"]["payload"] == "doomed":
            c.call("nack", {"lease": lease["lease"], "error": {"message": "bad", "code": "E1"}, "retryable": False})
        elif lease["job"]["id"] == parent["id"]:
            c.call("nack", {"lease": lease["lease"], "error": {"message": "again"}})  # backoff
        else:
            c.call("ack", {"lease": lease["lease"], "result": {"item": lease["item"]}})
    doomed = [j for j in c.call("list", {"status": ["failed"]})["jobs"]]
    for j in doomed:
        c.call("retry", {"id": j["id"]})
    for job in c.call("list", {"status": ["scheduled", "pending"]})["jobs"]:
        c.call("cancel", {"id": job["id"]})
    seen = []
    while True:
        try:
            seen.append(live.next_event(timeout=1))
        except Exception:
            break
    assert len(seen) >= 8
    replay = k.client()
    replay.call("subscribe", {"kinds": ["job.status"], "since": start})
    replayed = [replay.next_event(timeout=5) for _ in range(len(seen))]
    strip = lambda es: [{k: v for k, v in e.items() if k != "subscription"} for e in es]
    assert strip(replayed) == strip(seen)
    assert {e["data"]["to"] for e in replayed} >= {"running", "success", "failed", "scheduled", "cancelled", "pending"}

"""docs/promises.md §13 operations and §8.6–8.7: per-item results (`items`), `remove`, `clean`,
`[storage] keep_finished` with incremental vacuum, `pause`/`resume`, dependencies (`after`) and
per-type `stats.types`. Each on the real binary over its socket, restarts included.

The types are `async_api`: their units wait for `fetch`, so each test decides when a unit runs
and how it ends.
"""

import os
import sqlite3
import time

import pytest

import jk
from jk import RPCError, enqueue, fetch, fetch_one, wait_for, wait_status

CONFIG = jk.BASE_CONFIG + """
[types.local]
mode = "internal"
command = ["true"]
"""


def finish(c, job_id, ok=True, result=None, type="remote"):
    lease = fetch_one(c, [type])
    assert lease["job"]["id"] == job_id, lease
    if ok:
        c.call("ack", {"lease": lease["lease"], "result": result})
    else:
        c.call("nack", {"lease": lease["lease"], "error": "boom", "retryable": False})
    return wait_status(c, job_id, {"success", "failed", "partial_success"})


def assert_invalid(c, method, params, field):
    with pytest.raises(RPCError) as e:
        c.call(method, params)
    assert e.value.code == -32602, e.value
    assert e.value.data.get("field") == field, e.value.data
    return e.value


# ---- items


def test_items_keep_each_items_result_error_attempt_and_times(kernel_factory):
    c = kernel_factory(CONFIG).client()
    job = enqueue(c, items=["a", "b", "c"], max_attempts=1)
    leases = fetch(c, ["remote"], max=3, wait_s=2)
    assert len(leases) == 3
    by_value = {l["item"]["value"]: l for l in leases}
    c.call("ack", {"lease": by_value["a"]["lease"], "result": {"out": "A"}})
    c.call("nack", {"lease": by_value["b"]["lease"], "error": {"message": "bad item b"}, "retryable": False})
    c.call("ack", {"lease": by_value["c"]["lease"], "result": "C"})
    wait_status(c, job["id"], "partial_success")
    r = c.call("items", {"id": job["id"]})
    assert r["next"] is None
    items = r["items"]
    assert [i["index"] for i in items] == [0, 1, 2]
    assert [i["value"] for i in items] == ["a", "b", "c"]
    assert [i["status"] for i in items] == ["success", "failed", "success"]
    assert items[0]["result"] == {"out": "A"} and items[2]["result"] == "C"
    assert items[1]["error"]["message"] == "bad item b" and items[1]["result"] is None
    assert all(i["attempt"] == 1 for i in items)
    for i in items:
        assert jk.RFC3339_MS_Z.match(i["started_at"]) and jk.RFC3339_MS_Z.match(i["finished_at"]), i
        assert i["started_at"] <= i["finished_at"]


def test_items_pages_with_since_and_limit_and_filters_by_status(kernel_factory):
    c = kernel_factory(CONFIG).client()
    job = enqueue(c, items=list(range(7)))
    p1 = c.call("items", {"id": job["id"], "limit": 3})
    assert [i["index"] for i in p1["items"]] == [0, 1, 2] and p1["next"] == 2
    p2 = c.call("items", {"id": job["id"], "limit": 3, "since": p1["next"]})
    assert [i["index"] for i in p2["items"]] == [3, 4, 5] and p2["next"] == 5
    p3 = c.call("items", {"id": job["id"], "limit": 3, "since": p2["next"]})
    assert [i["index"] for i in p3["items"]] == [6] and p3["next"] is None
    assert all(i["status"] == "pending" and i["started_at"] is None for i in p1["items"])
    lease = fetch_one(c)
    c.call("ack", {"lease": lease["lease"], "result": 1})
    done = c.call("items", {"id": job["id"], "status": "success"})["items"]
    assert [i["index"] for i in done] == [lease["item"]["index"]]
    assert len(c.call("items", {"id": job["id"], "status": "pending"})["items"]) == 6


def test_items_of_a_job_without_items_is_its_single_unit(kernel_factory):
    c = kernel_factory(CONFIG).client()
    job = enqueue(c)
    finish(c, job["id"], result={"x": 1})
    items = c.call("items", {"id": job["id"]})["items"]
    assert len(items) == 1 and items[0]["index"] == 0 and items[0]["result"] == {"x": 1} and items[0]["value"] is None


@pytest.mark.parametrize("params,field", [
    ({}, "id"), ({"id": "x"}, "id"), ({"id": "1", "status": "done"}, "status"), ({"id": "1", "limit": 0}, "limit"),
    ({"id": "1", "limit": 10001}, "limit"), ({"id": "1", "since": -2}, "since"), ({"id": "1", "since": "a"}, "since"),
    ({"id": "1", "bogus": 1}, "bogus"),
])
def test_items_bad_params_are_32602_naming_the_field(kernel_factory, params, field):
    c = kernel_factory(CONFIG).client()
    enqueue(c)
    assert_invalid(c, "items", params, field)


def test_items_of_an_unknown_job_is_32001(kernel_factory):
    c = kernel_factory(CONFIG).client()
    with pytest.raises(RPCError) as e:
        c.call("items", {"id": "999"})
    assert e.value.code == -32001


# ---- remove


def test_remove_deletes_a_finished_job_for_good_across_kill9(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    job = enqueue(c, idempotency_key="k1", items=["a"])
    finish(c, job["id"])
    c.call("log", {"id": job["id"], "message": "x"}) if False else None
    assert c.call("remove", {"ids": [job["id"]]}) == {"removed": 1}
    with pytest.raises(RPCError) as e:
        c.call("get", {"id": job["id"]})
    assert e.value.code == -32001
    k.restart(kill9=True)
    c = k.client()
    with pytest.raises(RPCError) as e:
        c.call("get", {"id": job["id"]})
    assert e.value.code == -32001
    assert c.call("stats")["jobs"]["success"] == 0
    # The idempotency key is free again: the same key makes a new job.
    again = c.call("enqueue", {"type": "remote", "idempotency_key": "k1", "payload": {"other": True}})
    assert again["duplicate"] is False and again["job"]["id"] != job["id"]


def test_remove_of_an_open_job_is_32004_and_removes_nothing(kernel_factory):
    c = kernel_factory(CONFIG).client()
    done = enqueue(c)
    finish(c, done["id"])
    open_job = enqueue(c)
    with pytest.raises(RPCError) as e:
        c.call("remove", {"ids": [done["id"], open_job["id"]]})
    assert e.value.code == -32004 and e.value.data["status"] == "pending"
    assert c.call("get", {"id": done["id"]})["status"] == "success"
    with pytest.raises(RPCError) as e:
        c.call("remove", {"ids": ["424242"]})
    assert e.value.code == -32001


def test_remove_takes_terminal_descendants_along(kernel_factory):
    c = kernel_factory(CONFIG).client()
    parent = enqueue(c)
    child = enqueue(c, parent_id=parent["id"])
    open_child = enqueue(c, parent_id=parent["id"])
    finish(c, parent["id"])
    finish(c, child["id"])
    assert c.call("remove", {"ids": parent["id"]}) == {"removed": 2}
    assert c.call("get", {"id": open_child["id"]})["status"] == "pending"
    with pytest.raises(RPCError):
        c.call("get", {"id": child["id"]})


@pytest.mark.parametrize("params,field", [({}, "ids"), ({"ids": []}, "ids"), ({"ids": ["x"]}, "ids"), ({"ids": ["1"], "x": 1}, "x")])
def test_remove_bad_params(kernel_factory, params, field):
    assert_invalid(kernel_factory(CONFIG).client(), "remove", params, field)


# ---- clean


def test_clean_removes_matching_finished_jobs_only(kernel_factory):
    c = kernel_factory(CONFIG).client()
    ok = enqueue(c)
    finish(c, ok["id"])
    bad = enqueue(c)
    finish(c, bad["id"], ok=False)
    other = enqueue(c, type="remote2")
    finish(c, other["id"], type="remote2")
    pending = enqueue(c)
    assert c.call("clean", {"status": "failed"}) == {"removed": 1}
    with pytest.raises(RPCError):
        c.call("get", {"id": bad["id"]})
    assert c.call("clean", {"type": "remote2"}) == {"removed": 1}
    assert c.call("clean", {"older_than_s": 3600}) == {"removed": 0}
    assert c.call("get", {"id": ok["id"]})["status"] == "success"
    assert c.call("clean", {}) == {"removed": 1}
    assert c.call("get", {"id": pending["id"]})["status"] == "pending"
    stats = c.call("stats")["jobs"]
    assert stats["success"] == 0 and stats["failed"] == 0 and stats["pending"] == 1


def test_clean_of_many_jobs_runs_in_batches_while_other_clients_are_served(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    n = 1500
    ids = [r["job"]["id"] for r in c.call_many([("enqueue", {"type": "remote"})] * n)]
    for _ in range(n // 100):
        for lease in fetch(c, ["remote"], max=100):
            c.call("ack", {"lease": lease["lease"]})
    wait_for(lambda: c.call("stats")["jobs"]["success"] == n, what="all done")
    other = k.client()
    rid = c.request("clean", {})
    # While the clean runs, another client is answered.
    assert other.call("stats")["jobs"]["success"] <= n
    r = c.wait_response(rid, timeout=60)
    assert r["result"] == {"removed": n}
    assert other.call("list", {})["jobs"] == []
    assert ids


@pytest.mark.parametrize("params,field", [
    ({"status": "pending"}, "status"), ({"status": "nope"}, "status"), ({"type": 3}, "type"),
    ({"older_than_s": -1}, "older_than_s"), ({"older_than_s": "1h"}, "older_than_s"), ({"x": 1}, "x"),
])
def test_clean_bad_params(kernel_factory, params, field):
    assert_invalid(kernel_factory(CONFIG).client(), "clean", params, field)


# ---- keep_finished and vacuum


def test_keep_finished_removes_old_jobs_in_the_background_and_vacuums(kernel_factory):
    k = kernel_factory(CONFIG + '\n[storage]\nkeep_finished = "1s"\n')
    c = k.client()
    big = "x" * 20000
    ids = [r["job"]["id"] for r in c.call_many([("enqueue", {"type": "remote", "payload": {"b": big}})] * 300)]
    for _ in range(3):
        for lease in fetch(c, ["remote"], max=100):
            c.call("ack", {"lease": lease["lease"]})
    keep = enqueue(c)
    wait_for(lambda: c.call("stats")["jobs"]["success"] == 300, what="all done")
    time.sleep(1.2)
    size_before = os.path.getsize(k.db)
    # Retention looks once a minute and at start-up: a restart makes the test fast.
    k.restart()
    c = k.client()
    wait_for(lambda: c.call("stats")["jobs"]["success"] == 0, timeout=15, what="old jobs removed")
    assert c.call("get", {"id": keep["id"]})["status"] == "pending"
    with pytest.raises(RPCError):
        c.call("get", {"id": ids[0]})
    k.stop()
    db = sqlite3.connect(k.db)
    try:
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
        assert db.execute("PRAGMA freelist_count").fetchone()[0] < 100
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    # The jobs' rows held 300 payloads of 20 kB: that space went back to the file system (the
    # events that carried the jobs stay for event_retention).
    assert size_before - os.path.getsize(k.db) > 300 * 20000 * 0.8, (os.path.getsize(k.db), size_before)


def test_keep_finished_forever_keeps_jobs_and_bad_values_stop_the_kernel(kernel_factory):
    k = kernel_factory(CONFIG + '\n[storage]\nkeep_finished = "forever"\n')
    c = k.client()
    job = enqueue(c)
    finish(c, job["id"])
    time.sleep(1.5)
    assert c.call("get", {"id": job["id"]})["status"] == "success"
    bad = kernel_factory(CONFIG + '\n[storage]\nkeep_finished = "sometimes"\n', start=False)
    r = jk.run_serve(bad, "--socket", bad.sock, "--db", bad.db, "--config", bad.config_path)
    assert r.returncode == 2 and "keep_finished" in r.stderr


# ---- pause and resume


def test_a_paused_type_is_not_dispatched_while_another_is_and_it_survives_restart(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    sub = k.client()
    sub.call("subscribe", {"kinds": ["settings.changed"]})
    settings = c.call("pause", {"type": "remote"})
    assert settings["paused.remote"] is True
    ev = sub.next_event()
    assert ev["kind"] == "settings.changed" and ev["data"] == {"key": "paused.remote", "value": True}
    a = enqueue(c)
    b = enqueue(c, type="remote2")
    leases = fetch(c, ["remote", "remote2"], max=5)
    assert [l["job"]["id"] for l in leases] == [b["id"]]
    t = c.call("stats")["types"]
    assert t["remote"]["paused"] == 1 and t["remote"]["pending"] == 1
    k.restart(kill9=True)
    c = k.client()
    assert c.call("settings.get", {"key": "paused.remote"}) == {"paused.remote": True}
    assert fetch(c, ["remote"]) == []
    # A fetch that waits is served when the type resumes.
    rid = c.request("fetch", {"types": ["remote"], "wait_s": 5})
    other = k.client()
    assert other.call("resume", {"type": "remote"})["paused.remote"] is False
    r = c.wait_response(rid)
    assert [l["job"]["id"] for l in r["result"]["leases"]] == [a["id"]]


def test_pause_everything_holds_local_pools_too(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    assert c.call("pause", {})["paused.*"] is True
    job = enqueue(c, type="local")
    time.sleep(0.5)
    assert c.call("get", {"id": job["id"]})["status"] == "pending"
    assert c.call("stats")["types"]["local"]["paused"] == 1
    c.call("resume", {})
    wait_status(c, job["id"], "success")


def test_pause_bad_params(kernel_factory):
    c = kernel_factory(CONFIG).client()
    assert_invalid(c, "pause", {"type": 1}, "type")
    assert_invalid(c, "resume", {"x": 1}, "x")
    with pytest.raises(RPCError) as e:
        c.call("pause", {"type": "nope"})
    assert e.value.code == -32002


# ---- dependencies


def test_after_waits_for_success_then_runs(kernel_factory):
    c = kernel_factory(CONFIG).client()
    a = enqueue(c)
    b = enqueue(c, type="remote2")
    d = enqueue(c, type="local", after=[a["id"], b["id"]])
    assert d["status"] == "scheduled"
    finish(c, a["id"])
    time.sleep(0.3)
    assert c.call("get", {"id": d["id"]})["status"] == "scheduled"
    finish(c, b["id"], type="remote2")
    wait_status(c, d["id"], "success")
    # A dependency that already succeeded is met at once.
    e = enqueue(c, type="local", after=[a["id"]])
    wait_status(c, e["id"], "success")


def test_a_failed_dependency_skips_its_dependent_and_theirs(kernel_factory):
    c = kernel_factory(CONFIG).client()
    a = enqueue(c, max_attempts=1)
    d = enqueue(c, type="remote2", after=[a["id"]])
    e = enqueue(c, type="remote2", after=[d["id"]])
    finish(c, a["id"], ok=False)
    dj = wait_status(c, d["id"], "skipped")
    assert dj["error"]["message"] == f"dependency {a['id']} ended failed"
    assert dj["error"]["data"] == {"job_id": a["id"]}
    ej = wait_status(c, e["id"], "skipped")
    assert ej["error"]["message"] == f"dependency {d['id']} ended skipped"
    # Enqueued after the failure: skipped at once.
    late = enqueue(c, type="remote2", after=[a["id"]])
    assert late["status"] == "skipped"


def test_cancel_of_a_dependency_skips_the_dependent_even_after_restart(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    a = enqueue(c)
    d = enqueue(c, type="remote2", after=[a["id"]])
    k.restart(kill9=True)
    c = k.client()
    assert fetch(c, ["remote2"]) == []
    c.call("cancel", {"id": a["id"]})
    dj = wait_status(c, d["id"], "skipped")
    assert dj["error"]["message"] == f"dependency {a['id']} ended cancelled"


def test_after_unknown_id_is_32001_naming_after_and_stores_nothing(kernel_factory):
    c = kernel_factory(CONFIG).client()
    with pytest.raises(RPCError) as e:
        c.call("enqueue", {"type": "remote", "after": ["777"]})
    assert e.value.code == -32001 and e.value.data["field"] == "after"
    assert c.call("list", {})["jobs"] == []
    assert_invalid(c, "enqueue", {"type": "remote", "after": [{}]}, "after")
    assert_invalid(c, "enqueue", {"type": "remote", "after": []}, "after")


# ---- stats.types


def test_stats_types_counts_per_type(kernel_factory):
    c = kernel_factory(CONFIG).client()
    a = enqueue(c)
    enqueue(c)
    enqueue(c, type="remote2", delay_s=60)
    finish(c, a["id"])
    b = c.call("list", {"status": "pending"})["jobs"][0]
    finish(c, b["id"], ok=False)
    enqueue(c)
    time.sleep(0.05)
    t = c.call("stats")["types"]
    assert t["remote"]["pending"] == 1 and t["remote"]["success_1m"] == 1 and t["remote"]["failed_1m"] == 1
    assert t["remote"]["oldest_pending_s"] >= 0.04
    assert t["remote2"]["scheduled"] == 1 and t["remote2"]["oldest_pending_s"] is None
    assert t["local"]["pending"] == 0 and t["local"]["running"] == 0


def test_stats_types_are_counted_again_at_start_up_and_follow_every_change(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    for _ in range(3):
        enqueue(c)
    enqueue(c, type="remote2", delay_s=3600)
    running = fetch_one(c)
    k.restart(kill9=True)
    c = k.client()
    t = c.call("stats")["types"]
    # The leased unit was requeued at start-up (its runner is gone): three pending again.
    assert (t["remote"]["pending"], t["remote"]["running"], t["remote2"]["scheduled"]) == (3, 0, 1)
    lease = fetch_one(c)
    t = c.call("stats")["types"]
    assert (t["remote"]["pending"], t["remote"]["running"]) == (2, 1)
    assert lease["job"]["id"] == running["job"]["id"], "the requeued unit is the oldest: it goes first"
    c.call("ack", {"lease": lease["lease"]})
    other = c.call("list", {"status": "pending", "type": "remote"})["jobs"][0]
    c.call("cancel", {"id": other["id"]})
    t = c.call("stats")["types"]
    assert (t["remote"]["pending"], t["remote"]["running"], t["remote"]["success_1m"]) == (1, 0, 1)
    jobs = c.call("stats")["jobs"]
    assert jobs["pending"] == sum(v["pending"] for v in t.values())
    assert jobs["scheduled"] == sum(v["scheduled"] for v in t.values())


def test_a_clean_whose_client_leaves_still_removes_and_the_kernel_lives(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    n = 1000
    c.call_many([("enqueue", {"type": "remote"})] * n)
    for _ in range(n // 100):
        for lease in fetch(c, ["remote"], max=100):
            c.call("ack", {"lease": lease["lease"]})
    leaving = k.client()
    leaving.request("clean", {})
    leaving.close()
    wait_for(lambda: c.call("stats")["jobs"]["success"] == 0, timeout=20, what="the clean to finish")
    assert k.running()
    assert c.call("clean", {}) == {"removed": 0}


def test_item_results_survive_kill9(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    job = enqueue(c, items=["a", "b"], max_attempts=1)
    leases = fetch(c, ["remote"], max=2)
    c.call("ack", {"lease": leases[0]["lease"], "result": {"ok": leases[0]["item"]["value"]}})
    k.restart(kill9=True)
    c = k.client()
    items = c.call("items", {"id": job["id"]})["items"]
    done = [i for i in items if i["status"] == "success"]
    assert len(done) == 1 and done[0]["result"] == {"ok": done[0]["value"]} and done[0]["finished_at"]
    # The other unit was running when the kernel died: requeued, its attempt counted.
    rest = [i for i in items if i["status"] != "success"]
    assert rest[0]["status"] == "failed" and rest[0]["attempt"] == 1, rest


def test_pause_keys_can_be_set_with_settings_set_too(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    assert c.call("settings.set", {"key": "paused.remote", "value": True}) == {"paused.remote": True}
    job = enqueue(c)
    assert fetch(c, ["remote"]) == []
    rid = c.request("fetch", {"types": ["remote"], "wait_s": 5})
    k.client().call("settings.set", {"key": "paused.remote", "value": False})
    assert [l["job"]["id"] for l in c.wait_response(rid)["result"]["leases"]] == [job["id"]]
    assert_invalid(c, "settings.set", {"key": "paused.", "value": True}, "key")
    assert_invalid(c, "settings.set", {"key": "paused.remote", "value": 1}, "value")

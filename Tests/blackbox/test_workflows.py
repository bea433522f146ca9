"""docs/promises.md §8.3–§8.5: chaining with `next`/`when`, workflow toggles, `manual`, `requires`/skipped,
groups and the cancel cascade, schedules and slots, and the crash guarantee that a successor is
committed with its parent's success. Also an itemized job at scale (20,000 items).

Most types here are `async_api`: their units wait for `fetch`, so the test decides when a job
starts and ends, and a successor is never started by the kernel itself.
"""

import datetime
import os
import time

import pytest

import jk
from jk import RPCError, enqueue, fetch, fetch_one, list_all, wait_for, wait_status

TERMINAL = {"success", "partial_success", "failed", "cancelled", "skipped"}

# a -> b (always) -> c (when auto_publish and publishing); c requires publishing and chains to d.
FLOW_CONFIG = """
[pipeline]
cancel_grace = "1s"
backoff_base = "1s"
backoff_max = "2s"

[workflow]
publishing = true
auto_publish = false

[types.a]
mode = "async_api"
next = [{ type = "b" }]

[types.b]
mode = "async_api"
next = [{ type = "c", when = ["auto_publish", "publishing"] }]

[types.c]
mode = "async_api"
requires = ["publishing"]
next = [{ type = "d" }]

[types.d]
mode = "async_api"

[types.local_publish]
mode = "internal"
command = ["true"]
requires = ["publishing"]
next = [{ type = "d" }]
"""


def run_unit(c, job_id, type, result=None):
    """Fetch the unit of job `job_id` (type `type`) and ack it with `result`."""
    lease = fetch_one(c, [type])
    assert lease["job"]["id"] == job_id, lease
    assert c.call("ack", {"lease": lease["lease"], "result": result}) is True
    return wait_status(c, job_id, "success")


def children(c, job_id):
    return list_all(c, {"parent_id": job_id})


@pytest.fixture
def flow(kernel_factory):
    return kernel_factory(FLOW_CONFIG)


# ---- chaining -----------------------------------------------------------------------------------

def test_successor_gets_from_payload_result_and_parent_id(flow):
    c = flow.client()
    a = enqueue(c, "a", payload={"path": "/media/x.mkv", "n": [1, 2]})
    done = run_unit(c, a["id"], "a", result={"files": 3})
    kids = children(c, a["id"])
    assert len(kids) == 1, kids
    b = kids[0]
    assert b["type"] == "b" and b["parent_id"] == a["id"] and b["manual"] is False
    assert b["status"] == "pending"
    assert b["payload"] == {"from": a["id"], "payload": {"path": "/media/x.mkv", "n": [1, 2]}, "result": {"files": 3}}
    assert done["children"] == {"total": 1, "pending": 1}
    # the chain goes on from b: its payload nests a's
    run_unit(c, b["id"], "b", result=None)


def test_failed_or_cancelled_job_chains_nothing(flow):
    c = flow.client()
    a1 = enqueue(c, "a", max_attempts=1)
    lease = fetch_one(c, ["a"])
    c.call("nack", {"lease": lease["lease"], "error": "boom", "retryable": False})
    wait_status(c, a1["id"], "failed")
    a2 = enqueue(c, "a")
    c.call("cancel", {"id": a2["id"]})
    assert children(c, a1["id"]) == [] and children(c, a2["id"]) == []
    assert list_all(c, {"type": "b"}) == []


def test_when_toggle_off_no_successor(flow):
    c = flow.client()
    assert c.call("settings.get", {"key": "workflow.auto_publish"}) == {"workflow.auto_publish": False}
    b = enqueue(c, "b", payload={"movie": 1})
    done = run_unit(c, b["id"], "b", result={"ok": True})
    assert done["children"] == {"total": 0}
    assert list_all(c, {"type": "c"}) == []
    # every toggle of `when` must be on: auto_publish on but publishing off still chains nothing
    c.call("settings.set", {"key": "workflow.auto_publish", "value": True})
    c.call("settings.set", {"key": "workflow.publishing", "value": False})
    b2 = enqueue(c, "b")
    run_unit(c, b2["id"], "b")
    assert children(c, b2["id"]) == []


def test_when_toggles_on_chain(flow):
    c = flow.client()
    c.call("settings.set", {"key": "workflow.auto_publish", "value": True})
    b = enqueue(c, "b", payload={"movie": 2})
    run_unit(c, b["id"], "b", result="enriched")
    kids = children(c, b["id"])
    assert [k["type"] for k in kids] == ["c"]
    assert kids[0]["payload"] == {"from": b["id"], "payload": {"movie": 2}, "result": "enriched"}
    assert kids[0]["manual"] is False


def test_manual_passes_through_and_successor_is_manual(flow):
    c = flow.client()
    # auto_publish is off, but a manual job chains regardless of `when`
    b = enqueue(c, "b", manual=True, payload={"movie": 3})
    assert b["manual"] is True
    run_unit(c, b["id"], "b")
    kids = children(c, b["id"])
    assert [k["type"] for k in kids] == ["c"], kids
    assert kids[0]["manual"] is True
    # ... all the way down: with publishing off a manual c still runs (requires does not apply)
    c.call("settings.set", {"key": "workflow.publishing", "value": False})
    run_unit(c, kids[0]["id"], "c")
    grandkids = children(c, kids[0]["id"])
    assert [(k["type"], k["manual"]) for k in grandkids] == [("d", True)]


def test_itemized_partial_success_chains_only_after_retry_succeeds(flow):
    c = flow.client()
    a = enqueue(c, "a", items=["x.jpg", "y.jpg"])
    leases = fetch(c, ["a"], max=2, wait_s=1)
    assert [l["item"]["index"] for l in leases] == [0, 1]
    c.call("ack", {"lease": leases[0]["lease"], "result": "ok"})
    c.call("nack", {"lease": leases[1]["lease"], "error": {"message": "corrupt"}, "retryable": False})
    done = wait_status(c, a["id"], "partial_success")
    assert done["children"] == {"total": 0}
    c.call("retry", {"id": a["id"]})
    lease = fetch_one(c, ["a"])
    assert lease["item"]["index"] == 1  # only the failed item runs again
    c.call("ack", {"lease": lease["lease"]})
    wait_status(c, a["id"], "success")
    kids = children(c, a["id"])
    assert [k["type"] for k in kids] == ["b"]
    assert kids[0]["payload"]["from"] == a["id"]


# ---- requires / skipped -------------------------------------------------------------------------

def test_requires_off_skips_with_log_line_and_chains_nothing(flow):
    c = flow.client()
    sub = flow.client()
    c.call("settings.set", {"key": "workflow.publishing", "value": False})
    job = enqueue(c, "c", payload={"movie": 4})
    assert job["status"] == "pending"  # checked when the job is about to start, not at enqueue
    sub.call("subscribe", {"ids": [job["id"]], "kinds": ["job.status"]})
    assert fetch(c, ["c"], wait_s=0.5) == []  # the unit is not handed out: the job is skipped
    job = wait_status(c, job["id"], "skipped")
    ev = sub.next_event()
    assert ev["data"]["from"] == "pending" and ev["data"]["to"] == "skipped"
    lines = c.call("logs", {"id": job["id"]})["lines"]
    assert any("publishing" in l["message"] for l in lines), lines
    assert job["children"] == {"total": 0}
    assert list_all(c, {"type": "d"}) == []
    assert c.call("stats")["jobs"]["skipped"] == 1
    # skipped is terminal: retry is not allowed (-32004), cancel leaves it unchanged
    e = c.call_error("retry", {"id": job["id"]})
    assert e.code == -32004
    assert c.call("cancel", {"id": job["id"]})["status"] == "skipped"


def test_requires_is_checked_at_start_not_at_enqueue(flow):
    c = flow.client()
    job = enqueue(c, "c")  # publishing on at enqueue
    c.call("settings.set", {"key": "workflow.publishing", "value": False})
    assert fetch(c, ["c"], wait_s=0.3) == []
    wait_status(c, job["id"], "skipped")
    # turned back on: a new job runs normally
    c.call("settings.set", {"key": "workflow.publishing", "value": True})
    job2 = enqueue(c, "c")
    run_unit(c, job2["id"], "c")
    assert [k["type"] for k in children(c, job2["id"])] == ["d"]


def test_requires_skips_every_queued_local_job(flow):
    """Internal (exec) type: each queued job whose toggle is off ends skipped, not just the first."""
    c = flow.client()
    c.call("settings.set", {"key": "workflow.publishing", "value": False})
    jobs = [enqueue(c, "local_publish", payload={"n": i}) for i in range(3)]
    for j in jobs:
        done = wait_status(c, j["id"], "skipped")
        assert done["children"] == {"total": 0}
    c.call("settings.set", {"key": "workflow.publishing", "value": True})
    ok = enqueue(c, "local_publish")
    wait_status(c, ok["id"], "success", timeout=10)
    assert [k["type"] for k in children(c, ok["id"])] == ["d"]


# ---- toggles ------------------------------------------------------------------------------------

def test_toggles_emit_settings_changed(flow):
    c = flow.client()
    sub = flow.client()
    assert c.call("settings.get") == {"workflow.auto_publish": False, "workflow.publishing": True}
    sub.call("subscribe", {"kinds": ["settings.changed"]})
    assert c.call("settings.set", {"key": "workflow.auto_publish", "value": True}) == {"workflow.auto_publish": True}
    ev = sub.next_event()
    assert ev["kind"] == "settings.changed" and ev["job_id"] is None
    assert ev["data"] == {"key": "workflow.auto_publish", "value": True}
    # setting the same value again changes nothing: no event (protocol.md, [choice] 28)
    c.call("settings.set", {"key": "workflow.auto_publish", "value": True})
    c.call("settings.set", {"key": "workflow.publishing", "value": False})
    ev2 = sub.next_event()
    assert ev2["data"] == {"key": "workflow.publishing", "value": False} and ev2["seq"] > ev["seq"]


def test_toggle_survives_restart_and_wins_over_config(flow):
    c = flow.client()
    c.call("settings.set", {"key": "workflow.auto_publish", "value": True})
    flow.kill9()
    flow.start()
    c = flow.client()
    assert c.call("settings.get", {"key": "workflow.auto_publish"}) == {"workflow.auto_publish": True}
    b = enqueue(c, "b")
    run_unit(c, b["id"], "b")
    assert [k["type"] for k in children(c, b["id"])] == ["c"]


@pytest.mark.parametrize("where", ["when", "requires"])
def test_undeclared_toggle_in_config_fails_at_start(kernel_factory, where):
    rule = ('next = [{ type = "y", when = ["auto_publish", "no_such_toggle"] }]' if where == "when"
            else 'requires = ["no_such_toggle"]')
    config = f"""
[workflow]
auto_publish = false

[types.x]
mode = "async_api"
{rule}

[types.y]
mode = "async_api"
"""
    k = kernel_factory(config, start=False)
    k.spawn()
    assert k.wait_exit(10) == 2
    err = k.stderr_text()
    assert "no_such_toggle" in err, err
    assert not os.path.exists(k.sock)


# ---- groups -------------------------------------------------------------------------------------

GROUP_CONFIG = jk.BASE_CONFIG + """
[types.sleeper]
mode = "internal"
command = ["python3", "-c", "import os, time; open('sleeper-' + os.environ['JOBKERNEL_JOB_ID'] + '.pid', 'w').write(str(os.getpid())); time.sleep(60)"]
"""


def test_groups_children_counts_list_and_cascading_cancel(kernel_factory):
    k = kernel_factory(GROUP_CONFIG)
    c = k.client()
    root = enqueue(c, "remote", payload={"batch": 1})
    child1 = enqueue(c, "remote2", parent_id=root["id"], priority=10)         # level 2, pending
    child2 = enqueue(c, "remote2", parent_id=root["id"], priority=50)         # level 2, running (leased)
    done = enqueue(c, "remote2", parent_id=root["id"], priority=60)           # level 2, success
    grand_running = enqueue(c, "sleeper", parent_id=child1["id"])             # level 3, local, running
    grand_pending = enqueue(c, "remote", parent_id=child1["id"], delay_s=600)  # level 3, scheduled
    other = enqueue(c, "remote2")  # not in the group

    lease_done = fetch_one(c, ["remote2"])
    assert lease_done["job"]["id"] == done["id"]
    c.call("ack", {"lease": lease_done["lease"]})
    lease2 = fetch_one(c, ["remote2"])
    assert lease2["job"]["id"] == child2["id"]
    wait_status(c, grand_running["id"], "running", timeout=10)
    pidfile = os.path.join(k.home, f"sleeper-{grand_running['id']}.pid")
    wait_for(lambda: os.path.exists(pidfile) and open(pidfile).read(), what="sleeper pid file")
    pid = int(open(pidfile).read())

    g = c.call("get", {"id": root["id"]})
    assert g["children"] == {"total": 3, "success": 1, "running": 1, "pending": 1}
    assert c.call("get", {"id": child1["id"]})["children"] == {"total": 2, "running": 1, "scheduled": 1}
    listed = list_all(c, {"parent_id": root["id"]})
    assert [j["id"] for j in listed] == [done["id"], child2["id"], child1["id"]]  # newest first
    assert {j["id"] for j in list_all(c, {"parent_id": [child1["id"], child2["id"]]})} == {grand_running["id"], grand_pending["id"]}

    r = c.call("cancel", {"id": root["id"], "reason": "user aborted the batch"})
    assert r["status"] == "cancelled"
    for j in (child1, child2, grand_pending):
        assert c.call("get", {"id": j["id"]})["status"] == "cancelled", j
    # the leased unit of child2 ended at once: its worker learns it from -32005
    e = c.call_error("ack", {"lease": lease2["lease"]})
    assert e.code == -32005
    # the running local unit is stopped (SIGTERM), then the job is cancelled
    wait_status(c, grand_running["id"], "cancelled", timeout=10)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=10, what="sleeper process gone")
    assert c.call("get", {"id": done["id"]})["status"] == "success"  # terminal children unchanged
    assert c.call("get", {"id": other["id"]})["status"] == "pending"  # outside the group
    assert c.call("get", {"id": root["id"]})["children"] == {"total": 3, "success": 1, "cancelled": 2}
    assert c.call("get", {"id": child1["id"]})["error"]["message"] == "user aborted the batch"


def test_list_parent_id_null_lists_top_level_jobs(kernel):
    """protocol.md: `parent_id: null` lists top-level jobs. (Fails as of 66f1c3a: the kernel reads
    a null filter as no filter and lists children too.)"""
    c = kernel.client()
    top = enqueue(c, "remote")
    kid = enqueue(c, "remote", parent_id=top["id"])
    ids = [j["id"] for j in list_all(c, {"parent_id": None})]
    assert top["id"] in ids and kid["id"] not in ids


# ---- schedules ----------------------------------------------------------------------------------

def sched_config(every_fast="1s"):
    return f"""
[pipeline]
priority_threshold = 90

[types.maint]
mode = "async_api"

[types.daily]
mode = "async_api"
priority = 20

[[schedules]]
name = "fast"
type = "maint"
every = "{every_fast}"
priority = 95
payload = {{ task = "trash" }}

[[schedules]]
name = "daily"
type = "daily"
every = "1d"
"""


def slot_of(job):
    return int(job["idempotency_key"].rsplit(":", 1)[1])


def avoid_day_boundary(margin=20):
    left = 86400 - time.time() % 86400
    if left < margin:
        time.sleep(left + 0.5)


def test_schedule_enqueues_once_per_slot_in_priority_lane(kernel_factory):
    k = kernel_factory(sched_config("1s"))
    c = k.client()
    time.sleep(3.2)
    jobs = list_all(c, {"type": "maint"})
    assert 3 <= len(jobs) <= 5, [j["idempotency_key"] for j in jobs]
    slots = sorted(slot_of(j) for j in jobs)
    assert slots == list(range(slots[0], slots[0] + len(slots))), slots  # one per slot, none doubled
    for j in jobs:
        assert j["idempotency_key"] == f"schedule:fast:{slot_of(j)}"
        assert j["created_by"] == "schedule" and j["lane"] == "priority" and j["priority"] == 95
        assert j["payload"] == {"task": "trash"}
        created = datetime.datetime.strptime(j["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        assert int(created.timestamp()) == slot_of(j)  # slot = floor(unix time / every)
    s = {x["name"]: x for x in c.call("schedules")}
    assert s["fast"]["every"] == "1s" and s["fast"]["type"] == "maint"
    newest = max(jobs, key=lambda j: int(j["id"]))
    assert s["fast"]["last_job_id"] in {newest["id"], str(int(newest["id"]) + 1)}
    # the schedule's priority wins; without one, the type's
    daily = list_all(c, {"type": "daily"})
    assert len(daily) == 1 and daily[0]["priority"] == 20 and daily[0]["lane"] == "normal"
    assert s["daily"]["last_job_id"] == daily[0]["id"]


@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_restart_inside_a_slot_does_not_double_it(kernel_factory, how):
    avoid_day_boundary()
    k = kernel_factory(sched_config("1h"))
    c = k.client()
    before = list_all(c, {"type": "daily"})
    assert len(before) == 1
    sched_before = {x["name"]: x for x in c.call("schedules")}
    if how == "kill9":
        k.kill9()
        k.start()
    else:
        k.restart()
    c = k.client()
    time.sleep(0.3)
    after = list_all(c, {"type": "daily"})
    assert [j["id"] for j in after] == [before[0]["id"]]
    sched_after = {x["name"]: x for x in c.call("schedules")}
    assert sched_after["daily"]["last_job_id"] == sched_before["daily"]["last_job_id"] == before[0]["id"]
    assert sched_after["daily"]["next_run_at"] == sched_before["daily"]["next_run_at"]


def test_slots_missed_while_down_run_once(kernel_factory):
    k = kernel_factory(sched_config("1s"))
    c = k.client()
    wait_for(lambda: list_all(c, {"type": "maint"}), what="first scheduled job")
    k.stop()
    stop_slot = int(time.time())  # no slot after this one was enqueued before the stop
    time.sleep(3.5)               # ~3 slots missed
    start_slot = int(time.time())
    k.start()
    c = k.client()
    time.sleep(0.5)
    slots = sorted(slot_of(j) for j in list_all(c, {"type": "maint"}))
    assert len(slots) == len(set(slots)), slots
    missed = [s for s in slots if stop_slot < s < start_slot]
    assert missed == [], f"slots missed while down were enqueued each: {slots} (down {stop_slot}..{start_slot})"
    assert start_slot in slots or start_slot + 1 in slots, f"no job for the slot at start: {slots}"


# ---- the crash guarantee: a successor is committed with its parent's success ----------------------

def test_kill9_right_after_parent_success_keeps_exactly_one_successor(flow):
    c = flow.client()
    parents = [enqueue(c, "a", payload={"n": i}) for i in range(5)]
    for p in parents:
        lease = fetch_one(c, ["a"])
        assert lease["job"]["id"] == p["id"]
        assert c.call("ack", {"lease": lease["lease"], "result": {"n": p["payload"]["n"]}}) is True
        flow.kill9()  # right after the success is acknowledged; b is async_api, never started
        flow.start()
        c = flow.client()
        assert c.call("get", {"id": p["id"]})["status"] == "success"
        kids = children(c, p["id"])
        assert len(kids) == 1, kids
        assert kids[0]["type"] == "b" and kids[0]["payload"]["from"] == p["id"]
    # and a graceful restart afterwards changes nothing
    flow.restart()
    c = flow.client()
    bs = list_all(c, {"type": "b"})
    assert sorted(b["parent_id"] for b in bs) == sorted(p["id"] for p in parents)
    assert all(b["status"] == "pending" for b in bs)


def test_kill9_during_pipelined_acks_success_and_successor_are_atomic(flow):
    c = flow.client()
    n = 200
    c.call_many([("enqueue", {"type": "a", "payload": {"n": i}}) for i in range(n)])
    leases = fetch(c, ["a"], max=n, wait_s=1, lease_s=600)
    assert len(leases) == n
    ids = [c.request("ack", {"lease": l["lease"], "result": i}) for i, l in enumerate(leases)]
    acked = set()
    for i in ids[: n // 2]:
        assert c.wait_response(i, timeout=30).get("result") is True
        acked.add(leases[ids.index(i)]["job"]["id"])
    flow.kill9()
    flow.start()
    c = flow.client()
    a_jobs = {j["id"]: j for j in list_all(c, {"type": "a"}, limit=1000)}
    b_by_parent = {}
    for b in list_all(c, {"type": "b"}, limit=1000):
        b_by_parent.setdefault(b["parent_id"], []).append(b)
    assert len(a_jobs) == n
    for jid, j in a_jobs.items():
        if j["status"] == "success":
            assert len(b_by_parent.get(jid, [])) == 1, (jid, b_by_parent.get(jid))
        else:
            assert jid not in acked, f"acknowledged success of {jid} lost: {j['status']}"
            assert jid not in b_by_parent, f"successor of {jid} exists without its parent's success"
    assert acked <= {jid for jid, j in a_jobs.items() if j["status"] == "success"}


# ---- items at scale -----------------------------------------------------------------------------

def test_20000_items_in_one_enqueue_served_in_index_order(kernel):
    c = kernel.client()
    n = 20000
    t0 = time.monotonic()
    job = c.call("enqueue", {"type": "remote", "items": [{"file": f"f{i:05}.jpg"} for i in range(n)]}, timeout=60)["job"]
    enqueue_s = time.monotonic() - t0
    assert job["items"] == {"total": n, "pending": n, "running": 0, "success": 0, "failed": 0, "cancelled": 0}
    assert job["progress"]["total"] == n
    got = []
    acks = []
    while len(got) < n:
        leases = fetch(c, ["remote"], max=1000, wait_s=1, lease_s=600)
        assert leases, f"fetch returned nothing after {len(got)} units"
        got += [l["item"]["index"] for l in leases]
        assert all(l["job"]["id"] == job["id"] for l in leases)
        assert all(l["item"]["value"] == {"file": f"f{l['item']['index']:05}.jpg"} for l in leases)
        if len(got) == 3000:
            mid = c.call("get", {"id": job["id"]})
            assert mid["items"]["running"] == 3000 and mid["items"]["pending"] == n - 3000
        acks += [("ack", {"lease": l["lease"]}) for l in leases]
    assert got == list(range(n)), "units not served in index order"
    res = c.call_many(acks, window=500, timeout=120)
    assert all(r is True for r in res)
    done = wait_status(c, job["id"], "success", timeout=30)
    assert done["items"] == {"total": n, "pending": 0, "running": 0, "success": n, "failed": 0, "cancelled": 0}
    assert done["progress"]["current"] == n
    print(f"enqueue of {n} items: {enqueue_s:.2f}s")

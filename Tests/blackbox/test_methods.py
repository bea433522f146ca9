"""docs/promises.md §5 (the job object) and §6 (methods), over the socket."""

import datetime
import json
import os
import time

import pytest

import jk
from jk import RFC3339_MS_Z, enqueue

JOB_FIELDS = {
    "id", "type", "dispatch_mode", "status", "priority", "lane", "payload", "created_by",
    "idempotency_key", "parent_id", "manual", "attempt", "max_attempts", "run_at",
    "cancel_requested", "progress", "items", "children", "result", "error", "created_at",
    "started_at", "finished_at", "last_activity_at", "updated_at",
}
STATUSES = {"scheduled", "pending", "running", "success", "partial_success", "failed", "cancelled", "skipped"}


def is_time(v):
    return isinstance(v, str) and RFC3339_MS_Z.match(v) is not None


def assert_job_shape(job):
    missing = JOB_FIELDS - set(job)
    assert not missing, f"job lacks fields {missing}: {job!r}"
    assert isinstance(job["id"], str) and job["id"].isdigit(), job["id"]
    assert isinstance(job["type"], str)
    assert job["dispatch_mode"] in ("internal", "sync_api", "async_api")
    assert job["status"] in STATUSES
    assert isinstance(job["priority"], int) and not isinstance(job["priority"], bool)
    assert job["lane"] in ("normal", "priority")
    assert isinstance(job["created_by"], str)
    assert job["idempotency_key"] is None or isinstance(job["idempotency_key"], str)
    assert job["parent_id"] is None or (isinstance(job["parent_id"], str) and job["parent_id"].isdigit())
    assert isinstance(job["manual"], bool)
    assert isinstance(job["attempt"], int) and job["attempt"] >= 0
    assert isinstance(job["max_attempts"], int) and job["max_attempts"] >= 1
    assert job["run_at"] is None or is_time(job["run_at"])
    assert isinstance(job["cancel_requested"], bool)
    # progress: protocol.md's example shows an object; a job that never reported may plausibly have
    # defaults or null. We accept both but check the keys when it is an object.
    if job["progress"] is not None:
        assert {"current", "total", "percent", "phase", "message"} <= set(job["progress"]), job["progress"]
    if job["items"] is not None:
        assert set(job["items"]) >= {"total", "pending", "running", "success", "failed", "cancelled"}
        assert all(isinstance(v, int) for v in job["items"].values())
    assert isinstance(job["children"], dict) and isinstance(job["children"].get("total"), int)
    assert job["error"] is None or (isinstance(job["error"], dict) and isinstance(job["error"].get("message"), str))
    assert is_time(job["created_at"]), job["created_at"]
    assert is_time(job["updated_at"]), job["updated_at"]
    for f in ("started_at", "finished_at", "last_activity_at"):
        assert job[f] is None or is_time(job[f]), (f, job[f])


def rfc3339(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# -- initialize

def test_initialize(client):
    r = client.call("initialize", {"client": {"name": "pytest", "version": "0.1"}})
    assert r["protocol"] == "1"
    assert isinstance(r["server"]["name"], str) and r["server"]["name"]
    assert isinstance(r["server"]["version"], str)


def test_initialize_is_optional_and_params_optional(client):
    assert client.call("stats", {}) is not None
    assert client.call("initialize")["protocol"] == "1"


def test_initialize_client_name_is_default_created_by(kernel):
    c = kernel.client()
    c.call("initialize", {"client": {"name": "editor-x", "version": "1"}})
    assert enqueue(c)["created_by"] == "editor-x"
    assert enqueue(kernel.client())["created_by"] == "anonymous"


# -- enqueue

def test_enqueue_returns_job_and_duplicate_false(client):
    r = client.call("enqueue", {"type": "remote", "payload": {"a": [1, 2, {"b": None}]}})
    assert set(r) >= {"job", "duplicate"}
    assert r["duplicate"] is False
    job = r["job"]
    assert_job_shape(job)
    assert job["type"] == "remote"
    assert job["dispatch_mode"] == "async_api"
    assert job["status"] == "pending"
    assert job["payload"] == {"a": [1, 2, {"b": None}]}
    assert job["attempt"] == 0
    assert job["priority"] == 50
    assert job["lane"] == "normal"
    assert job["created_by"] == "anonymous"
    assert job["manual"] is False
    assert job["items"] is None
    assert job["parent_id"] is None
    assert job["result"] is None and job["error"] is None
    assert job["started_at"] is None and job["finished_at"] is None
    assert job["children"]["total"] == 0
    assert job["max_attempts"] == 3  # [types.remote] max_attempts = 3


def test_enqueue_default_payload_is_empty_object(client):
    assert enqueue(client)["payload"] == {}


def test_get_returns_the_same_job(client):
    job = enqueue(client, payload={"k": "v"}, priority=70)
    got = client.call("get", {"id": job["id"]})
    assert_job_shape(got)
    for f in ("id", "type", "status", "priority", "payload", "created_at", "attempt"):
        assert got[f] == job[f], f


def test_created_at_is_now_utc(client):
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    job = enqueue(client)
    t = datetime.datetime.strptime(job["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    assert before <= t <= datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)


def test_ids_are_decimal_strings_in_creation_order(client):
    ids = [enqueue(client)["id"] for _ in range(12)]
    assert all(isinstance(i, str) and i.isdigit() for i in ids)
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)
    assert len(set(ids)) == 12


@pytest.mark.parametrize("priority,lane", [(0, "normal"), (89, "normal"), (90, "priority"), (100, "priority")])
def test_lane_by_priority_threshold(client, priority, lane):
    job = enqueue(client, priority=priority)
    assert job["priority"] == priority
    assert job["lane"] == lane


def test_items_job_counts(client):
    job = enqueue(client, items=["a", "b", {"c": 1}])
    assert job["items"] == {"total": 3, "pending": 3, "running": 0, "success": 0, "failed": 0, "cancelled": 0}
    assert job["status"] == "pending"
    if job["progress"] is not None:
        assert job["progress"]["total"] == 3  # docs/promises.md §5: progress.total defaults to the number of items
        assert job["progress"]["current"] == 0


def test_run_at_makes_job_scheduled(client):
    at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    job = enqueue(client, run_at=rfc3339(at))
    assert job["status"] == "scheduled"
    assert is_time(job["run_at"])
    got = datetime.datetime.strptime(job["run_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    assert abs((got - at).total_seconds()) < 1


def test_delay_s_makes_job_scheduled(client):
    job = enqueue(client, delay_s=3600)
    assert job["status"] == "scheduled"
    assert is_time(job["run_at"])


def test_short_delay_becomes_pending(client):
    job = enqueue(client, delay_s=1)
    assert job["status"] == "scheduled"
    jk.wait_status(client, job["id"], "pending", timeout=5)


def test_max_attempts_param(client):
    assert enqueue(client, max_attempts=7)["max_attempts"] == 7


def test_unknown_type_stores_nothing(client):
    e = client.call_error("enqueue", {"type": "no_such_type", "payload": {}})
    assert e.code == -32002 and e.reason == "unknown_type"
    assert client.call("list", {})["jobs"] == []


def test_idempotency_same_key_same_params_returns_first_job(client):
    p = {"type": "remote", "payload": {"x": 1}, "idempotency_key": "k1"}
    a = client.call("enqueue", p)
    b = client.call("enqueue", p)
    assert a["duplicate"] is False and b["duplicate"] is True
    assert a["job"]["id"] == b["job"]["id"]
    assert a["job"]["idempotency_key"] == "k1"
    assert len(client.call("list", {})["jobs"]) == 1


def test_idempotency_same_key_other_params_conflicts(client):
    a = client.call("enqueue", {"type": "remote", "payload": {"x": 1}, "idempotency_key": "k2"})["job"]
    e = client.call_error("enqueue", {"type": "remote", "payload": {"x": 2}, "idempotency_key": "k2"})
    assert e.code == -32003 and e.reason == "idempotency_conflict"
    assert e.data.get("job_id") == a["id"]
    assert len(client.call("list", {})["jobs"]) == 1


def test_idempotency_key_scoped_per_created_by(client):
    p = {"type": "remote", "payload": {"x": 1}, "idempotency_key": "shared"}
    a = client.call("enqueue", dict(p, created_by="alice"))
    b = client.call("enqueue", dict(p, created_by="bob"))
    c = client.call("enqueue", dict(p, created_by="alice"))
    assert a["duplicate"] is False and b["duplicate"] is False and c["duplicate"] is True
    assert a["job"]["id"] != b["job"]["id"]
    assert c["job"]["id"] == a["job"]["id"]
    assert a["job"]["created_by"] == "alice" and b["job"]["created_by"] == "bob"


def test_idempotency_key_scoped_by_initialize_name(kernel):
    p = {"type": "remote", "payload": {}, "idempotency_key": "same"}
    c1 = kernel.client()
    c1.call("initialize", {"client": {"name": "one", "version": "1"}})
    c2 = kernel.client()
    c2.call("initialize", {"client": {"name": "two", "version": "1"}})
    a = c1.call("enqueue", p)
    b = c2.call("enqueue", p)
    assert a["job"]["id"] != b["job"]["id"] and not b["duplicate"]


# -- get

def test_get_unknown_id(client):
    e = client.call_error("get", {"id": "999999"})
    assert e.code == -32001 and e.reason == "not_found"


# -- list

def test_list_newest_first(client):
    ids = [enqueue(client)["id"] for _ in range(5)]
    r = client.call("list", {})
    assert [j["id"] for j in r["jobs"]] == list(reversed(ids))
    assert r["next_cursor"] is None
    for j in r["jobs"]:
        assert_job_shape(j)


def test_list_filters(client):
    a = enqueue(client, "remote")
    b = enqueue(client, "remote2")
    c = enqueue(client, "remote", delay_s=3600)  # scheduled
    d = enqueue(client, "remote2", created_by="zed")
    client.call("cancel", {"id": b["id"]})
    ids = lambda r: sorted(j["id"] for j in r["jobs"])  # noqa: E731
    assert ids(client.call("list", {"type": "remote"})) == sorted([a["id"], c["id"]])
    assert ids(client.call("list", {"type": ["remote", "remote2"]})) == sorted([a["id"], b["id"], c["id"], d["id"]])
    assert ids(client.call("list", {"status": "cancelled"})) == [b["id"]]
    assert ids(client.call("list", {"status": ["scheduled", "cancelled"]})) == sorted([b["id"], c["id"]])
    assert ids(client.call("list", {"status": "pending", "type": "remote2"})) == [d["id"]]
    assert ids(client.call("list", {"created_by": "zed"})) == [d["id"]]
    assert ids(client.call("list", {"dispatch_mode": "async_api"})) == sorted([a["id"], b["id"], c["id"], d["id"]])
    assert ids(client.call("list", {"dispatch_mode": "internal"})) == []
    assert ids(client.call("list", {"status": "running"})) == []


def test_list_parent_filter(client):
    p = enqueue(client)
    c1 = enqueue(client, parent_id=p["id"])
    c2 = enqueue(client, parent_id=p["id"])
    enqueue(client)
    r = client.call("list", {"parent_id": p["id"]})
    assert sorted(j["id"] for j in r["jobs"]) == sorted([c1["id"], c2["id"]])
    assert c1["parent_id"] == p["id"]
    assert client.call("get", {"id": p["id"]})["children"]["total"] == 2


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_list_limit_bounds(client, limit):
    e = client.call_error("list", {"limit": limit})
    assert e.code == -32602


@pytest.mark.parametrize("limit", [1, 1000])
def test_list_limit_accepted_at_bounds(client, limit):
    enqueue(client)
    enqueue(client)
    r = client.call("list", {"limit": limit})
    assert len(r["jobs"]) == min(limit, 2)


def test_list_cursor_paging_covers_every_job_once(client):
    ids = [j["id"] for j in (r["job"] for r in client.call_many([("enqueue", {"type": "remote"})] * 23))]
    seen, cursor, pages = [], None, 0
    while True:
        p = {"limit": 5}
        if cursor is not None:
            p["cursor"] = cursor
        r = client.call("list", p)
        assert len(r["jobs"]) <= 5
        seen += [j["id"] for j in r["jobs"]]
        pages += 1
        cursor = r["next_cursor"]
        if cursor is None:
            break
        assert pages < 20
    assert seen == list(reversed(ids))
    assert pages in (5, 6)  # 23 jobs / 5; an implementation may need one empty last page


def test_list_cursor_stable_while_jobs_are_added(client):
    for _ in range(6):
        enqueue(client)
    r1 = client.call("list", {"limit": 3})
    new = enqueue(client)
    r2 = client.call("list", {"limit": 100, "cursor": r1["next_cursor"]})
    ids = [j["id"] for j in r1["jobs"] + r2["jobs"]]
    assert new["id"] not in ids  # a cursor continues the older end
    assert len(ids) == len(set(ids)) == 6


# -- cancel

def test_cancel_pending_is_immediate(client):
    job = enqueue(client)
    r = client.call("cancel", {"id": job["id"], "reason": "no longer needed"})
    assert r["id"] == job["id"] and r["status"] == "cancelled"
    assert is_time(r["finished_at"])
    assert client.call("get", {"id": job["id"]})["status"] == "cancelled"


def test_cancel_scheduled_is_immediate(client):
    job = enqueue(client, delay_s=3600)
    assert client.call("cancel", {"id": job["id"]})["status"] == "cancelled"


def test_cancel_items_job_cancels_items(client):
    job = enqueue(client, items=[1, 2, 3])
    r = client.call("cancel", {"id": job["id"]})
    assert r["status"] == "cancelled"
    assert r["items"]["cancelled"] == 3 and r["items"]["pending"] == 0


def test_cancel_terminal_is_unchanged(client):
    job = enqueue(client)
    first = client.call("cancel", {"id": job["id"]})
    again = client.call("cancel", {"id": job["id"]})
    assert again["status"] == "cancelled"
    assert again["finished_at"] == first["finished_at"]
    assert again["updated_at"] == first["updated_at"]


def test_cancel_unknown(client):
    assert client.call_error("cancel", {"id": "987654"}).code == -32001


def test_cancel_cascades_to_descendants(client):
    root = enqueue(client)
    child = enqueue(client, parent_id=root["id"])
    grandchild = enqueue(client, parent_id=child["id"], delay_s=3600)
    other = enqueue(client)
    client.call("cancel", {"id": root["id"]})
    for j in (root, child, grandchild):
        assert client.call("get", {"id": j["id"]})["status"] == "cancelled", j["id"]
    assert client.call("get", {"id": other["id"]})["status"] == "pending"


def test_cancel_child_does_not_touch_parent(client):
    root = enqueue(client)
    child = enqueue(client, parent_id=root["id"])
    client.call("cancel", {"id": child["id"]})
    assert client.call("get", {"id": root["id"]})["status"] == "pending"
    assert client.call("get", {"id": root["id"]})["children"]["total"] == 1


# -- retry

def test_retry_pending_is_invalid_state(client):
    job = enqueue(client)
    e = client.call_error("retry", {"id": job["id"]})
    assert e.code == -32004 and e.reason == "invalid_state"
    assert e.data.get("status") == "pending"


def test_retry_scheduled_is_invalid_state(client):
    job = enqueue(client, delay_s=3600)
    e = client.call_error("retry", {"id": job["id"]})
    assert e.code == -32004 and e.data.get("status") == "scheduled"


def test_retry_cancelled_becomes_pending(client):
    job = enqueue(client, items=["a", "b"])
    client.call("cancel", {"id": job["id"]})
    r = client.call("retry", {"id": job["id"]})
    assert r["status"] == "pending"
    assert r["cancel_requested"] is False
    assert r["items"]["pending"] == 2 and r["items"]["cancelled"] == 0


def test_retry_unknown(client):
    assert client.call_error("retry", {"id": "987654"}).code == -32001


# -- progress / log on non-running jobs

def test_progress_on_pending_job_is_invalid_state(client):
    job = enqueue(client)
    e = client.call_error("progress", {"id": job["id"], "current": 1, "total": 2})
    assert e.code == -32004 and e.data.get("status") == "pending"


def test_log_on_non_running_job_is_invalid_state(client):
    job = enqueue(client)
    e = client.call_error("log", {"id": job["id"], "message": "hi"})
    assert e.code == -32004 and e.data.get("status") == "pending"
    client.call("cancel", {"id": job["id"]})
    e = client.call_error("log", {"id": job["id"], "message": "hi"})
    assert e.code == -32004 and e.data.get("status") == "cancelled"


# -- logs paging (needs a running job: lease it from the embedded broker)

def test_log_and_logs_paging(client):
    job = enqueue(client)
    jk.fetch_one(client)
    seqs = [client.call("log", {"id": job["id"], "message": f"line {i}", "level": "warn" if i == 2 else "info"})["seq"] for i in range(7)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 7
    r = client.call("logs", {"id": job["id"]})
    lines = r["lines"]
    assert [l["message"] for l in lines] == [f"line {i}" for i in range(7)]
    assert [l["seq"] for l in lines] == seqs
    assert lines[2]["level"] == "warn" and lines[0]["level"] == "info"
    assert all(is_time(l["ts"]) for l in lines)
    # paging with since/next
    got, since = [], None
    for _ in range(20):
        p = {"id": job["id"], "limit": 3}
        if since is not None:
            p["since"] = since
        r = client.call("logs", p)
        assert len(r["lines"]) <= 3
        got += [l["message"] for l in r["lines"]]
        since = r["next"]
        if since is None:
            break
    assert got == [f"line {i}" for i in range(7)]
    # since: lines strictly after
    r = client.call("logs", {"id": job["id"], "since": seqs[4]})
    assert [l["message"] for l in r["lines"]] == ["line 5", "line 6"]


def test_logs_of_unknown_job(client):
    assert client.call_error("logs", {"id": "987654"}).code == -32001


# -- settings

SETTINGS_CONFIG = jk.BASE_CONFIG  # declares [workflow] publishing = true, auto_publish = false


def test_settings_get_all_and_one(client):
    allv = client.call("settings.get", {})
    assert allv.get("workflow.publishing") is True
    assert allv.get("workflow.auto_publish") is False
    one = client.call("settings.get", {"key": "workflow.publishing"})
    assert one == {"workflow.publishing": True}


def test_settings_set_then_get(kernel):
    c = kernel.client()
    r = c.call("settings.set", {"key": "workflow.publishing", "value": False})
    assert r == {"workflow.publishing": False}
    assert c.call("settings.get", {"key": "workflow.publishing"}) == {"workflow.publishing": False}
    # visible to another client
    assert kernel.client().call("settings.get", {})["workflow.publishing"] is False


def test_settings_keys_outside_workflow_are_invalid(client):
    # Settings are workflow toggles (protocol.md): other keys are bad parameters.
    e = client.call_error("settings.set", {"key": "pipeline.max_parallel_jobs", "value": True})
    assert e.code == -32602 and e.data["field"] == "key"
    e = client.call_error("settings.get", {"key": "nonsense.key"})
    assert e.code == -32602


def test_settings_undeclared_toggle_is_refused_with_did_you_mean(client):
    # protocol.md item 26: only the toggles [workflow] declares exist; a typo creates nothing
    e = client.call_error("settings.set", {"key": "workflow.publsihing", "value": False})
    assert e.code == -32602 and e.data.get("field") == "key"
    assert "did you mean workflow.publishing?" in e.message
    assert "workflow.auto_publish, workflow.publishing" in e.message
    e = client.call_error("settings.get", {"key": "workflow.brand_new"})
    assert e.code == -32602 and e.data.get("field") == "key"
    assert "did you mean" not in e.message and "workflow.publishing" in e.message
    settings = client.call("settings.get", {})
    assert "workflow.publsihing" not in settings and "workflow.brand_new" not in settings
    assert client.call("settings.get", {"key": "workflow.publishing"}) == {"workflow.publishing": True}


def test_settings_toggle_removed_from_the_config_is_no_longer_served(kernel_factory, tmp_path):
    config = jk.BASE_CONFIG.replace("auto_publish = false", "auto_publish = false\nextra = false")
    k = kernel_factory(config, db=str(tmp_path / "jobs.db"))
    c = k.client()
    assert c.call("settings.set", {"key": "workflow.extra", "value": True}) == {"workflow.extra": True}
    k.stop()
    k2 = kernel_factory(jk.BASE_CONFIG, db=str(tmp_path / "jobs.db"))
    c2 = k2.client()
    assert "workflow.extra" not in c2.call("settings.get", {})
    assert c2.call_error("settings.get", {"key": "workflow.extra"}).code == -32602


def test_settings_toggle_wrong_type(client):
    e = client.call_error("settings.set", {"key": "workflow.publishing", "value": "yes"})
    assert e.code == -32602


# -- schedules, stats, discover

def test_schedules_empty(client):
    assert client.call("schedules", {}) == []


def test_schedules_lists_configured(kernel_factory):
    k = kernel_factory(jk.BASE_CONFIG + """
[[schedules]]
name = "nightly"
type = "remote"
every = "1h"
priority = 100
payload = {}
""")
    c = k.client()
    s = c.call("schedules", {})
    assert len(s) == 1
    assert s[0]["name"] == "nightly" and s[0]["type"] == "remote"
    assert s[0]["every"] == "1h"  # "returns every as configured"
    assert s[0]["next_run_at"] is None or is_time(s[0]["next_run_at"])
    # the current slot is enqueued at once on start (docs/promises.md §8.5)
    jobs = jk.wait_for(lambda: c.call("list", {"type": "remote"})["jobs"], what="scheduled job")
    assert len(jobs) == 1
    j = jobs[0]
    assert j["created_by"] == "schedule" and j["priority"] == 100
    assert j["idempotency_key"].startswith("schedule:nightly:")
    assert jk.wait_for(lambda: c.call("schedules", {})[0]["last_job_id"], what="last_job_id") == j["id"]


def find_key(obj, key):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == key:
                yield v
            yield from find_key(v, key)
    elif isinstance(obj, list):
        for v in obj:
            yield from find_key(v, key)


def test_stats_shape(client):
    # docs/promises.md §6: "counts by status, lanes and pools busy/total, event seq, uptime" — exact shape open.
    # We only require: an object, a "pending" count somewhere equal to the pending jobs, and some
    # keys mentioning seq and uptime.
    enqueue(client)
    enqueue(client)
    enqueue(client, delay_s=3600)
    s = client.call("stats", {})
    assert isinstance(s, dict) and s
    assert 2 in list(find_key(s, "pending")), s
    flat = repr(s)
    assert "seq" in flat, s
    assert "uptime" in flat, s


def test_rpc_discover(client):
    doc = client.call("rpc.discover", {})
    assert isinstance(doc, dict)
    assert isinstance(doc["openrpc"], str)
    assert isinstance(doc["methods"], list) and doc["methods"]
    names = {m.get("name") for m in doc["methods"]}
    assert {"enqueue", "get", "list", "cancel", "subscribe"} <= names


# -- shutdown

def test_shutdown(kernel):
    c = kernel.client()
    enqueue(c)
    assert c.call("shutdown", {}) is True
    assert kernel.wait_exit(10) == 0
    assert not os.path.exists(kernel.sock)


def test_requests_during_shutdown_get_unavailable_or_close(kernel):
    c = kernel.client()
    c.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"shutdown","params":{}}\n'
               b'{"jsonrpc":"2.0","id":2,"method":"enqueue","params":{"type":"remote"}}\n')
    msgs = []
    try:
        msgs = c.read_until_eof(10)
    except (jk.ChannelEOF, ConnectionError):
        pass
    by = {m.get("id"): m for m in msgs}
    assert by.get(1, {}).get("result") is True, msgs
    # docs/promises.md §11: new requests get -32007 once shutdown began. Pipelined requests may be handled
    # concurrently (docs/promises.md §3), so the enqueue may also have won the race: success or -32007 only.
    if 2 in by and "error" in by[2]:
        assert by[2]["error"]["code"] == -32007, by[2]
    assert kernel.wait_exit(10) == 0

def test_rpc_discover_serves_exactly_protocol_openrpc_json(client):
    # The binary embeds protocol/openrpc.json (scripts/embed-openrpc); a stale copy fails here.
    path = os.path.join(os.path.dirname(__file__), "..", "..", "protocol", "openrpc.json")
    with open(path) as f:
        assert client.call("rpc.discover", {}) == json.load(f)

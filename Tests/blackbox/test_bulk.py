"""docs/promises.md §13, steering many jobs at once: `cancel`, `retry` and `remove` take `ids` or a
filter `{status?, type?, label?, older_than_s?}` and answer how many they changed, their single-`{id}`
forms unchanged; `parallel {type, max}` sets a type's concurrency at run time, kept across restarts
and shown in `stats.types`. The methods and the CLI commands, on the real binary over its socket.
"""

import subprocess
import time

import pytest

import jk
from jk import RPCError, enqueue, fetch_one, wait_for, wait_status

CONFIG = jk.BASE_CONFIG + """
[types.slow]
mode = "internal"
command = ["sleep", "30"]
concurrency = 3
"""


def fail(c, job_id, type="remote"):
    lease = fetch_one(c, [type])
    assert lease["job"]["id"] == job_id, lease
    c.call("nack", {"lease": lease["lease"], "error": "boom", "retryable": False})
    return wait_status(c, job_id, {"failed"})


def error_of(c, method, params):
    with pytest.raises(RPCError) as e:
        c.call(method, params)
    return e.value


def status(c, job_id):
    return c.call("get", {"id": job_id})["status"]


# -- cancel

def test_cancel_by_ids_counts_the_jobs_it_cancelled_and_leaves_ended_ones(kernel_factory):
    c = kernel_factory(CONFIG).client()
    a, b, done = enqueue(c), enqueue(c), enqueue(c)
    c.call("cancel", {"id": done["id"]})
    assert c.call("cancel", {"ids": [a["id"], b["id"], done["id"]]}) == {"cancelled": 2}
    assert {status(c, j["id"]) for j in (a, b, done)} == {"cancelled"}
    # An unknown id: -32001, and nothing is cancelled.
    d = enqueue(c)
    e = error_of(c, "cancel", {"ids": [d["id"], "999999"]})
    assert e.code == -32001 and e.data["job_id"] == "999999"
    assert status(c, d["id"]) == "pending"


def test_cancel_by_filter_matches_type_label_and_status(kernel_factory):
    c = kernel_factory(CONFIG).client()
    nightly = [enqueue(c, label="nightly") for _ in range(3)]
    other_label = enqueue(c, label="manual")
    other_type = enqueue(c, type="remote2", label="nightly")
    assert c.call("cancel", {"type": "remote", "label": "nightly", "reason": "superseded"}) == {"cancelled": 3}
    for j in nightly:
        job = c.call("get", {"id": j["id"]})
        assert job["status"] == "cancelled" and job["error"]["message"] == "superseded"
    assert status(c, other_label["id"]) == "pending" and status(c, other_type["id"]) == "pending"
    # Nothing left to match: 0; a status that cannot be cancelled matches nothing.
    assert c.call("cancel", {"type": "remote", "label": "nightly"}) == {"cancelled": 0}
    assert c.call("cancel", {"status": "success"}) == {"cancelled": 0}
    assert c.call("cancel", {"status": ["pending", "running"]}) == {"cancelled": 2}


def test_cancel_older_than_counts_from_creation_for_open_jobs(kernel_factory):
    c = kernel_factory(CONFIG).client()
    old = enqueue(c)
    time.sleep(1.2)
    young = enqueue(c)
    assert c.call("cancel", {"older_than_s": 1}) == {"cancelled": 1}
    assert status(c, old["id"]) == "cancelled" and status(c, young["id"]) == "pending"


@pytest.mark.parametrize("method", ["cancel", "retry", "remove"])
def test_an_empty_filter_or_a_mix_of_forms_is_invalid_params(kernel_factory, method):
    c = kernel_factory(CONFIG).client()
    j = enqueue(c)
    cases = [({}, "ids" if method == "remove" else "id"),
             ({"ids" if method == "remove" else "id": None}, None),
             ({"id": j["id"], "ids": [j["id"]]}, "id"),
             ({"ids": [j["id"]], "status": "pending"}, "ids"),
             ({"status": "nope"}, "status"),
             ({"type": []}, "type"),
             ({"label": ""}, "label"),
             ({"older_than_s": -1}, "older_than_s"),
             ({"status": "pending", "bogus": 1}, "bogus")]
    if method == "remove":
        cases = [case for case in cases if "id" not in case[0]]
    for params, field in cases:
        e = error_of(c, method, params)
        assert e.code == -32602 and e.data.get("field") == field, (params, e)
    assert status(c, j["id"]) == "pending"


def test_the_single_id_forms_answer_the_job_as_before(kernel_factory):
    c = kernel_factory(CONFIG).client()
    j = enqueue(c)
    assert c.call("cancel", {"id": j["id"]})["status"] == "cancelled"
    assert c.call("retry", {"id": j["id"]})["status"] == "pending"
    assert error_of(c, "retry", {"id": j["id"]}).code == -32004


# -- retry

def test_retry_by_filter_retries_every_failed_job_of_a_type(kernel_factory):
    c = kernel_factory(CONFIG).client()
    failed = [enqueue(c) for _ in range(2)]
    for j in failed:
        fail(c, j["id"])
    other = enqueue(c, type="remote2")
    fail(c, other["id"], type="remote2")
    assert c.call("retry", {"status": "failed", "type": "remote"}) == {"retried": 2}
    assert [status(c, j["id"]) for j in failed] == ["pending", "pending"]
    assert status(c, other["id"]) == "failed"
    # A filter matches only jobs that can be retried.
    assert c.call("retry", {"type": "remote"}) == {"retried": 0}


def test_retry_by_ids_is_all_or_nothing(kernel_factory):
    c = kernel_factory(CONFIG).client()
    bad = enqueue(c)
    fail(c, bad["id"])
    pending = enqueue(c)
    e = error_of(c, "retry", {"ids": [bad["id"], pending["id"]]})
    assert e.code == -32004 and e.data["job_id"] == pending["id"] and e.data["status"] == "pending"
    assert status(c, bad["id"]) == "failed"
    c.call("cancel", {"id": pending["id"]})
    assert c.call("retry", {"ids": [bad["id"], pending["id"]]}) == {"retried": 2}


# -- remove

def test_remove_by_filter_removes_matching_finished_jobs_only(kernel_factory):
    c = kernel_factory(CONFIG).client()
    done = [enqueue(c, label="tmp") for _ in range(3)]
    c.call("cancel", {"ids": [j["id"] for j in done]})
    keep = enqueue(c, label="tmp")  # open: never removed
    assert c.call("remove", {"label": "tmp"}) == {"removed": 3}
    for j in done:
        assert error_of(c, "get", {"id": j["id"]}).code == -32001
    assert status(c, keep["id"]) == "pending"
    assert c.call("remove", {"status": "cancelled", "older_than_s": 3600}) == {"removed": 0}
    # The ids form is as it was.
    e = error_of(c, "remove", {"ids": [keep["id"]]})
    assert e.code == -32004


# -- restart

def test_restart_enqueues_a_finished_jobs_spec_again_linked_to_it(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    old = enqueue(c, items=["a", "b"], payload={"x": 1}, priority=70, max_attempts=2, timeout_s=30,
                  idempotency_key="k1", label="nightly")
    c.call("cancel", {"id": old["id"]})
    [new] = c.call("restart", {"ids": [old["id"]]})["jobs"]
    assert new["id"] != old["id"] and new["restarted_from"] == old["id"] and new["status"] == "pending"
    for field in ("type", "payload", "priority", "max_attempts", "label", "manual"):
        assert new[field] == c.call("get", {"id": old["id"]})[field], field
    assert new["idempotency_key"] is None
    assert [i["value"] for i in c.call("items", {"id": new["id"]})["items"]] == ["a", "b"]
    assert c.call("get", {"id": new["id"]})["restarted_from"] == old["id"]
    assert "restarted_from" not in c.call("get", {"id": old["id"]})
    assert c.call("get", {"id": old["id"]})["status"] == "cancelled"
    # The link survives a restart of the kernel.
    k.restart()
    c = k.client()
    assert c.call("get", {"id": new["id"]})["restarted_from"] == old["id"]
    # A job that has not ended: -32004, and nothing is restarted.
    before = len(jk.list_all(c))
    e = error_of(c, "restart", {"ids": [old["id"], new["id"]]})
    assert e.code == -32004 and e.data["job_id"] == new["id"]
    assert len(jk.list_all(c)) == before
    assert error_of(c, "restart", {"ids": ["999999"]}).code == -32001
    assert error_of(c, "restart", {}).code == -32602
    # The CLI.
    p = cli(k, "restart", old["id"])
    assert p.returncode == 0 and p.stdout.strip().startswith(f"{old['id']} -> "), p
    assert cli(k, "restart").returncode == 2
    assert cli(k, "restart", new["id"]).returncode == 1
    # Removing a restarted job takes its link with it.
    c.call("cancel", {"id": new["id"]})
    assert c.call("remove", {"ids": [new["id"]]}) == {"removed": 1}
    assert error_of(c, "get", {"id": new["id"]}).code == -32001


# -- parallel

def running(c, type):
    return c.call("stats")["types"][type]["running"]


def test_parallel_caps_a_type_at_run_time_and_keeps_it_across_restarts(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    assert c.call("stats")["types"]["slow"]["concurrency"] == 3
    assert c.call("stats")["types"]["remote"]["concurrency"] is None
    sub = k.client()
    sub.call("subscribe", {"kinds": ["settings.changed"]})
    assert c.call("parallel", {"type": "slow", "max": 1}) == {"type": "slow", "concurrency": 1}
    ev = sub.next_event()
    assert ev["kind"] == "settings.changed" and ev["data"] == {"key": "concurrency.slow", "value": 1}
    jobs = [enqueue(c, type="slow") for _ in range(3)]
    wait_for(lambda: running(c, "slow") == 1, what="one slow job running")
    time.sleep(0.5)
    assert running(c, "slow") == 1
    # Raising it starts more at once.
    c.call("parallel", {"type": "slow", "max": 2})
    wait_for(lambda: running(c, "slow") == 2, what="two slow jobs running")
    assert c.call("stats")["types"]["slow"]["concurrency"] == 2
    # settings.get serves workflow toggles and pauses only.
    assert not any(key.startswith("concurrency.") for key in c.call("settings.get", {}))
    c.call("cancel", {"ids": [j["id"] for j in jobs]})
    k.restart()
    c = k.client()
    assert c.call("stats")["types"]["slow"]["concurrency"] == 2
    assert c.call("parallel", {"type": "slow", "max": None}) == {"type": "slow", "concurrency": 3}
    k.restart()
    assert k.client().call("stats")["types"]["slow"]["concurrency"] == 3


def test_parallel_checks_its_params(kernel_factory):
    c = kernel_factory(CONFIG).client()
    assert error_of(c, "parallel", {"type": "nope", "max": 2}).code == -32002
    for params, field in [({"type": "slow", "max": 0}, "max"), ({"type": "slow", "max": 10001}, "max"),
                          ({"type": "slow", "max": 1.5}, "max"), ({"type": "slow"}, "max"),
                          ({"max": 2}, "type"), ({"type": "slow", "max": 2, "x": 1}, "x")]:
        e = error_of(c, "parallel", params)
        assert e.code == -32602 and e.data.get("field") == field, (params, e)
    assert c.call("parallel", {"type": "remote", "max": 10000}) == {"type": "remote", "concurrency": 10000}


# -- the CLI

def cli(k, *args):
    return k.cli(*args)


def test_cli_cancel_retry_remove_take_several_ids_and_filters(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    a, b = enqueue(c), enqueue(c)
    p = cli(k, "cancel", a["id"], b["id"])
    assert p.returncode == 0 and p.stdout.strip() == "cancelled 2", p
    p = cli(k, "retry", "--status", "cancelled", "--type", "remote")
    assert p.returncode == 0 and p.stdout.strip() == "retried 2", p
    p = cli(k, "cancel", "--label", "none-such")
    assert p.returncode == 0 and p.stdout.strip() == "cancelled 0", p
    p = cli(k, "cancel", "--type", "remote", "--older-than", "0s")
    assert p.returncode == 0 and p.stdout.strip() == "cancelled 2", p
    p = cli(k, "remove", "--status", "cancelled")
    assert p.returncode == 0 and p.stdout.strip() == "removed 2", p
    # One id keeps its old output.
    j = enqueue(c)
    p = cli(k, "cancel", j["id"])
    assert p.returncode == 0 and p.stdout.strip() == f"{j['id']} cancelled", p
    # Neither ids nor a filter, or both, is a usage error.
    for args in (["cancel"], ["retry"], ["remove"], ["cancel", j["id"], "--type", "remote"], ["retry", "--status", "nope"]):
        p = cli(k, *args)
        assert p.returncode == 2, (args, p)


def test_cli_parallel_sets_and_resets(kernel_factory):
    k = kernel_factory(CONFIG)
    p = cli(k, "parallel", "slow", "1")
    assert p.returncode == 0 and p.stdout.strip() == "slow 1", p
    assert k.client().call("stats")["types"]["slow"]["concurrency"] == 1
    p = cli(k, "parallel", "slow", "--reset")
    assert p.returncode == 0 and p.stdout.strip() == "slow 3", p
    p = cli(k, "parallel", "remote", "--reset")
    assert p.returncode == 0 and p.stdout.strip() == "remote none", p
    for args in (["parallel", "slow"], ["parallel", "slow", "0"], ["parallel", "slow", "2", "--reset"]):
        assert cli(k, *args).returncode == 2, args
    p = cli(k, "parallel", "nope", "2")
    assert p.returncode == 1 and "nope" in p.stderr, p

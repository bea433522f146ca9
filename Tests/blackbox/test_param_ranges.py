"""protocol/protocol.md, "Parameter types and ranges": a value of another type or outside its range
is -32602 naming the field, never a crash, and every method checks its parameters before it looks
anything up. One test per defect found in the hardening review (each failed before the fix);
test_param_properties.py covers every parameter systematically."""
import calendar
import datetime
import os
import sys

import pytest

import jk
from jk import enqueue, wait_status

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "workers", "echo_worker.py")


def invalid(c, method, params, field):
    e = c.call_error(method, params)
    assert e.code == -32602, (method, params, e)
    assert e.reason == "invalid_params" or e.reason == "too_large"
    assert e.data["field"] == field, e.data
    return e


def alive(kernel):
    assert kernel.running(), "the kernel died"
    assert "jobs" in kernel.client().call("stats")


@pytest.mark.parametrize("params, field", [
    ({"delay_s": 1e308}, "delay_s"),
    ({"delay_s": 1e16}, "delay_s"),
    ({"delay_s": 9.3e18}, "delay_s"),
    ({"delay_s": 253402300799}, "delay_s"),  # fits as a duration, but gives a time past year 9999
    ({"timeout_s": 1e308}, "timeout_s"),
    ({"timeout_s": 1e16}, "timeout_s"),
    ({"timeout_s": -0.0}, "timeout_s"),
])
def test_durations_that_do_not_fit_are_invalid_params_and_the_kernel_lives(kernel, params, field):
    c = kernel.client()
    e = invalid(c, "enqueue", {"type": "remote", **params}, field)
    assert field in e.message
    alive(kernel)
    assert c.call("list", {})["jobs"] == [], "nothing may be stored"


def test_a_delay_that_fits_schedules_the_job_at_that_time(client):
    job = enqueue(client, delay_s=2**32)  # 136 years from now
    assert job["status"] == "scheduled"
    assert int(job["run_at"][:4]) - int(job["created_at"][:4]) in (136, 137)


@pytest.mark.parametrize("run_at", [
    "2026-02-30T00:00:00Z", "2027-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-04-31T12:00:00Z",
    "2026-01-01T25:00:00Z", "2026-01-01T23:60:00Z", "10000-01-01T00:00:00Z", "0000-06-01T00:00:00Z",
    "9999-12-31T23:59:59-01:00",
])
def test_run_at_that_does_not_exist_is_invalid_params(client, run_at):
    invalid(client, "enqueue", {"type": "remote", "run_at": run_at}, "run_at")
    assert client.call("list", {})["jobs"] == []


def test_run_at_on_a_leap_day_is_kept_as_given(client):
    # The next leap day after this year's, so the job is scheduled on whatever day the test runs.
    year = datetime.datetime.now(datetime.timezone.utc).year + 1
    while not calendar.isleap(year):
        year += 1
    job = enqueue(client, run_at=f"{year}-02-29T08:00:00+01:00")
    assert job["status"] == "scheduled" and job["run_at"] == f"{year}-02-29T07:00:00.000Z"


@pytest.mark.parametrize("priority, ok", [
    (2**31 - 1, True), (-(2**31), True), (2**31, False), (-(2**31) - 1, False), (2**32, False), (2**53, False),
])
def test_priority_fits_in_32_bits(client, priority, ok):
    if ok:
        assert enqueue(client, priority=priority)["priority"] == priority
    else:
        invalid(client, "enqueue", {"type": "remote", "priority": priority}, "priority")


def test_idempotency_key_is_at_most_1024_bytes(client):
    assert enqueue(client, idempotency_key="k" * 1024)["idempotency_key"] == "k" * 1024
    invalid(client, "enqueue", {"type": "remote", "idempotency_key": "k" * 1025}, "idempotency_key")
    invalid(client, "enqueue", {"type": "remote", "idempotency_key": "é" * 513}, "idempotency_key")  # 1026 bytes
    assert len(client.call("list", {})["jobs"]) == 1


@pytest.mark.parametrize("argv", [[5, "echo", "x"], ["echo", None], ["echo", ["x"]], [], "echo x", None])
def test_command_argv_must_be_strings(client, argv):
    payload = {"argv": argv} if argv is not None else {"cwd": "/"}
    invalid(client, "enqueue", {"type": "command", "payload": payload}, "payload.argv")
    assert client.call("list", {})["jobs"] == [], "nothing may be stored (or run)"


def test_command_payload_other_members_are_checked(client):
    invalid(client, "enqueue", {"type": "command", "payload": {"argv": ["true"], "cwd": 5}}, "payload.cwd")
    invalid(client, "enqueue", {"type": "command", "payload": {"argv": ["true"], "env": {"A": 1}}}, "payload.env")
    invalid(client, "enqueue", {"type": "command", "payload": ["true"]}, "payload")
    job = enqueue(client, "command", payload={"argv": ["true"], "note": "kept"})
    assert job["payload"]["note"] == "kept"


@pytest.mark.parametrize("method, param", [
    ("list", "type"), ("list", "created_by"), ("list", "status"), ("list", "dispatch_mode"),
    ("subscribe", "types"), ("subscribe", "kinds"), ("fetch", "types"),
])
def test_string_filters_refuse_numbers(client, method, param):
    invalid(client, method, {param: 5}, param)
    invalid(client, method, {param: ["remote", 5]}, param)


def test_job_id_filters_take_numbers(client):
    job = enqueue(client)
    assert client.call("subscribe", {"ids": int(job["id"])})["jobs"][0]["id"] == job["id"]
    assert client.call("get", {"id": int(job["id"])})["id"] == job["id"]
    invalid(client, "list", {"parent_id": [int(job["id"]), -1]}, "parent_id")
    invalid(client, "get", {"id": "1" * 19}, "id")


@pytest.mark.parametrize("method, params, field", [
    ("ack", {"lease": "nope", "bogus": 1}, "bogus"),
    ("ack", {"lease": 5}, "lease"),
    ("ack", {"lease": ""}, "lease"),
    ("ack", {}, "lease"),
    ("nack", {"lease": "nope"}, "error"),
    ("nack", {"lease": "nope", "error": 5}, "error"),
    ("nack", {"lease": "nope", "error": "x", "retryable": "no"}, "retryable"),
    ("nack", {"lease": "nope", "error": "x", "bogus": 1}, "bogus"),
    ("extend", {"lease": "nope", "lease_s": 0}, "lease_s"),
    ("extend", {"lease": "nope", "lease_s": 1e308}, "lease_s"),
    ("extend", {"lease": "nope", "bogus": 1}, "bogus"),
    ("fetch", {"types": "no-such-type", "max": 0}, "max"),
    ("fetch", {"types": "no-such-type", "lease_s": 1e308}, "lease_s"),
    ("enqueue", {"type": "no-such-type", "priority": 2**40}, "priority"),
    ("enqueue", {"type": "remote", "parent_id": "999", "delay_s": -1}, "delay_s"),
    ("subscribe", {"ids": "999", "since": -1}, "since"),
    ("get", {"id": "999", "bogus": 1}, "bogus"),
    ("logs", {"id": "999", "limit": 0}, "limit"),
])
def test_params_are_checked_before_anything_is_looked_up(client, method, params, field):
    invalid(client, method, params, field)


def test_valid_params_on_an_unknown_lease_are_lease_expired(client):
    for method, params in [("ack", {"lease": "nope"}), ("nack", {"lease": "nope", "error": "x"}),
                           ("extend", {"lease": "nope", "lease_s": 10})]:
        assert client.call_error(method, params).code == -32005


def test_progress_counts_are_ranged_and_percent_stays_within_100(client):
    job = enqueue(client)
    jk.fetch_one(client)
    invalid(client, "progress", {"id": job["id"], "current": 1e308}, "current")
    invalid(client, "progress", {"id": job["id"], "total": 2**53 + 1}, "total")
    p = client.call("progress", {"id": job["id"], "current": 2**53, "total": 1e-300})
    assert p["percent"] == 100.0
    alive_c = client.call("get", {"id": job["id"]})
    assert alive_c["progress"]["percent"] == 100.0


WORKER_CONFIG = """
[types.py]
mode = "internal"
worker = ["{python}", "{worker}"]
max_attempts = 1
"""


@pytest.mark.parametrize("answer, field", [
    ({"items": [{"index": 0, "status": "done"}]}, "items[0].status"),
    ({"items": [{"index": 7, "status": "success"}]}, "items[0].index"),
    ({"items": [{"index": 2**40, "status": "success"}]}, "items[0].index"),
    ({"items": [{"index": "0", "status": "success"}]}, "items[0].index"),
    ({"items": [{"index": 0, "status": "failed", "error": 5}]}, "items[0].error"),
    ({"items": [5]}, "items[0]"),
])
def test_a_worker_result_out_of_range_fails_the_unit_naming_the_field(kernel_factory, answer, field):
    k = kernel_factory(WORKER_CONFIG.replace("{python}", sys.executable).replace("{worker}", WORKER))
    c = k.client()
    job = enqueue(c, "py", payload={"answer": answer})
    done = wait_status(c, job["id"], {"failed", "success"}, timeout=15)
    assert done["status"] == "failed", done
    assert "invalid result" in done["error"]["message"] and field in done["error"]["message"], done["error"]
    logs = k.stderr_text()
    assert "invalid run result" in logs and field in logs, logs[-2000:]
    alive(k)


def test_a_worker_heartbeat_with_a_bad_job_id_is_invalid_params(kernel):
    c = kernel.client()
    invalid(c, "heartbeat", {"job_id": "x"}, "job_id")
    invalid(c, "heartbeat", {"job_id": 1e308}, "job_id")
    assert c.call("heartbeat", {"job_id": "1"}) is True

"""docs/promises.md §13 (added for daily use): every job may carry a `label`, part of the job
object everywhere it appears and shown by `status`, `watch` and `status ID`; a pending or
scheduled job says why it waits (`waiting`), in `get`, `list`, `status ID` and `run`'s output.
protocol/protocol.md, "The job object" and `enqueue`."""

import json
import signal
import subprocess
import time

import pytest

import jk
from jk import enqueue

# One local slot, no priority lane: a running command fills the pool.
CONFIG = jk.BASE_CONFIG.replace("[pipeline]\n", "[pipeline]\nmax_parallel_jobs = 1\npriority_lane_slots = 0\n", 1) + """
[types.gated]
mode = "async_api"
requires = ["publishing"]
"""


def cli(kernel, *args, timeout=30):
    return subprocess.run([kernel.binary, *args[:1], "--socket", kernel.sock, *args[1:]], cwd=kernel.home,
                          env=kernel.env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def k(kernel_factory):
    return kernel_factory(CONFIG)


def fill_the_pool(k):
    """A command that runs until the test ends, holding the one slot; returns its id."""
    c = k.client()
    job = enqueue(c, "command", payload={"argv": ["sleep", "60"]})
    deadline = time.monotonic() + 10
    while c.call("get", {"id": job["id"]})["status"] != "running":
        assert time.monotonic() < deadline, "the filler never started"
        time.sleep(0.02)
    return job["id"]


# --- label ---------------------------------------------------------------------------------------

def test_label_is_part_of_the_job_object_everywhere(k):
    c = k.client()
    sub = k.client()
    sub.call("subscribe", {"types": ["remote"]})
    job = enqueue(c, label="nightly backup")
    assert job["label"] == "nightly backup"
    assert c.call("get", {"id": job["id"]})["label"] == "nightly backup"
    assert c.call("list", {})["jobs"][0]["label"] == "nightly backup"
    created = sub.events_until(lambda e: e["kind"] == "job.created")[-1]
    assert created["data"]["job"]["label"] == "nightly backup"
    lease = c.call("fetch", {"types": ["remote"]})["leases"][0]
    assert lease["job"]["label"] == "nightly backup"
    # A job without one reads null.
    assert enqueue(c)["label"] is None
    # Replayed from the log (the stored event is compact), the label is still there.
    replay = k.client()
    replay.call("subscribe", {"since": 0})
    first = replay.events_until(lambda e: e["kind"] == "job.created")[0]
    assert first["data"]["job"]["label"] == "nightly backup"


def test_label_is_at_most_200_bytes_and_a_string(k):
    c = k.client()
    assert enqueue(c, label="é" * 100)["label"] == "é" * 100  # 200 bytes
    for bad in ["é" * 100 + "x", 5, ["a"], {"a": 1}]:
        e = c.call_error("enqueue", {"type": "remote", "label": bad})
        assert e.code == -32602 and e.data["field"] == "label", bad
    assert c.call("stats", {})["jobs"]["pending"] == 1, "a refused enqueue stores nothing"


def test_label_is_not_compared_by_an_idempotency_key(k):
    """A label is cosmetic (as pueue's and Faktory's are): the same key with another label is the
    same job, which keeps its first label."""
    c = k.client()
    first = enqueue(c, payload={"n": 1}, idempotency_key="k1", label="first")
    again = c.call("enqueue", {"type": "remote", "payload": {"n": 1}, "idempotency_key": "k1", "label": "second"})
    assert again["duplicate"] is True and again["job"]["id"] == first["id"] and again["job"]["label"] == "first"
    e = c.call_error("enqueue", {"type": "remote", "payload": {"n": 2}, "idempotency_key": "k1", "label": "first"})
    assert e.code == -32003


def test_the_label_survives_a_restart(k):
    c = k.client()
    job = enqueue(c, label="kept")
    k.restart()
    assert k.client().call("get", {"id": job["id"]})["label"] == "kept"


def test_cli_enqueue_label_and_run_defaults_to_its_command_line(k):
    p = cli(k, "enqueue", "--label", "build docs", "remote")
    assert p.returncode == 0, p.stderr
    c = k.client()
    assert c.call("get", {"id": p.stdout.strip()})["label"] == "build docs"
    p = cli(k, "run", "--", "echo", "two words")
    assert p.returncode == 0 and p.stdout == "two words\n", p.stderr
    ran = c.call("list", {"type": "command"})["jobs"][0]
    assert ran["label"] == "echo 'two words'" and "label" not in ran["payload"]
    p = cli(k, "run", "--label", "greeting", "--", "echo", "hi")
    ran = c.call("list", {"type": "command"})["jobs"][0]
    assert ran["label"] == "greeting" and "label" not in ran["payload"]
    assert cli(k, "enqueue", "--label", "x" * 201, "remote").returncode != 0


def test_status_shows_the_label_else_the_command_else_a_payload_summary(k):
    c = k.client()
    enqueue(c, payload={"file": "a.png"})
    enqueue(c, label="labelled")
    c.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}, "delay_s": 100})
    lines = cli(k, "status").stdout.splitlines()
    assert lines[0].split()[-1] == "LABEL"
    assert lines[1].endswith("true"), lines
    assert lines[2].endswith("labelled"), lines
    assert lines[3].endswith('{"file":"a.png"}'), lines


def test_status_id_shows_label_command_and_cwd(k):
    p = cli(k, "run", "--label", "say hi", "--", "echo", "hi")
    job = k.client().call("list", {"type": "command"})["jobs"][0]
    summary = cli(k, "status", job["id"]).stdout
    assert "label" in summary and "say hi" in summary
    assert "command" in summary and "echo hi" in summary
    assert f"cwd" in summary and k.home in summary
    other = enqueue(k.client(), payload={"file": "a.png"})
    summary = cli(k, "status", other["id"]).stdout
    assert '{"file":"a.png"}' in summary and "waiting" in summary


# --- waiting -------------------------------------------------------------------------------------

def test_a_job_behind_a_full_pool_says_its_place_in_line(k):
    c = k.client()
    filler = fill_the_pool(k)
    ids = [enqueue(c, "command", payload={"argv": ["true"]})["id"] for _ in range(3)]
    for n, jid in enumerate(ids, 1):
        assert c.call("get", {"id": jid})["waiting"] == {"reason": "pool_full", "position": n}
    # A higher priority goes ahead of them all.
    urgent = enqueue(c, "command", payload={"argv": ["true"]}, priority=60)["id"]
    assert c.call("get", {"id": urgent})["waiting"]["position"] == 1
    assert c.call("get", {"id": ids[0]})["waiting"]["position"] == 2
    # list shows it too; a running job does not wait.
    listed = {j["id"]: j["waiting"] for j in c.call("list", {"type": "command"})["jobs"]}
    assert listed[ids[2]] == {"reason": "pool_full", "position": 4}
    assert listed[filler] is None
    assert c.call("get", {"id": filler})["waiting"] is None
    # status ID says it in words.
    assert "pool full, 3rd in line" in cli(k, "status", ids[1]).stdout
    c.call("cancel", {"id": filler})


def test_finished_jobs_do_not_wait(k):
    c = k.client()
    job = enqueue(c)
    c.call("cancel", {"id": job["id"]})
    assert c.call("get", {"id": job["id"]})["waiting"] is None


def test_a_paused_type_says_so(k):
    c = k.client()
    job = enqueue(c)
    c.call("pause", {"type": "remote"})
    assert c.call("get", {"id": job["id"]})["waiting"] == {"reason": "paused", "setting": "paused.remote"}
    assert "resume remote" in cli(k, "status", job["id"]).stdout
    c.call("pause", {})
    assert c.call("get", {"id": job["id"]})["waiting"] == {"reason": "paused", "setting": "paused.*"}
    c.call("resume", {})
    assert c.call("get", {"id": job["id"]})["waiting"]["reason"] == "pool_full"


def test_a_job_after_others_names_the_ones_it_still_waits_for(k):
    c = k.client()
    a, b = enqueue(c), enqueue(c)
    job = enqueue(c, after=[b["id"], a["id"]])
    assert job["status"] == "scheduled"
    assert c.call("get", {"id": job["id"]})["waiting"] == {"reason": "after", "job_ids": sorted([a["id"], b["id"]], key=int)}
    lease = c.call("fetch", {"types": ["remote"]})["leases"][0]
    c.call("ack", {"lease": lease["lease"], "result": None})
    assert c.call("get", {"id": job["id"]})["waiting"] == {"reason": "after", "job_ids": [b["id"]]}
    assert f"after job {b['id']}" in cli(k, "status", job["id"]).stdout


def test_a_delayed_job_says_until_when(k):
    c = k.client()
    job = enqueue(c, delay_s=100)
    w = c.call("get", {"id": job["id"]})["waiting"]
    assert w == {"reason": "delayed", "until": job["run_at"]}
    assert "delayed until" in cli(k, "status", job["id"]).stdout


def test_a_job_in_a_retry_backoff_says_until_when(k):
    c = k.client()
    job = enqueue(c)
    lease = c.call("fetch", {"types": ["remote"]})["leases"][0]
    c.call("nack", {"lease": lease["lease"], "error": {"message": "again"}})
    got = c.call("get", {"id": job["id"]})
    assert got["status"] in ("scheduled", "pending")
    assert got["waiting"]["reason"] == "delayed" and got["waiting"]["until"] > got["updated_at"]


def test_a_required_toggle_that_is_off_says_so(k):
    c = k.client()
    c.call("settings.set", {"key": "workflow.publishing", "value": False})
    job = enqueue(c, "gated")
    assert c.call("get", {"id": job["id"]})["waiting"] == {"reason": "toggle_off", "toggle": "publishing"}
    assert "workflow.publishing true" in cli(k, "status", job["id"]).stdout
    # A manual job is never skipped by requires: it only waits for a worker.
    manual = enqueue(c, "gated", manual=True)
    assert c.call("get", {"id": manual["id"]})["waiting"]["reason"] == "pool_full"


def test_run_says_why_it_waits_and_ctrl_c_says_the_job_stays_pending(k):
    filler = fill_the_pool(k)
    proc = subprocess.Popen([k.binary, "run", "--socket", k.sock, "--", "true"], cwd=k.home, env=k.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "waiting: pool full, next in line" in line, line
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 130
        rest = proc.stderr.read()
        assert "stays pending" in rest and "keeps running" not in rest, rest
    finally:
        if proc.poll() is None:
            proc.kill()
    k.client().call("cancel", {"id": filler})


def test_ctrl_c_on_a_running_job_says_it_keeps_running(k):
    proc = subprocess.Popen([k.binary, "run", "--socket", k.sock, "--", "sh", "-c", "echo started; sleep 30"],
                            cwd=k.home, env=k.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "started\n"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 130
        assert "keeps running" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_handler_gets_the_label_in_its_job_object(k):
    """An exec handler reads {job, item} on stdin (docs/promises.md §5.1): the label is in the job."""
    p = cli(k, "run", "--label", "self aware", "--", "cat")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["job"]["label"] == "self aware"

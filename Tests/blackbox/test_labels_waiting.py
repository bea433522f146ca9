"""docs/promises.md §13 (added for daily use): every job may carry a `label`, part of the job
object everywhere it appears and shown by `status`, `watch` and `status ID`; a pending or
scheduled job says why it waits (`waiting`), in `get`, `list`, `status ID` and `run`'s output.
protocol/protocol.md, "The job object" and `enqueue`."""

import json
import os
import pty
import queue
import select
import signal
import subprocess
import threading
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


class StderrLines:
    """A process's stderr read line by line on a thread, so a test can wait for a line with a bound."""

    def __init__(self, proc):
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, args=(proc.stderr,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def until(self, text, timeout=20):
        """The first line (from now on) that contains `text`; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no stderr line with {text!r} within {timeout}s; saw {self.seen!r}")
            assert line is not None, f"stderr ended before a line with {text!r}; saw {self.seen!r}"
            self.seen.append(line)
            if text in line:
                return line


def test_run_keeps_why_it_waits_current_and_says_once_when_it_starts(k):
    c = k.client()
    filler = fill_the_pool(k)
    ahead = enqueue(c, "command", payload={"argv": ["true"]})["id"]
    proc = subprocess.Popen([k.binary, "run", "--socket", k.sock, "--", "echo", "hi"], cwd=k.home, env=k.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        err = StderrLines(proc)
        line = err.until("waiting:")
        assert "waiting: pool full, 2nd in line" in line
        run_id = line.split()[2]
        # A more urgent job goes ahead: no event of run's own job says so, yet it is asked again.
        urgent = enqueue(c, "command", payload={"argv": ["true"]}, priority=60)["id"]
        assert "waiting: pool full, 3rd in line" in err.until("waiting:")
        c.call("pause", {"type": "command"})
        assert "type command is paused (`jobkernel resume command` resumes it)" in err.until("waiting:")
        c.call("cancel", {"ids": [filler, ahead, urgent]})
        c.call("resume", {"type": "command"})
        assert err.until("started") == f"jobkernel: job {run_id} started\n"
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0 and out == "hi\n"
        # Not a terminal: one line per change, no redraws; the start is said once.
        rest = err.seen + list(iter(err.lines.get, None))
        assert not any("\r" in line for line in rest), rest
        assert sum("started" in line for line in rest) == 1, rest
        assert [line for line in rest if "waiting:" in line] == [
            line for i, line in enumerate(rest) if "waiting:" in line and line not in rest[:i]], rest
    finally:
        if proc.poll() is None:
            proc.kill()


def test_run_on_a_terminal_rewrites_one_waiting_line_in_place(k):
    c = k.client()
    filler = fill_the_pool(k)
    ahead = enqueue(c, "command", payload={"argv": ["true"]})["id"]
    master, slave = pty.openpty()
    proc = subprocess.Popen([k.binary, "run", "--socket", k.sock, "--", "echo", "hi"], cwd=k.home, env=k.env(),
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""

    def read_until(pattern, timeout=20):
        nonlocal seen
        deadline = time.monotonic() + timeout
        while pattern not in seen:
            ready, _, _ = select.select([master], [], [], max(0.01, deadline - time.monotonic()))
            assert ready or time.monotonic() < deadline, f"no {pattern!r} on the terminal in {timeout}s: {seen!r}"
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:  # the process ended and closed the terminal
                    break
        assert pattern in seen, seen

    try:
        read_until(b"2nd in line")
        c.call("pause", {"type": "command"})
        read_until(b"is paused")
        c.call("cancel", {"ids": [filler, ahead]})
        c.call("resume", {"type": "command"})
        read_until(b"started")
        assert proc.wait(20) == 0
        # Each redraw returns to the line's start and erases it; the waiting text never gets a
        # line of its own: the only newline ends the "started" note that replaces it.
        waiting_part = seen[:seen.index(b"started")]
        assert waiting_part.count(b"\r\x1b[K") >= 3, seen
        assert b"\n" not in waiting_part, seen
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_run_of_a_job_that_starts_at_once_says_nothing_of_waiting(k):
    p = cli(k, "run", "--", "echo", "hi")
    assert p.returncode == 0 and p.stdout == "hi\n"
    assert "waiting" not in p.stderr and "started" not in p.stderr, p.stderr


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

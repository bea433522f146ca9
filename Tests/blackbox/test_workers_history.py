"""`workers {}` and `stats.history {since?}` (protocol/protocol.md), and `jobkernel workers`: what runs now
in the local pools and under leases, and the last hour by type for the dashboard's charts. Real
persistent workers and exec handlers, a real fetcher; the history's interval shortened with the test
aid JOBKERNEL_STATS_INTERVAL_MS so that no test waits 10 s."""
import json
import os
import sys
import time

import jk
from jk import enqueue, wait_for, wait_status

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "workers", "echo_worker.py")

CONFIG = f"""
[pipeline]
cancel_grace = "5s"
heartbeat = "200ms"
stale_after = "30s"

[types.py]
mode = "internal"
worker = ["{sys.executable}", "{WORKER}"]
concurrency = 2
max_attempts = 1

[types.remote]
mode = "async_api"
"""


def ms(timestamp):
    """An RFC 3339 time the kernel wrote (UTC, milliseconds, Z) as Unix milliseconds."""
    assert jk.RFC3339_MS_Z.match(timestamp), timestamp
    return int(time.mktime(time.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone) * 1000 + int(timestamp[20:23])


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode()


def pool(result, type_name):
    return next(p for p in result["pools"] if p["type"] == type_name)


def busy_on(c, type_name, job_id):
    workers = pool(c.call("workers"), type_name)["workers"]
    return next((w for w in workers if w["state"] == "busy" and w["job"] and w["job"]["id"] == job_id), None)


# MARK: workers

def started(c, job_id):
    """The echo worker has read the job's `run` (it logs `worker PID runs job ID` first): a `cancel`
    sent now reaches it on its own, not in the same read as the `run`."""
    return any("runs job" in l["message"] for l in c.call("logs", {"id": job_id})["lines"])


def test_workers_shows_busy_workers_with_their_job_then_an_idle_persistent_one(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    before = time.time() * 1000 - 1000
    nap = enqueue(c, "py", payload={"sleep": 60}, label="resize a.png")
    sleeper = enqueue(c, "command", payload={"argv": ["sleep", "60"]}, label="wait a minute")

    persistent = wait_for(lambda: busy_on(c, "py", nap["id"]), timeout=20, what="the py worker busy on its job")
    one_shot = wait_for(lambda: busy_on(c, "command", sleeper["id"]), timeout=20, what="the sleep handler busy")
    assert persistent["job"] == {"id": nap["id"], "label": "resize a.png", "type": "py"}
    assert one_shot["job"] == {"id": sleeper["id"], "label": "wait a minute", "type": "command"}
    # The pids are the processes running them (under jobkernel-supervise when it is installed).
    assert WORKER in cmdline(persistent["pid"]) and "sleep 60" in cmdline(one_shot["pid"])
    for w in (persistent, one_shot):
        assert before <= ms(w["since"]) <= time.time() * 1000 + 1000, w

    result = c.call("workers")
    assert [p["type"] for p in result["pools"]] == ["command", "py"]  # by type; async_api has no pool
    py, command = pool(result, "py"), pool(result, "command")
    assert (py["dispatch_mode"], py["concurrency"], py["persistent"]) == ("internal", 2, True)
    assert (command["dispatch_mode"], command["persistent"]) == ("internal", False)
    assert command["concurrency"] >= 1
    assert result["leases"] == []

    # Cancelled, the persistent worker answers and waits idle for the next unit; the exec
    # handler's process is gone, and with it its row.
    wait_for(lambda: started(c, nap["id"]), timeout=20, what="the worker reading its run")
    c.call("cancel", {"id": nap["id"]})
    c.call("cancel", {"id": sleeper["id"]})
    wait_status(c, nap["id"], "cancelled", timeout=20)
    wait_status(c, sleeper["id"], "cancelled", timeout=20)
    result = wait_for(lambda: (r := c.call("workers")) and pool(r, "command")["workers"] == []
                      and all(w["state"] == "idle" for w in pool(r, "py")["workers"]) and r,
                      timeout=20, what="the pools idle")
    idle = pool(result, "py")["workers"]
    assert [w["pid"] for w in idle] == [persistent["pid"]] and idle[0]["job"] is None
    assert ms(idle[0]["since"]) >= ms(persistent["since"])


def test_a_worker_deaf_to_cancel_shows_stopping_until_it_is_killed_and_replaced(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    deaf = enqueue(c, "py", payload={"deaf_first": 60, "sleep": 60})
    busy = wait_for(lambda: busy_on(c, "py", deaf["id"]), timeout=20, what="the py worker busy")
    wait_for(lambda: started(c, deaf["id"]), timeout=20, what="the worker reading its run")
    asked = time.time() * 1000
    c.call("cancel", {"id": deaf["id"]})
    # Told to stop, it is stopping (since the cancel) until cancel_grace (5 s) is over.
    stopping = wait_for(lambda: next((w for w in pool(c.call("workers"), "py")["workers"] if w["state"] == "stopping"), None),
                        timeout=4, interval=0.02, what="the worker stopping")
    assert stopping["pid"] == busy["pid"] and stopping["job"]["id"] == deaf["id"]
    assert asked - 1000 <= ms(stopping["since"]) <= time.time() * 1000
    # Then it is killed; the pool starts another process in its place, idle.
    wait_status(c, deaf["id"], "cancelled", timeout=20)
    replaced = wait_for(lambda: [w for w in pool(c.call("workers"), "py")["workers"] if w["state"] == "idle"],
                        timeout=20, what="a new idle worker")
    assert [w["pid"] for w in replaced] != [busy["pid"]] and replaced[0]["job"] is None


def test_workers_shows_each_lease_with_its_fetchers_name_and_expiry_soonest_first(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    first = enqueue(c, "remote", label="render frame 1")
    second = enqueue(c, "remote")
    named = k.client()
    named.call("initialize", {"client": {"name": "host-1"}})
    t0 = time.time() * 1000
    late = named.call("fetch", {"types": "remote", "lease_s": 60})["leases"][0]
    anonymous = k.client()
    soon = anonymous.call("fetch", {"types": "remote", "lease_s": 30})["leases"][0]
    t1 = time.time() * 1000

    leases = c.call("workers")["leases"]
    assert [l["lease"] for l in leases] == [soon["lease"], late["lease"]]  # soonest to expire first
    by_job = {l["job"]["id"]: l for l in leases}
    assert by_job[first["id"]]["job"] == {"id": first["id"], "label": "render frame 1", "type": "remote"}
    assert by_job[second["id"]]["job"] == {"id": second["id"], "label": None, "type": "remote"}
    assert by_job[late["job"]["id"]]["worker"] == "host-1"
    assert by_job[soon["job"]["id"]]["worker"] is None  # it never said its name
    for lease, seconds in ((late, 60), (soon, 30)):
        shown = next(l for l in leases if l["lease"] == lease["lease"])
        assert shown["expires_at"] == lease["expires_at"]
        assert t0 + seconds * 1000 - 1000 <= ms(shown["expires_at"]) <= t1 + seconds * 1000 + 1000

    named.call("ack", {"lease": late["lease"]})
    assert [l["lease"] for l in c.call("workers")["leases"]] == [soon["lease"]]
    anonymous.close()  # its lease ends with its connection
    wait_for(lambda: c.call("workers")["leases"] == [], timeout=10, what="the closed connection's lease gone")


def test_workers_takes_no_parameters_as_other_methods_without_any(kernel_factory):
    c = kernel_factory(CONFIG).client()
    assert set(c.call("workers", {})) == {"pools", "leases"}
    for method in ("workers", "stats"):
        e = c.call_error(method, {"verbose": True})
        assert e.code == -32602, e


def test_jobkernel_workers_prints_the_pools_and_the_leases(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    nap = enqueue(c, "py", payload={"sleep": 60}, label="resize a.png")
    enqueue(c, "remote")
    fetcher = k.client()
    fetcher.call("initialize", {"client": {"name": "host-1"}})
    lease = fetcher.call("fetch", {"types": "remote", "lease_s": 120})["leases"][0]
    busy = wait_for(lambda: busy_on(c, "py", nap["id"]), timeout=20, what="the py worker busy")

    p = k.cli("workers", "--socket", k.sock)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["TYPE", "PID", "STATE", "JOB", "LABEL", "FOR"]
    assert any(l.split()[:6] == ["py", str(busy["pid"]), "busy", nap["id"], "resize", "a.png"] for l in lines), p.stdout
    assert any(l.split()[:3] == ["command", "-", "-"] for l in lines), p.stdout  # nothing running
    header = lines.index(next(l for l in lines if l.startswith("LEASE")))
    assert lines[header].split() == ["LEASE", "JOB", "TYPE", "WORKER", "EXPIRES", "IN"]
    row = lines[header + 1].split()
    assert row[:4] == [lease["lease"], lease["job"]["id"], "remote", "host-1"]
    assert row[4] in ("1m", "2m"), row  # 120 s, less the time the test took

    p = k.cli("workers", "--json", "--socket", k.sock)
    assert p.returncode == 0, p.stderr
    printed = json.loads(p.stdout)
    assert [l["lease"] for l in printed["leases"]] == [lease["lease"]]
    assert any(w["job"] and w["job"]["id"] == nap["id"] for w in pool(printed, "py")["workers"])
    wait_for(lambda: started(c, nap["id"]), timeout=20, what="the worker reading its run")
    c.call("cancel", {"id": nap["id"]})
    wait_status(c, nap["id"], "cancelled", timeout=20)

    p = k.cli("workers", "--json", "--socket", os.path.join(k.home, "nobody.sock"))
    assert p.returncode == 3, (p.returncode, p.stderr)  # no kernel answers


# MARK: stats.history

def totals(history, type_name, key):
    return sum(s["types"].get(type_name, {}).get(key, 0) for s in history["samples"])


def test_stats_history_has_a_sample_from_the_start_and_counts_each_end_once(kernel_factory, monkeypatch):
    monkeypatch.setenv("JOBKERNEL_STATS_INTERVAL_MS", "300")
    started = time.time() * 1000
    k = kernel_factory(CONFIG)
    c = k.client()
    history = c.call("stats.history")
    assert (history["interval_s"], history["kept_s"]) == (0.3, 108)
    first = history["samples"][0]
    assert started - 1000 <= ms(first["t"]) <= time.time() * 1000
    assert set(first["types"]) == {"command", "py", "remote"}  # every configured type, with zeros
    assert first["types"]["py"] == {"pending": 0, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 0,
                                    "partial_success": 0, "skipped": 0}

    ok = enqueue(c, "command", payload={"argv": ["true"]}, max_attempts=1)
    bad = enqueue(c, "command", payload={"argv": ["false"]}, max_attempts=1)
    waiting = enqueue(c, "remote")
    ended = {j["id"]: wait_status(c, j["id"], {"success", "failed"}, timeout=20) for j in (ok, bad)}
    assert [ended[ok["id"]]["status"], ended[bad["id"]]["status"]] == ["success", "failed"]
    last_end = max(ms(j["finished_at"]) for j in ended.values())

    # A sample taken after both ends has counted them, each in the interval it ended in, once.
    history = wait_for(lambda: (h := c.call("stats.history")) and ms(h["samples"][-1]["t"]) > last_end and h,
                       timeout=20, what="a sample after the ends")
    assert totals(history, "command", "succeeded") == 1 and totals(history, "command", "failed") == 1
    for job in ended.values():
        closing = next(s for s in history["samples"] if ms(s["t"]) >= ms(job["finished_at"]))
        key = "succeeded" if job["status"] == "success" else "failed"
        assert closing["types"]["command"][key] >= 1, (job, closing)
    # pending and running are counts at the sample's time: the unfetched remote job is pending.
    assert history["samples"][-1]["types"]["remote"]["pending"] == 1
    assert history["samples"][-1]["types"]["command"]["running"] == 0
    times = [ms(s["t"]) for s in history["samples"]]
    assert times == sorted(times) and len(set(times)) == len(times)

    # since: only the samples taken after it.
    since = history["samples"][-2]["t"]
    later = c.call("stats.history", {"since": since})["samples"]
    assert later and all(ms(s["t"]) > ms(since) for s in later)
    assert later[0] == history["samples"][-1]
    assert c.call("stats.history", {"since": "9999-12-31T23:59:59Z"})["samples"] == []

    # In memory only: a restarted kernel starts a new history.
    k.stop()
    restarted = time.time() * 1000
    k.start()
    history = k.client().call("stats.history")
    assert ms(history["samples"][0]["t"]) >= restarted - 1000
    assert totals(history, "command", "succeeded") == 0
    assert history["samples"][0]["types"]["remote"]["pending"] == 1 and waiting["status"] == "pending"


def test_stats_history_samples_every_10s_by_default(kernel_factory, monkeypatch):
    monkeypatch.delenv("JOBKERNEL_STATS_INTERVAL_MS", raising=False)
    c = kernel_factory(CONFIG).client()
    history = c.call("stats.history")
    assert (history["interval_s"], history["kept_s"]) == (10, 3600)
    assert len(history["samples"]) == 1  # the one taken at start


def test_stats_history_refuses_a_since_that_is_not_a_time(kernel_factory):
    c = kernel_factory(CONFIG).client()
    for since in ("yesterday", "2026-02-30T00:00:00Z", 1733572800000, True, {}):
        e = c.call_error("stats.history", {"since": since})
        assert e.code == -32602 and e.data["field"] == "since", (since, e)
    assert "RFC 3339" in c.call_error("stats.history", {"since": "yesterday"}).message
    e = c.call_error("stats.history", {"from": "2026-12-07T12:00:00Z"})
    assert e.code == -32602, e
    assert c.call("stats.history", {"since": None})["samples"]  # null is an absent since

"""docs/promises.md §8.5: cron schedules in an IANA time zone, across DST changes, with the no-double-slot
promise across restarts. The kernel's clock is moved to just before a transition with the test
aid JOBKERNEL_CLOCK_OFFSET_MS (the tz database is the system's, /usr/share/zoneinfo)."""

import datetime
import time

import jk
from jk import list_all


def at(iso):
    return int(datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def offset_to(iso, lead_s):
    """The clock offset that makes the kernel's now `lead_s` seconds before `iso`."""
    return str(int((at(iso) - lead_s) * 1000 - time.time() * 1000))


def config(cron, tz="Europe/Berlin"):
    return jk.BASE_CONFIG + f"""
[[schedules]]
name = "nightly"
type = "remote"
cron = "{cron}"
timezone = "{tz}"
"""


def schedule_jobs(c):
    return sorted(list_all(c, {"created_by": "schedule"}), key=lambda j: int(j["id"]))


def test_a_skipped_local_hour_fires_once_at_the_next_valid_time(kernel_factory, monkeypatch):
    # 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST at 01:00 UTC; 02:30 does not exist.
    monkeypatch.setenv("JOBKERNEL_CLOCK_OFFSET_MS", offset_to("2026-03-29T01:00:00Z", 2))
    k = kernel_factory(config("30 2 * * *"))
    c = k.client()
    # At start the latest fire time (the day before, 02:30 CET) is enqueued at once.
    jk.wait_for(lambda: len(schedule_jobs(c)) == 1, what="the start-up slot")
    jk.wait_for(lambda: len(schedule_jobs(c)) == 2, timeout=6, what="the slot at the transition")
    time.sleep(1.5)
    jobs = schedule_jobs(c)
    assert [j["idempotency_key"] for j in jobs] == [
        f"schedule:nightly:{at('2026-03-28T01:30:00Z')}",
        f"schedule:nightly:{at('2026-03-29T01:00:00Z')}",
    ]
    [s] = c.call("schedules")
    assert s["cron"] == "30 2 * * *" and s["timezone"] == "Europe/Berlin" and s["every"] is None
    assert s["next_run_at"] == "2026-03-30T00:30:00.000Z" and s["last_job_id"] == jobs[-1]["id"]
    # No double slot across restarts, kill -9 included.
    k.restart(kill9=True)
    c = k.client()
    time.sleep(0.5)
    assert len(schedule_jobs(c)) == 2


def test_a_repeated_local_hour_fires_once(kernel_factory, monkeypatch):
    # 2026-10-25 in Berlin: 03:00 CEST falls back to 02:00 CET at 01:00 UTC; 02:30 happens twice.
    monkeypatch.setenv("JOBKERNEL_CLOCK_OFFSET_MS", offset_to("2026-10-25T00:30:00Z", 2))
    k = kernel_factory(config("30 2 * * *"))
    c = k.client()
    jk.wait_for(lambda: len(schedule_jobs(c)) == 2, timeout=6, what="the first 02:30")
    assert schedule_jobs(c)[-1]["idempotency_key"] == f"schedule:nightly:{at('2026-10-25T00:30:00Z')}"
    [s] = c.call("schedules")
    # The second 02:30 (01:30 UTC) is not a slot: the next is the following day's.
    assert s["next_run_at"] == "2026-10-26T01:30:00.000Z"
    k.restart()
    c = k.client()
    time.sleep(0.5)
    assert len(schedule_jobs(c)) == 2


def test_an_unknown_time_zone_stops_the_kernel_with_exit_2(kernel_factory):
    k = kernel_factory(config("0 3 * * *", tz="Mars/Olympus_Mons"), start=False)
    r = jk.run_serve(k, "--socket", k.sock, "--db", k.db, "--config", k.config_path)
    assert r.returncode == 2
    assert "schedules[0].timezone" in r.stderr and "Mars/Olympus_Mons" in r.stderr


def test_a_bad_cron_expression_stops_the_kernel_with_exit_2(kernel_factory):
    k = kernel_factory(config("61 3 * * *"), start=False)
    r = jk.run_serve(k, "--socket", k.sock, "--db", k.db, "--config", k.config_path)
    assert r.returncode == 2 and "schedules[0].cron" in r.stderr

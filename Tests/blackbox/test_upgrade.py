"""A database written by an earlier release is upgraded in place when the kernel starts, and
every job, item, log line, event and setting survives (docs/durability.md, "Upgrades"). The
fixtures, made by Tests/fixtures/make_fixture.py: schema-v1 (the first release) and schema-v3 (the
release before schema 4 moved the unit of a job without items into its job's row).

The fixtures' times are those of the day they were made, and what a kernel keeps depends on their
age: events older than `limits.event_retention` (24h) are pruned, finished jobs older than
`[storage] keep_finished` (7d) removed, and the fixtures' scheduled job falls due a year after it
was made. So each test sets the kernel's clock, with the test aid JOBKERNEL_CLOCK_OFFSET_MS, to a
time relative to when its fixture was made: the tests read the same on any day they run."""

import datetime
import json
import os
import shutil
import sqlite3
import time

import pytest

import jk

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
FIXTURE = os.path.join(FIXTURES, "schema-v1")

# Fields of a job that time alone may change after the start (backoffs ending, activity).
VOLATILE = {"status", "run_at", "updated_at", "last_activity_at", "children"}

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def load_manifest(fixture=FIXTURE):
    with open(os.path.join(fixture, "manifest.json")) as f:
        return json.load(f)


def ms(iso):
    return int(datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def made_at(m):
    """When the fixture was made: the time of its latest event, in ms since the epoch."""
    return max(ms(e["ts"]) for e in m["events"])


def without_new_label(events):
    """The events with the `label: null` that schema 5 added taken out of their job objects: a
    compact stored event is rendered from the job as it is kept now, so its job object has the
    label (docs/promises.md §13); an event stored whole is as it was."""
    for e in events:
        job = e["data"].get("job") if isinstance(e["data"], dict) else None
        if job is not None and "label" in job and job["label"] is None:
            del job["label"]
    return events


def start_upgraded(kernel_factory, monkeypatch, fixture, now_ms, edit=None):
    """A kernel on a copy of the fixture's database (first changed by `edit(db)` if given), whose
    clock reads `now_ms` as it starts."""
    k = kernel_factory(jk.BASE_CONFIG, start=False)
    shutil.copy(os.path.join(fixture, "jobs.db"), k.db)
    os.chmod(k.db, 0o600)
    if edit:
        db = sqlite3.connect(k.db)
        with db:
            edit(db)
        db.close()
    monkeypatch.setenv("JOBKERNEL_CLOCK_OFFSET_MS", str(now_ms - int(time.time() * 1000)))
    k.start()
    return k


@pytest.mark.parametrize("name", ["schema-v1", "schema-v3"])
def test_database_of_an_earlier_schema_upgrades_and_keeps_everything(kernel_factory, monkeypatch, name):
    fixture = os.path.join(FIXTURES, name)
    m = load_manifest(fixture)
    # An hour after the fixture was made: every event within the retention, every finished job
    # within keep_finished, the scheduled job still a year away.
    k = start_upgraded(kernel_factory, monkeypatch, fixture, made_at(m) + HOUR_MS)
    c = k.client()
    assert c.call("get", {"id": m["ids"]["scheduled"]})["status"] == "scheduled"

    for name, old in m["jobs"].items():
        new = c.call("get", {"id": old["id"]})
        for field, value in old.items():
            if field in VOLATILE:
                continue
            if field == "items" and value is not None:
                # unit counts move only with status: compare totals and finished units
                assert new["items"]["total"] == value["total"]
                assert new["items"]["success"] == value["success"] and new["items"]["failed"] == value["failed"], name
                continue
            assert new[field] == value, (name, field, value, new[field])
        if old["status"] in ("success", "failed", "cancelled", "partial_success", "skipped"):
            assert new["status"] == old["status"], name
        # Schema 5 gave jobs a label (docs/promises.md §13): jobs from before have none.
        assert new["label"] is None, name

    # Every unit of every job, as `items` showed it (the manifests from schema 3 on keep them).
    for jid, items in m.get("items", {}).items():
        assert c.call("items", {"id": jid})["items"] == items, jid

    for jid, lines in m["logs"].items():
        assert c.call("logs", {"id": jid, "limit": 1000})["lines"] == lines

    settings = c.call("settings.get", {})
    for key, value in m["settings"].items():
        assert settings[key] == value, key

    # The event log replays as it was, and new events continue its seq with no gap.
    last = m["events"][-1]["seq"]
    sub = k.client()
    sub.call("subscribe", {"since": 0})
    replayed = sub.events_until(lambda e: e["seq"] == last, timeout=10)
    for e in replayed:
        e.pop("subscription")
    assert without_new_label(replayed) == m["events"]
    job = c.call("enqueue", {"type": "remote", "payload": {"after": "upgrade"}})["job"]
    after = sub.events_until(lambda e: e["job_id"] == job["id"] and e["kind"] == "job.created", timeout=10)
    assert [e["seq"] for e in after] == list(range(last + 1, last + 1 + len(after)))

    # Idempotency keys still hold (the key was given by the client named "fixture").
    c.call("initialize", {"client": {"name": "fixture"}})
    again = c.call("enqueue", {"type": "remote", "payload": {"n": 1}, "idempotency_key": "k-pending"})
    assert again["duplicate"] is True and again["job"]["id"] == m["ids"]["pending"]

    # The file is now at the current schema: the lean indexes of version 2.
    k.stop()
    db = sqlite3.connect(k.db)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 2
        indexes = {name: sql for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type='index'")}
        assert "WHERE idempotency_key IS NOT NULL" in (indexes.get("jobs_by_key") or "")
        assert "units_open" not in indexes and "jobs_open" not in indexes
        assert not any(n.startswith("sqlite_autoindex_jobs") for n in indexes)
        # Schema 4: a job without items is one row, its unit in it; a job with items keeps its rows.
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 4
        assert db.execute("SELECT count(*) FROM units JOIN jobs ON jobs.id = units.job_id WHERE itemized = 0").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM jobs WHERE itemized = 0 AND u_status IS NULL").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM units WHERE job_id = ?", (int(m["ids"]["items"]),)).fetchone()[0] == 3
    finally:
        db.close()


def test_schema_v1_database_gains_operations_and_incremental_vacuum(kernel_factory, monkeypatch):
    """Schema 3 (docs/durability.md, "Upgrades"; protocol/protocol.md, `items` and `remove`): an
    upgraded database switches to incremental vacuum (a one-time VACUUM, logged with its
    duration), keeps its jobs, answers `items` for units written before per-unit times existed,
    and can remove old jobs and free their keys."""
    m = load_manifest()
    # An hour after the fixture was made, so keep_finished has removed none of its finished jobs.
    k = start_upgraded(kernel_factory, monkeypatch, FIXTURE, made_at(m) + HOUR_MS)
    assert "converted" in k.stderr_text() and "incremental vacuum" in k.stderr_text()
    c = k.client()
    pending = m["ids"]["pending"]
    items = c.call("items", {"id": pending})["items"]
    assert items and all(i["started_at"] is None for i in items)
    finished = [j for j in m["jobs"].values() if j["status"] in ("success", "failed", "cancelled", "partial_success", "skipped")]
    assert finished
    assert c.call("remove", {"ids": [j["id"] for j in finished]}) == {"removed": len(finished)}
    k.stop()
    db = sqlite3.connect(k.db)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 3
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
        cols = {r[1] for r in db.execute("PRAGMA table_info(units)")}
        assert {"started_at", "finished_at"} <= cols
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"dependencies", "id_floor"} <= tables
    finally:
        db.close()
    # A second start converts nothing again.
    k.start()
    assert k.stderr_text().count("converted") == 1


@pytest.mark.parametrize("name", ["schema-v1", "schema-v3"])
@pytest.mark.parametrize("aged", ["first half", "all"])
def test_retention_prunes_the_old_events_of_an_upgraded_database(kernel_factory, monkeypatch, name, aged):
    """An upgraded database's event log is pruned by `limits.event_retention` like any other
    (protocol/protocol.md, "Events and resuming"): at start-up the events older than the retention
    go, the newer ones stay and replay as they were, and the seq goes on from the fixture's; a
    `since` before the oldest kept event is -32006 naming it in `oldest_seq`, and `oldest_seq - 1`
    is accepted."""
    fixture = os.path.join(FIXTURES, name)
    m = load_manifest(fixture)
    events = m["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    last = events[-1]["seq"]
    if aged == "all":
        # A day and an hour after the fixture was made: every event of it is past the 24h, its
        # latest too. What stays begins with the first event the upgraded kernel wrote: the
        # fixture has jobs in backoff, which end while it is down and become pending at start-up.
        now, edit, kept_from = made_at(m) + DAY_MS + HOUR_MS, None, last + 1
    else:
        # An hour after it was made, with the first half of its events moved two days back.
        kept_from = events[len(events) // 2]["seq"]

        def edit(db):
            db.execute("UPDATE events SET ts = ts - ? WHERE seq < ?", (2 * DAY_MS, kept_from))
        now = made_at(m) + HOUR_MS
    k = start_upgraded(kernel_factory, monkeypatch, fixture, now, edit)
    c = k.client()
    job = c.call("enqueue", {"type": "remote", "payload": {"after": "pruning"}})["job"]

    for since in (0, kept_from - 2):
        e = c.call_error("subscribe", {"since": since})
        assert (e.code, e.reason) == (-32006, "cursor_expired"), since
        assert e.data["oldest_seq"] == kept_from, (since, e.data)
    sub = k.client()
    sub.call("subscribe", {"since": kept_from - 1})
    replayed = sub.events_until(lambda e: e["job_id"] == job["id"] and e["kind"] == "job.created", timeout=10)
    for e in replayed:
        e.pop("subscription")
    assert [e["seq"] for e in replayed] == list(range(kept_from, replayed[-1]["seq"] + 1))
    assert without_new_label([e for e in replayed if e["seq"] <= last]) == [e for e in events if e["seq"] >= kept_from]
    assert all(ms(e["ts"]) >= now for e in replayed if e["seq"] > last), "written by the upgraded kernel"

    # In the file: exactly the events replayed, nothing older.
    k.stop()
    db = sqlite3.connect(k.db)
    try:
        seqs = [r[0] for r in db.execute("SELECT seq FROM events ORDER BY seq")]
    finally:
        db.close()
    assert seqs == [e["seq"] for e in replayed]

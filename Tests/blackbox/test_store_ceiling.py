"""bench/store_ceiling.c stands for the kernel's store only while it writes what the kernel writes
(bench/README.md, "The store's own limit"). These tests run a job through the real kernel the way
`loadgen cycle` does (enqueue, fetch, ack with no result), or the way `loadgen latency` does (the
fetch waiting when the job comes, so the job is leased in the batch that inserts it), then the
replay in the matching mode on the same database, and compare the replay's rows and events with
the kernel's, column by column: a change to the schema, the row or the compact events that the
replay does not follow fails here."""

import json
import os
import sqlite3
import subprocess
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = '[storage]\ndurability = "normal"\n\n[types.bench]\nmode = "async_api"\n'
PAYLOAD = {"n": 0, "p": "x" * 26}  # loadgen's 40-byte body
# What differs from job to job, or from moment to moment: compared as null or not null.
VARYING = {"id", "payload", "created_at", "started_at", "finished_at", "last_activity_at", "updated_at",
           "u_started_at", "u_finished_at"}


@pytest.fixture(scope="module")
def exe(tmp_path_factory):
    """bench/store_ceiling.c compiled once for the module, as bench/run compiles it."""
    exe = str(tmp_path_factory.mktemp("store_ceiling") / "store_ceiling")
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-I", os.path.join(REPO, "Sources/CSQLiteSupport/include"),
                    "-o", exe, os.path.join(REPO, "bench/store_ceiling.c"),
                    os.path.join(REPO, "Sources/CSQLiteSupport/wal_vfs.c"), "-lsqlite3", "-lpthread"],
                   check=True, capture_output=True, text=True, timeout=120)
    return exe


def one_job_through_the_kernel(kernel_factory):
    """A stopped kernel's database holding one job enqueued, leased and acknowledged; its path."""
    k = kernel_factory(CONFIG)
    c = k.client()
    job = c.call("enqueue", {"type": "bench", "payload": PAYLOAD})["job"]
    leases = c.call("fetch", {"types": ["bench"], "max": 1, "wait_s": 5})["leases"]
    assert [lease["job"]["id"] for lease in leases] == [job["id"]]
    c.call("ack", {"lease": leases[0]["lease"]})
    c.close()
    k.stop()
    return k.db, int(job["id"])


def rows(db, sql, *args):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, args)]
    finally:
        con.close()


def shape(value):
    """A JSON value with every timestamp-like number replaced by its being there."""
    if isinstance(value, dict):
        return {k: (v is not None) if k.endswith("_at") else shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return value


def one_job_leased_as_it_comes(kernel_factory):
    """As `one_job_through_the_kernel`, but the worker's fetch is already waiting when the job is
    enqueued, as in `loadgen latency`: the lease is taken in the enqueue's turn."""
    k = kernel_factory(CONFIG)
    worker, producer = k.client(), k.client()
    fetched = {}
    waiting = threading.Thread(target=lambda: fetched.update(
        worker.call("fetch", {"types": ["bench"], "max": 1, "wait_s": 10})))
    waiting.start()
    time.sleep(0.5)  # the fetch parks
    job = producer.call("enqueue", {"type": "bench", "payload": PAYLOAD})["job"]
    waiting.join(15)
    assert [lease["job"]["id"] for lease in fetched["leases"]] == [job["id"]]
    worker.call("ack", {"lease": fetched["leases"][0]["lease"]})
    worker.close()
    producer.close()
    k.stop()
    return k.db, int(job["id"])


def assert_replayed_like_the_kernel(db, kernel_id):
    """The replay's first three finished jobs after the kernel's match its row and its events."""
    kernel_row, = rows(db, "SELECT * FROM jobs WHERE id = ?", kernel_id)
    replayed = rows(db, "SELECT * FROM jobs WHERE id > ? AND status = 'success' ORDER BY id LIMIT 3", kernel_id)
    assert len(replayed) == 3, "the replay acknowledged no job"
    for row in replayed:
        for column, value in kernel_row.items():
            if column in VARYING:
                assert (row[column] is None) == (value is None), column
            else:
                assert row[column] == value, column
        assert len(row["payload"]) == len(kernel_row["payload"]) == 40

    def events(job_id):
        return [(e["kind"], e["type"], shape(json.loads(e["data"])))
                for e in rows(db, "SELECT kind, type, data FROM events WHERE job_id = ? ORDER BY seq", job_id)]

    expected = events(kernel_id)
    assert [kind for kind, _, _ in expected] == ["job.created", "job.status", "job.status"]
    for row in replayed:
        assert events(row["id"]) == expected


@pytest.mark.parametrize("mode", ["cycle", "latency"])
def test_the_replay_writes_the_rows_and_events_the_kernel_writes(kernel_factory, exe, mode):
    if mode == "cycle":
        db, kernel_id = one_job_through_the_kernel(kernel_factory)
        argv = ["cycle", db, "-d", "0.3", "-D", "0", "-b", "4"]
    else:
        db, kernel_id = one_job_leased_as_it_comes(kernel_factory)
        argv = ["latency", db, "-n", "5"]
    out = subprocess.run([exe, *argv], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"RESULT mode={mode}" in out.stdout
    assert_replayed_like_the_kernel(db, kernel_id)


def test_the_replay_measures_each_mode_and_refuses_bad_options(kernel_factory, exe, tmp_path):
    db, kernel_id = one_job_through_the_kernel(kernel_factory)
    for argv in (["enqueue", db, "-d", "0.2", "-D", "0"], ["latency", db, "-n", "20"]):
        out = subprocess.run([exe, *argv], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        fields = dict(f.split("=", 1) for f in out.stdout.split()[1:])
        assert fields["mode"] == argv[0] and float(fields["rate"]) > 0
    assert rows(db, "SELECT count(*) AS n FROM jobs WHERE id > ? AND status = 'success'", kernel_id)[0]["n"] == 20
    for argv in (["sideways", db], ["cycle", db, "-b", "0"], ["cycle", db, "-x", "1"], ["cycle"]):
        out = subprocess.run([exe, *argv], capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, argv
        assert "store_ceiling" in out.stderr or "usage" in out.stderr
    out = subprocess.run([exe, "cycle", str(tmp_path / "missing" / "j.db")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "store_ceiling:" in out.stderr

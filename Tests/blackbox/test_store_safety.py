"""docs/promises.md §1 (a kernel owns its database alone) and §10 (file modes, store faults, databases that
cannot be opened), against the real binary.

The store-fault tests mount a small tmpfs (the suite runs as root in CI); where mounting is
refused they are skipped with the reason.
"""

import contextlib
import os
import sqlite3
import stat
import subprocess
import tempfile
import time

import pytest

import jk
from jk import run_serve

SLOW_CONFIG = jk.BASE_CONFIG + """
[types.slow]
mode = "internal"
command = ["sh", "-c", "sleep 1.5; echo '{\\"result\\": \\"done\\"}'"]
max_attempts = 1
"""




def wait_status(client, job_id, statuses, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.call("get", {"id": job_id})
        if job["status"] in statuses:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {statuses}: {job}")


# ---- Ownership (§1) ----

def test_second_kernel_on_same_database_other_socket_exits_1_and_touches_nothing(kernel_factory):
    first = kernel_factory(SLOW_CONFIG)
    c = first.client()
    job = c.call("enqueue", {"type": "slow"})["job"]
    wait_status(c, job["id"], {"running"})
    seq_before = c.call("stats", {})["seq"]

    other_sock = os.path.join(first.home, "other.sock")
    p = run_serve(first, "--socket", other_sock, "--db", first.db)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert str(first.pid) in p.stderr and first.sock in p.stderr, p.stderr  # names the owner
    assert not os.path.exists(other_sock)

    # The live kernel's job was not marked lost by a second recovery: it runs to success.
    done = wait_status(c, job["id"], {"success", "failed", "pending", "scheduled"})
    assert done["status"] == "success" and done["result"] == "done", done
    assert done["attempt"] == 1
    events = c.call("stats", {})["seq"] - seq_before
    assert events >= 1  # only the first kernel's own events (job.status → success)


def test_stdio_kernel_on_owned_database_refuses_with_no_attach(kernel):
    # without --no-attach it attaches instead (test_attach.py)
    p = subprocess.run([kernel.binary, "serve", "--stdio", "--no-attach", "--db", kernel.db], cwd=kernel.home,
                       env=kernel.env(), capture_output=True, text=True, timeout=10, input="")
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert f"pid {kernel.pid}" in p.stderr, p.stderr


def test_default_database_is_owned_too(kernel_factory, tmp_home):
    # Two kernels on the default database ($JOBKERNEL_HOME/jobs.db), different sockets.
    k = kernel_factory(jk.BASE_CONFIG, home=tmp_home, start=False)
    with open(k.stderr_path, "ab") as err:
        k.proc = subprocess.Popen([k.binary, "serve", "--socket", k.sock], cwd=k.home, env=k.env(),
                                  stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    k.wait_ready()
    p = run_serve(k, "--socket", os.path.join(tmp_home, "b.sock"))
    assert p.returncode == 1 and "owned by a running kernel" in p.stderr, p.stderr


def test_lock_is_released_by_kill_9(kernel_factory):
    k = kernel_factory(jk.BASE_CONFIG)
    job = k.client().call("enqueue", {"type": "remote"})["job"]
    k.kill9()
    k.start()  # same database: the dead owner's lock is gone
    assert k.client().call("get", {"id": job["id"]})["status"] == "pending"


# ---- File modes (§10) ----

def test_database_files_created_0600(kernel_factory, tmp_home):
    outside = tempfile.mkdtemp(prefix="jkdb-", dir="/tmp")
    try:
        os.chmod(outside, 0o755)
        db = os.path.join(outside, "x.db")
        old = os.umask(0o022)
        try:
            k = kernel_factory(jk.BASE_CONFIG, db=db)
        finally:
            os.umask(old)
        k.client().call("enqueue", {"type": "remote"})
        # The kernel holds the database exclusively: its WAL index is in memory, not in a -shm
        # file, and no other program can read the file while it runs.
        assert not os.path.exists(db + "-shm")
        other = sqlite3.connect(db, timeout=0.2)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("SELECT count(*) FROM jobs").fetchone()
        finally:
            other.close()
        for suffix in ("", "-wal", ".lock"):
            path = db + suffix
            assert os.path.exists(path), path
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, (path, oct(os.stat(path).st_mode))
        k.stop()
    finally:
        subprocess.run(["rm", "-rf", outside])


# ---- Databases that cannot be opened (§10) ----

@pytest.mark.parametrize("content", [b"this is not a database\n" * 200, b"SQLite format 3\x00" + b"\xff" * 4000])
def test_foreign_or_corrupt_file_exits_1_naming_path_and_cause(kernel_factory, content):
    k = kernel_factory(None, start=False)
    with open(k.db, "wb") as f:
        f.write(content)
    p = run_serve(k, "--socket", k.sock, "--db", k.db)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert k.db in p.stderr
    assert "not a database" in p.stderr or "corrupt" in p.stderr, p.stderr
    assert "--db" in p.stderr or "backup" in p.stderr, p.stderr  # says what to do
    assert not os.path.exists(k.sock)


# ---- Store faults on a small tmpfs (§10) ----

@contextlib.contextmanager
def small_tmpfs(size="6m"):
    d = tempfile.mkdtemp(prefix="jkfs-", dir="/tmp")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", d],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(d)
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", d])
        os.rmdir(d)


def fill(directory):
    """Fills the file system with a filler file; returns its path."""
    path = os.path.join(directory, "filler")
    # Unbuffered, and in smaller and smaller writes: the last bytes of free space are taken too,
    # and no buffered remainder is left to fail again at close (free space is not always a
    # multiple of the chunk: it depends on the database's page layout).
    with open(path, "wb", buffering=0) as f:
        for size in (65536, 4096, 512, 1):
            try:
                while f.write(b"\0" * size):
                    pass
            except OSError:
                pass
    return path


BIG = "x" * 900_000


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_full_disk_answers_32007_keeps_reads_and_recovers(kernel_factory):
    with small_tmpfs() as fs:
        k = kernel_factory(jk.BASE_CONFIG, db=os.path.join(fs, "jobs.db"))
        c = k.client()
        watcher = k.client()
        sub = watcher.call("subscribe", {"kinds": ["job.created"]})
        kept = [c.call("enqueue", {"type": "remote", "payload": {"n": i}})["job"]["id"] for i in range(3)]
        filler = fill(fs)

        # Writes fail with -32007 naming the cause; the kernel stays up.
        errors = []
        for i in range(6):
            try:
                c.call("enqueue", {"type": "remote", "payload": {"big": BIG, "i": i}})
            except jk.RPCError as e:
                errors.append(e)
        assert errors, "expected at least one enqueue to fail on a full disk"
        for e in errors:
            assert e.code == -32007 and e.reason == "unavailable", (e.code, e.message)
            assert "disk is full" in e.message, e.message
        assert k.running()

        # Reads keep working, and no failed change is visible or was announced.
        assert [c.call("get", {"id": i})["status"] for i in kept] == ["pending"] * 3
        listed = c.call("list", {"limit": 1000})["jobs"]
        stored_bigs = [j for j in listed if isinstance(j["payload"], dict) and "big" in j["payload"]]
        assert len(listed) == 3 + len(stored_bigs) and len(stored_bigs) == 6 - len(errors), (len(listed), len(errors))

        # Space returns: writes work again, without a restart, and seqs stay gap-free.
        os.unlink(filler)
        fresh = c.call("enqueue", {"type": "remote", "payload": {"after": True}})["job"]
        assert c.call("get", {"id": fresh["id"]})["status"] == "pending"
        # The operator sees the fault once (not once per failed turn), and its end.
        log = k.stderr_text()
        assert log.count("could not commit") == 1 and "commits again" in log, log[-2000:]
        seen = watcher.events_until(lambda e: e["job_id"] == fresh["id"], timeout=5)
        stored_ids = {j["id"] for j in listed} | {fresh["id"]}
        for e in seen:  # no event ever left for a change that was undone
            assert e["job_id"] in stored_ids, e
        assert len(seen) == 3 + len(stored_bigs) + 1
        seqs = [e["seq"] for e in seen]
        replay = k.client()
        replay.call("subscribe", {"since": sub["seq"]})
        replayed = [e["seq"] for e in replay.events_until(lambda e: e["job_id"] == fresh["id"], timeout=5)]
        assert replayed == list(range(replayed[0], replayed[-1] + 1)), replayed  # gap-free
        assert seqs[-1] == replayed[-1]

        # Nothing acknowledged is lost across kill -9.
        k.kill9()
        k.start()
        c2 = k.client()
        for i in kept + [fresh["id"]]:
            assert c2.call("get", {"id": i})["status"] == "pending"
        k.stop()


def test_full_disk_undoes_whole_batches_of_the_writer_thread(kernel_factory):
    # Pipelined requests make batches too large to commit on the loop thread: they go to the
    # store's writer thread while the loop decides the next turns. When such a batch fails, it
    # and every turn decided after it are undone; nothing answered success is ever lost and no
    # event of an undone change leaves.
    with small_tmpfs() as fs:
        k = kernel_factory(jk.BASE_CONFIG, db=os.path.join(fs, "jobs.db"))
        c = k.client()
        watcher = k.client()
        start = watcher.call("subscribe", {"kinds": ["job.created"]})["seq"]
        kept = [j["job"]["id"] for j in c.call_many([("enqueue", {"type": "remote", "payload": {"n": i}}) for i in range(40)])]
        filler = fill(fs)
        clients = [k.client() for _ in range(3)]
        body = "y" * 20_000
        results = []
        for cl in clients:
            results += cl.call_many([("enqueue", {"type": "remote", "payload": {"b": body, "i": i}}) for i in range(60)], window=60)
        failed = [r for r in results if isinstance(r, jk.RPCError)]
        ok = [r["job"]["id"] for r in results if not isinstance(r, jk.RPCError)]
        assert failed, "expected the full disk to fail some batches"
        for e in failed:
            assert e.code == -32007 and "disk is full" in e.message, (e.code, e.message)
        assert k.running()
        listed = {j["id"] for j in c.call("list", {"limit": 1000})["jobs"]}
        assert listed == set(kept) | set(ok), (len(listed), len(kept), len(ok))

        os.unlink(filler)
        after = c.call("enqueue", {"type": "remote", "payload": {"after": True}})["job"]["id"]
        seen = watcher.events_until(lambda e: e["job_id"] == after, timeout=10)
        assert {e["job_id"] for e in seen} == listed | {after}  # no event of an undone change
        replay = k.client()
        replay.call("subscribe", {"kinds": ["job.created"], "since": start})
        replayed = replay.events_until(lambda e: e["job_id"] == after, timeout=10)
        assert [e["seq"] for e in replayed] == [e["seq"] for e in seen]
        seqs = [e["seq"] for e in replayed]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # gap-free: job.created only here

        k.kill9()
        k.start()
        c2 = k.client()
        survivors = {j["id"] for j in c2.call("list", {"limit": 1000})["jobs"]}
        assert survivors == listed | {after}
        k.stop()


def test_full_disk_does_not_start_units_of_undone_changes(kernel_factory, tmp_home):
    marker = os.path.join(tmp_home, "ran")
    config = jk.BASE_CONFIG + f"""
[types.touch]
mode = "internal"
command = ["sh", "-c", "echo x >> {marker}"]
max_attempts = 1
"""
    with small_tmpfs() as fs:
        k = kernel_factory(config, db=os.path.join(fs, "jobs.db"))
        c = k.client()
        filler = fill(fs)
        failed = 0
        for i in range(5):
            try:
                c.call("enqueue", {"type": "touch", "payload": {"big": BIG, "i": i}})
            except jk.RPCError as e:
                assert e.code == -32007, e.message
                failed += 1
        assert failed >= 1
        time.sleep(0.5)
        ran = open(marker).read().count("x") if os.path.exists(marker) else 0
        stored = [j for j in c.call("list", {"type": "touch", "limit": 100})["jobs"]]
        assert ran <= len(stored), (ran, len(stored))  # no handler for a job that was undone
        os.unlink(filler)
        job = c.call("enqueue", {"type": "touch"})["job"]
        wait_status(c, job["id"], {"success"})
        k.stop()


# Type `w`: persistent workers (Tests/blackbox/workers/echo_worker.py), one process in the pool.
ONE_WORKER = jk.BASE_CONFIG + f"""
[pools]
internal = 1

[types.w]
mode = "internal"
worker = ["python3", "{os.path.join(os.path.dirname(os.path.abspath(__file__)), "workers", "echo_worker.py")}"]
max_attempts = 20
"""


def test_full_disk_drops_the_answer_to_a_run_sent_ahead_of_its_commit(kernel_factory, tmp_home):
    """A unit that was ready as of the last commit gets its `run` before its start commits, so
    the worker works while the commit runs. When that commit fails, the start is undone and the
    worker's answer dropped; the worker gets no other `run` before it answers, and the unit runs
    again once writes work. Nothing is lost."""
    marks = os.path.join(tmp_home, "runs")
    # 16 MiB, not 6: the first job's 900 kB result is written four times (its row, its unit's
    # row, its job.status event, the WAL frames of each), and on 6 MiB the WAL alone filled the
    # file system again after the filler was gone, so whether the units ever ran depended on
    # when the background checkpoint came (on a loaded machine it sometimes never did).
    with small_tmpfs("16m") as fs:
        k = kernel_factory(ONE_WORKER, db=os.path.join(fs, "jobs.db"))
        c = k.client()
        # The first job answers with a 900 kB result: on a full disk that commit fails, and with
        # it the start of the next unit, whose `run` has already left.
        first = c.call("enqueue", {"type": "w", "payload": {"sleep": 1.0, "silent": True, "result": BIG,
                                                           "mark": marks}})["job"]["id"]
        rest = [c.call("enqueue", {"type": "w", "payload": {"mark": marks, "result": i}})["job"]["id"]
                for i in range(3)]
        wait_status(c, first, {"running"})
        filler = fill(fs)
        jk.wait_for(lambda: "could not commit" in k.stderr_text(), timeout=15, what="a failed commit")
        time.sleep(1.5)
        os.unlink(filler)
        for job_id in [first] + rest:
            assert wait_status(c, job_id, {"success", "failed"}, timeout=60)["status"] == "success"
        k.stop()
    runs = open(marks).read().split()
    assert set(runs) == {first, *rest}
    assert runs.count(first) >= 2, runs  # its outcome was undone: it ran again
    assert runs.count(rest[0]) >= 2, runs  # its `run` left ahead of the failed commit: dropped, run again


def test_a_worker_deaf_to_the_cancel_of_a_dropped_run_is_killed_after_cancel_grace(kernel_factory, tmp_home):
    """As above, but the worker holding the `run` that left ahead of the failed commit ignores
    the `cancel` and works on: `cancel_grace` (1 s) later it is killed and restarted, and the
    unit runs again. It would otherwise hold the pool's only process for a minute."""
    marks = os.path.join(tmp_home, "runs")
    # Each failed attempt of the 900 kB result leaves WAL frames behind: room for a few.
    with small_tmpfs("24m") as fs:
        k = kernel_factory(ONE_WORKER, db=os.path.join(fs, "jobs.db"))
        c = k.client()
        first = c.call("enqueue", {"type": "w", "payload": {"sleep": 1.0, "silent": True, "result": BIG,
                                                           "mark": marks}})["job"]["id"]
        deaf = c.call("enqueue", {"type": "w", "payload": {"mark": marks, "deaf_first": 60}})["job"]["id"]
        wait_status(c, first, {"running"})
        filler = fill(fs)
        jk.wait_for(lambda: "could not commit" in k.stderr_text(), timeout=15, what="a failed commit")
        time.sleep(1.5)
        os.unlink(filler)
        started = time.monotonic()
        for job_id in (first, deaf):
            assert wait_status(c, job_id, {"success", "failed"}, timeout=30)["status"] == "success"
        assert time.monotonic() - started < 30  # not the deaf minute
        k.stop()
    runs = open(marks).read().split()
    assert runs.count(deaf) >= 2, runs  # its first run was dropped, and its worker killed
    assert runs.count(first) >= 2, runs


def test_read_only_database_exits_1_naming_cause(kernel_factory):
    with small_tmpfs() as fs:
        k = kernel_factory(jk.BASE_CONFIG, db=os.path.join(fs, "jobs.db"))
        k.client().call("enqueue", {"type": "remote"})
        k.stop()
        r = subprocess.run(["mount", "-o", "remount,ro", fs], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        p = run_serve(k, "--socket", k.sock, "--db", k.db)
        assert p.returncode == 1, (p.returncode, p.stderr)
        assert k.db in p.stderr and ("read-only" in p.stderr or "Read-only" in p.stderr), p.stderr


def test_starts_on_a_full_disk_serving_reads_then_writes_when_space_returns(kernel_factory):
    with small_tmpfs() as fs:
        k = kernel_factory(SLOW_CONFIG, db=os.path.join(fs, "jobs.db"))
        c = k.client()
        queued = c.call("enqueue", {"type": "remote"})["job"]
        running = c.call("enqueue", {"type": "slow"})["job"]
        wait_status(c, running["id"], {"running"})
        k.kill9()
        filler = fill(fs)
        k.start()
        c = k.client()
        assert c.call("get", {"id": queued["id"]})["status"] == "pending"
        # The write may fit in space SQLite already holds; big ones cannot.
        with pytest.raises(jk.RPCError) as e:
            for i in range(6):
                c.call("enqueue", {"type": "remote", "payload": {"big": BIG, "i": i}})
        assert e.value.code == -32007 and "disk is full" in e.value.message
        # A disk that stays full costs no busy loop (the lost unit's requeue keeps failing meanwhile).
        before = cpu_seconds(k.pid)
        time.sleep(2.5)
        assert cpu_seconds(k.pid) - before < 0.5
        os.unlink(filler)
        assert c.call("enqueue", {"type": "remote"})["job"]["status"] == "pending"
        # The unit that ran when the kernel died is requeued (and, max_attempts 1, fails) once space returns.
        job = wait_status(c, running["id"], {"failed", "success"})
        assert job["status"] == "failed" and job["attempt"] == 1, job
        k.stop()

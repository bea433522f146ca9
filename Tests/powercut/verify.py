"""Starts the kernel on a cut image and checks what survived.

For one image: the kernel must start on it (serve on a socket of its own, answer `stats`) and shut
down cleanly; the database must then pass `PRAGMA integrity_check`; and the acknowledged changes
are looked for:

- an `enqueue`: the job's row exists;
- an `ack`: the job succeeded;
- a `cancel`: the job is cancelled;
- a `settings.set`: the setting exists.

`judge` compares what is there with what the kernel acknowledged before the cut.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess

from recorder import Connection, config_toml, wait_for_socket


class Outcome:
    """What one cut image gave."""

    def __init__(self):
        self.started = False     # the kernel started, answered and stopped with exit 0
        self.integrity = None    # integrity_check's answer
        self.events_gap_free = None
        self.problem = None      # why the kernel did not start or stop, with its stderr
        self.present = None      # [bool] per change


def present_changes(db_path: str, changes) -> list[bool]:
    con = sqlite3.connect(db_path)
    try:
        status = dict(con.execute("SELECT id, status FROM jobs"))
        settings = {k for (k,) in con.execute("SELECT key FROM settings")}
    finally:
        con.close()
    out = []
    for kind, key, _, _ in changes:
        if kind == "enqueue":
            out.append(int(key) in status)
        elif kind == "ack":
            out.append(status.get(int(key)) == "success")
        elif kind == "cancel":
            out.append(status.get(int(key)) == "cancelled")
        elif kind == "setting":
            out.append(key in settings)
        else:
            raise ValueError(kind)
    return out


def run_kernel(binary: str, workdir: str, durability: str, timeout: float = 60.0):
    """Serves on the database in `workdir`, asks `stats`, stops with SIGTERM. None when all went
    well, else what went wrong."""
    db = os.path.join(workdir, "jobs.db")
    sock = os.path.join(workdir, "k.sock")
    cfg = os.path.join(workdir, "jobkernel.toml")
    with open(cfg, "w") as f:
        f.write(config_toml(durability))
    env = dict(os.environ, JOBKERNEL_HOME=workdir, HOME=workdir)
    for name in ("LD_PRELOAD", "PC_TRACE", "PC_DB", "JOBKERNEL_SOCKET"):
        env.pop(name, None)
    err_path = os.path.join(workdir, "kernel.stderr")
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([binary, "serve", "--db", db, "--socket", sock, "--config", cfg],
                                stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env, cwd=workdir)
    problem = None
    try:
        if not wait_for_socket(sock, proc, timeout):
            problem = f"the kernel did not start (exit {proc.poll()})"
        else:
            c = Connection(sock)
            msg, _, _ = c.call("stats", {})
            c.close()
            if "result" not in msg:
                problem = f"stats answered {msg}"
    except (OSError, ValueError) as e:
        problem = f"talking to the kernel: {e!r}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait(10)
            problem = problem or "the kernel did not stop within the timeout of SIGTERM"
        if problem is None and rc != 0:
            problem = f"the kernel exited {rc}"
    if problem:
        with open(err_path, "rb") as f:
            problem += "\n" + f.read().decode("utf-8", "replace")[-2000:]
    return problem


def check_image(binary: str, files: dict, workdir: str, durability: str, changes) -> Outcome:
    """Writes the cut image's files into `workdir` (emptied first) and checks it."""
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    for suffix, data in files.items():
        if data is not None and suffix != "-shm":
            with open(os.path.join(workdir, "jobs.db" + suffix), "wb") as f:
                f.write(data)
    out = Outcome()
    out.problem = run_kernel(binary, workdir, durability)
    out.started = out.problem is None
    db = os.path.join(workdir, "jobs.db")
    try:
        con = sqlite3.connect(db)
        try:
            out.integrity = "\n".join(r[0] for r in con.execute("PRAGMA integrity_check"))
            n, lo, hi = con.execute("SELECT count(*), min(seq), max(seq) FROM events").fetchone()
            out.events_gap_free = n == 0 or (lo == 1 and hi == n)
        finally:
            con.close()
        out.present = present_changes(db, changes)
    except sqlite3.DatabaseError as e:
        out.integrity = out.integrity or f"error: {e}"
    return out


def judge(changes, present, cut: int, horizon: int, durability: str, exited: int | None = None) -> dict:
    """Sorts the changes into what a cut at `cut` lost.

    `changes`: (kind, key, sent, answered); `present`: whether each is in the image; `horizon`:
    the start of the WAL's last sync completed before the cut; `exited`: when the kernel was seen
    gone after a graceful shutdown (a cut after it may lose nothing, whatever the durability).

    - lost: acknowledged before the cut and missing;
    - beyond_bound: lost although acknowledged before `horizon`, which no durability allows;
    - holes: missing although acknowledged before a change that is present was sent (so it was
      committed before it).
    """
    lost = [i for i, c in enumerate(changes) if c[3] < cut and not present[i]]
    beyond = [i for i in lost if changes[i][3] < horizon]
    latest_present_sent = max((c[2] for i, c in enumerate(changes) if present[i]), default=0)
    holes = [i for i, c in enumerate(changes) if c[3] < latest_present_sent and not present[i]]
    tail_ms = (cut - min(changes[i][3] for i in lost)) / 1e6 if lost else 0.0
    return {
        "acknowledged": sum(1 for c in changes if c[3] < cut),
        "lost": len(lost),
        "beyond_bound": len(beyond),
        "holes": len(holes),
        "tail_ms": tail_ms,
        "since_wal_sync_ms": (cut - horizon) / 1e6,
        "example": [changes[i] for i in (holes or beyond or lost)[:3]],
        "after_exit": exited is not None and cut > exited,
        # Under "full", or once the kernel has stopped, nothing acknowledged may be lost at all.
        "ok": not holes and not beyond and not (lost and (durability == "full" or (exited is not None and cut > exited))),
    }

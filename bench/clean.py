#!/usr/bin/env python3
"""Measures docs/promises.md §13 removal on a large database: the one-time conversion to incremental vacuum of
a database made before schema 3, then `clean` of N finished jobs — how long it takes, how much the
file shrinks, and what it costs a concurrent client in latency (a `get` every 20 ms meanwhile).

    python3 bench/clean.py [N=1000000] [BINARY=.build/release/jobkernel]

The jobs are written straight into the database (as a kernel would have stored them: a job row and
its unit each, with a 40-byte payload), so that making them does not take longer than measuring.
"""
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, ".build", "release", "jobkernel")


def rpc(sock, method, params=None, _id=[0]):
    _id[0] += 1
    sock.sendall(json.dumps({"jsonrpc": "2.0", "id": _id[0], "method": method, "params": params or {}}).encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise SystemExit("the kernel closed the connection")
        buf += chunk
    msg = json.loads(buf)
    if "error" in msg:
        raise SystemExit(f"{method}: {msg['error']}")
    return msg["result"]


def connect(path):
    for _ in range(600):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            return s
        except OSError:
            time.sleep(0.05)
    raise SystemExit("no kernel")


def start(home, db):
    err = open(os.path.join(home, "kernel.log"), "ab")
    proc = subprocess.Popen([BIN, "serve", "--socket", os.path.join(home, "k.sock"), "--db", db],
                            stdout=subprocess.DEVNULL, stderr=err, env=dict(os.environ, JOBKERNEL_HOME=home))
    return proc, connect(os.path.join(home, "k.sock"))


def main():
    home = tempfile.mkdtemp(prefix="jkclean-", dir="/tmp")
    db = os.path.join(home, "jobs.db")
    proc, s = start(home, db)          # creates the schema
    rpc(s, "shutdown")
    proc.wait(30)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = OFF")
    t0 = time.time()
    now = int(time.time() * 1000) - 3600_000
    payload = json.dumps({"path": "/srv/media/some-file-0001.jpg", "n": 1})[:40]
    with con:
        for start_id in range(1, N + 1, 50_000):
            ids = range(start_id, min(N + 1, start_id + 50_000))
            con.executemany(
                "INSERT INTO jobs (id, type, dispatch_mode, status, priority, lane, payload, created_by, manual, attempt,"
                " max_attempts, cancel_requested, itemized, n_pending, n_running, n_success, n_failed, n_cancelled,"
                " n_waiting, created_at, started_at, finished_at, updated_at,"
                " u_status, u_attempt, u_interrupted, u_started_at, u_finished_at) VALUES"
                " (?, 'remote', 'async_api', 'success', 50, 'normal', ?, 'bench', 0, 1, 3, 0, 0, 0, 0, 1, 0, 0, 0, ?, ?, ?, ?,"
                " 'success', 1, 0, ?, ?)",
                ((i, payload, now, now, now + 1, now + 1, now, now + 1) for i in ids))
    # As a database made before schema 3: no auto_vacuum.
    con.execute("PRAGMA auto_vacuum = NONE")
    con.execute("VACUUM")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    print(f"made {N} finished jobs in {time.time() - t0:.1f} s; file {os.path.getsize(db) / 1e6:.1f} MB")

    t0 = time.time()
    proc, s = start(home, db)
    ready = time.time() - t0
    log = open(os.path.join(home, "kernel.log")).read()
    conversion = [l for l in log.splitlines() if "incremental vacuum" in l]
    print(f"start-up with the one-time conversion: {ready:.1f} s; {conversion[-1] if conversion else 'no conversion logged'}")
    size_before = os.path.getsize(db)

    probe = connect(os.path.join(home, "k.sock"))
    lat = []
    done = threading.Event()

    def probing():
        while not done.is_set():
            t = time.perf_counter()
            rpc(probe, "list", {"limit": 1})
            lat.append((time.perf_counter() - t) * 1000)
            time.sleep(0.02)

    idle = []
    for _ in range(50):
        t = time.perf_counter()
        rpc(probe, "list", {"limit": 1})
        idle.append((time.perf_counter() - t) * 1000)
    th = threading.Thread(target=probing)
    th.start()
    t0 = time.time()
    removed = rpc(s, "clean", {})["removed"]
    took = time.time() - t0
    done.set()
    th.join()
    time.sleep(5)  # the vacuum batches that follow
    rpc(s, "shutdown")
    proc.wait(60)
    size_after = os.path.getsize(db)
    q = statistics.quantiles(lat, n=100)
    print(f"clean removed {removed} jobs in {took:.1f} s ({removed / took:.0f} jobs/s)")
    print(f"file {size_before / 1e6:.1f} MB -> {size_after / 1e6:.1f} MB after the vacuum batches")
    print(f"a concurrent client's `list` latency: idle p50 {statistics.median(idle):.2f} ms; during clean "
          f"p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms, max {max(lat):.2f} ms over {len(lat)} calls")


main()

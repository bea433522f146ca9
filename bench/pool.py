#!/usr/bin/env python3
"""docs/promises.md §12 through the local pools: the full cycle (enqueue -> persistent worker -> success)
in jobs/s, and dispatch latency (enqueue sent -> the worker reading `run`) with a warm pool.

usage: pool.py KERNEL_BINARY WORKER_BINARY [--jobs N] [--samples N]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time


def body(i):
    """A 40-byte payload, as in bench/loadgen.c: {"n":i,"p":"xx…"}."""
    head = '{"n":%d,"p":"' % i
    return json.loads(head + "x" * (38 - len(head)) + '"}')


def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s, s.makefile("rb")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kernel")
    ap.add_argument("worker")
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=8, help="persistent worker processes (pools.internal)")
    a = ap.parse_args()

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    home = tempfile.mkdtemp(prefix="jkpool-")
    cfg = os.path.join(home, "c.toml")
    with open(cfg, "w") as f:
        f.write(f'[pipeline]\nmax_parallel_jobs = {a.workers + 1}\npriority_lane_slots = 1\n\n[pools]\ninternal = {a.workers}\n\n'
                f'[types.noop]\nmode = "internal"\nworker = ["{a.worker}"]\n')
    sock = os.path.join(home, "k.sock")
    k = subprocess.Popen([a.kernel, "serve", "--socket", sock, "--db", os.path.join(home, "j.db"), "--config", cfg],
                         stderr=subprocess.DEVNULL)
    try:
        # The socket file appears when it is bound, a moment before it listens.
        for _ in range(500):
            try:
                s, r = connect(sock)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.01)
        else:
            raise SystemExit(f"the kernel did not listen on {sock}")

        def call(method, params, rid=1):
            s.sendall(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode() + b"\n")
            while True:
                m = json.loads(r.readline())
                if m.get("id") == rid:
                    return m["result"]

        # Warm the pool: one job per worker, then wait for them (the stats poll reads no events).
        for i in range(a.workers):
            call("enqueue", {"type": "noop", "payload": {}}, rid=100 + i)
        while call("stats", {}, rid=8)["jobs"]["success"] < a.workers:
            time.sleep(0.01)
        sub = call("subscribe", {"kinds": ["job.status"]})

        # Dispatch latency: one job at a time on the warm, idle pool.
        lat = []
        for i in range(a.samples):
            t0 = time.time_ns()
            s.sendall(json.dumps({"jsonrpc": "2.0", "id": 10_000 + i, "method": "enqueue",
                                  "params": {"type": "noop", "payload": body(i)}}).encode() + b"\n")
            while True:
                m = json.loads(r.readline())
                if m.get("method") == "event" and m["params"]["data"]["to"] == "success":
                    lat.append((m["params"]["data"]["job"]["result"]["t"] - t0) / 1000)
                    break
        call("unsubscribe", {"subscription": sub["subscription"]}, rid=5)

        # Full cycle: N jobs pipelined from one connection, until every one succeeded. The
        # requests are encoded before the clock starts: encoding 20,000 of them in Python takes
        # about 0.1 s, during which the kernel would have nothing to do.
        before = call("stats", {}, rid=6)["jobs"]["success"]
        batch = b"".join(json.dumps({"jsonrpc": "2.0", "id": 100_000 + i, "method": "enqueue",
                                     "params": {"type": "noop", "payload": body(i)}}).encode() + b"\n"
                         for i in range(a.jobs))
        w, rw = connect(sock)
        t0 = time.time()
        w.sendall(batch)
        while True:
            st = call("stats", {}, rid=7)["jobs"]["success"]
            if st - before >= a.jobs:
                break
            time.sleep(0.02)
        elapsed = time.time() - t0
        lat.sort()
        rss = 0
        with open(f"/proc/{k.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM"):
                    rss = int(line.split()[1]) // 1024
        print(f"RESULT pool_cycle jobs={a.jobs} secs={elapsed:.2f} rate={a.jobs / elapsed:.0f}")
        print(f"RESULT pool_latency samples={len(lat)} p50_us={lat[len(lat) // 2]:.0f} "
              f"p99_us={lat[int(len(lat) * 0.99)]:.0f} max_us={lat[-1]:.0f}")
        print(f"RESULT pool_rss_mib={rss}")
    finally:
        k.terminate()
        try:
            k.wait(20)
        except subprocess.TimeoutExpired:
            k.kill()
            k.wait()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

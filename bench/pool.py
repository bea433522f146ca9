#!/usr/bin/env python3
"""docs/promises.md §12 through the local pools: the full cycle (enqueue -> persistent worker -> success)
in jobs/s, and dispatch latency (enqueue sent -> the worker reading `run`) with a warm pool.

usage: pool.py KERNEL_BINARY WORKER_BINARY [--jobs N] [--samples N]

The harness (kernel, warm-up, latency phase, the cycle's requests and its wait) is also what
bench/pool_probe.py measures, through the functions below.
"""
import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
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


def enqueue_line(rid, i):
    """One encoded `enqueue` request of a noop job with body(i)."""
    return json.dumps({"jsonrpc": "2.0", "id": rid, "method": "enqueue",
                       "params": {"type": "noop", "payload": body(i)}}).encode() + b"\n"


@contextlib.contextmanager
def pool_kernel(kernel, worker, workers, extra_config="", prefix="jkpool-"):
    """A kernel serving the noop type with `workers` persistent workers (pools.internal) on a
    fresh temp dir; yields (process, dir, socket path). On exit the kernel gets SIGTERM (SIGKILL
    after 20 s) and the dir is removed. extra_config is TOML put after the [pools] table."""
    home = tempfile.mkdtemp(prefix=prefix)
    try:
        cfg = os.path.join(home, "c.toml")
        with open(cfg, "w") as f:
            f.write(f'[pipeline]\nmax_parallel_jobs = {workers + 1}\npriority_lane_slots = 1\n\n'
                    f'[pools]\ninternal = {workers}\n{extra_config}\n'
                    f'[types.noop]\nmode = "internal"\nworker = ["{worker}"]\n')
        sock = os.path.join(home, "k.sock")
        k = subprocess.Popen([kernel, "serve", "--socket", sock, "--db", os.path.join(home, "j.db"), "--config", cfg],
                             stderr=subprocess.DEVNULL)
        try:
            yield k, home, sock
        finally:
            k.terminate()
            try:
                k.wait(20)
            except subprocess.TimeoutExpired:
                k.kill()
                k.wait()
    finally:
        shutil.rmtree(home, ignore_errors=True)


class Client:
    """One connection to the kernel, opened as soon as it listens."""

    def __init__(self, sock):
        # The socket file appears when it is bound, a moment before it listens.
        for _ in range(500):
            try:
                self.s, self.r = connect(sock)
                return
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.01)
        raise SystemExit(f"the kernel did not listen on {sock}")

    def call(self, method, params, rid=1):
        """Sends one request and returns its result, passing over the events before it."""
        self.s.sendall(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode() + b"\n")
        while True:
            m = json.loads(self.r.readline())
            if m.get("id") == rid:
                return m["result"]

    def successes(self, rid):
        """The kernel's count of jobs in success (`stats`, which reads no events)."""
        return self.call("stats", {}, rid=rid)["jobs"]["success"]


def warm(c, workers):
    """One job per worker, then waits until they all succeeded."""
    for i in range(workers):
        c.call("enqueue", {"type": "noop", "payload": {}}, rid=100 + i)
    while c.successes(rid=8) < workers:
        time.sleep(0.01)


def dispatch_latency(c, samples):
    """One job at a time on the warm, idle pool: µs from the enqueue sent to the worker reading
    `run` (the time the worker puts in its result), sorted."""
    sub = c.call("subscribe", {"kinds": ["job.status"]})
    lat = []
    for i in range(samples):
        t0 = time.time_ns()
        c.s.sendall(enqueue_line(10_000 + i, i))
        while True:
            m = json.loads(c.r.readline())
            if m.get("method") == "event" and m["params"]["data"]["to"] == "success":
                lat.append((m["params"]["data"]["job"]["result"]["t"] - t0) / 1000)
                break
    c.call("unsubscribe", {"subscription": sub["subscription"]}, rid=5)
    return sorted(lat)


def cycle_batch(jobs):
    """The cycle's `jobs` enqueue requests, encoded before the clock starts: encoding 20,000 of
    them in Python takes about 0.1 s, during which the kernel would have nothing to do."""
    return b"".join(enqueue_line(100_000 + i, i) for i in range(jobs))


def await_cycle(c, before, jobs, t0):
    """Polls `stats` every 20 ms until `jobs` more jobs than `before` succeeded; returns the
    polls as (seconds since t0, jobs done)."""
    progress = []
    while True:
        done = c.successes(rid=7) - before
        progress.append((time.time() - t0, done))
        if done >= jobs:
            return progress
        time.sleep(0.02)


def quantile(lat, q):
    """The q-quantile of a sorted, non-empty list, as the reports have always taken it."""
    return lat[int(len(lat) * q)]


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) // 1024
    return 0


def arguments():
    """The command line pool.py takes, for tools that run its harness to extend."""
    ap = argparse.ArgumentParser()
    ap.add_argument("kernel")
    ap.add_argument("worker")
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=8, help="persistent worker processes (pools.internal)")
    return ap


def main():
    a = arguments().parse_args()

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    with pool_kernel(a.kernel, a.worker, a.workers) as (k, home, sock):
        c = Client(sock)
        warm(c, a.workers)
        lat = dispatch_latency(c, a.samples)

        # Full cycle: N jobs pipelined from one connection, until every one succeeded.
        before = c.successes(rid=6)
        batch = cycle_batch(a.jobs)
        w, rw = connect(sock)
        t0 = time.time()
        w.sendall(batch)
        await_cycle(c, before, a.jobs, t0)
        elapsed = time.time() - t0
        rss = peak_rss_mib(k.pid)
        print(f"RESULT pool_cycle jobs={a.jobs} secs={elapsed:.2f} rate={a.jobs / elapsed:.0f}")
        print(f"RESULT pool_latency samples={len(lat)} p50_us={quantile(lat, 0.5):.0f} "
              f"p99_us={quantile(lat, 0.99):.0f} max_us={lat[-1]:.0f}")
        print(f"RESULT pool_rss_mib={rss}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""docs/promises.md §12's peer for the persistent-worker cycle: Celery 5 with Redis, no-op tasks.

Runs under the venv that holds `celery` and `redis` (bench/run makes it). Starts its own
redis-server (Unix socket in a temp dir, no persistence) and a Celery worker (prefork, WORKERS
processes, acks_late, no result backend), warms the worker, then sends TASKS no-op tasks with
`delay()` (one 40-byte string argument each) and waits until the tasks' own counter in Redis says
they all ran. Prints one line:

  RESULT celery tasks=N secs=S rate=R send_rate=R2 workers=W prefetch=P

usage: celery_bench.py REDIS_SERVER [--workers 8] [--tasks 10000] [--prefetch 16]
Everything it starts is stopped on exit, also on SIGTERM/SIGINT.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

APP = '''
import os
import redis
from celery import Celery

app = Celery("benchapp", broker="redis+socket://" + os.environ["BENCH_REDIS_SOCK"])
app.conf.update(
    task_acks_late=True,
    task_ignore_result=True,
    result_backend=None,
    worker_prefetch_multiplier=int(os.environ["BENCH_PREFETCH"]),
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
_r = redis.Redis(unix_socket_path=os.environ["BENCH_REDIS_SOCK"])


@app.task(name="noop")
def noop(payload):
    _r.incr("bench:done")
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("redis_server")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--tasks", type=int, default=10000)
    ap.add_argument("--prefetch", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=300)
    a = ap.parse_args()

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)

    home = tempfile.mkdtemp(prefix="jkcelery-")
    sock = os.path.join(home, "redis.sock")
    procs = []
    try:
        redis_p = subprocess.Popen(
            [a.redis_server, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", home, "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(redis_p)
        import redis  # from the venv
        for _ in range(500):
            if os.path.exists(sock):
                break
            time.sleep(0.01)
        r = redis.Redis(unix_socket_path=sock)
        r.ping()

        with open(os.path.join(home, "benchapp.py"), "w") as f:
            f.write(APP)
        env = dict(os.environ, BENCH_REDIS_SOCK=sock, BENCH_PREFETCH=str(a.prefetch),
                   PYTHONPATH=home, PYTHONDONTWRITEBYTECODE="1")
        os.environ.update(BENCH_REDIS_SOCK=sock, BENCH_PREFETCH=str(a.prefetch))
        sys.path.insert(0, home)
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "benchapp", "worker", "--pool", "prefork",
             "--concurrency", str(a.workers), "--loglevel", "WARNING", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(home, "worker.log"), "w"),
            start_new_session=True)
        procs.append(worker)
        from benchapp import noop

        payload = "x" * 40

        def wait_done(n, deadline):
            while int(r.get("bench:done") or 0) < n:
                if worker.poll() is not None:
                    sys.stderr.write(open(os.path.join(home, "worker.log")).read())
                    raise SystemExit("celery worker exited")
                if time.time() > deadline:
                    raise SystemExit(f"celery: only {r.get('bench:done')} of {n} tasks done in time")
                time.sleep(0.005)

        # Warm-up: every worker process forked and connected.
        warm = a.workers * 8
        for _ in range(warm):
            noop.delay(payload)
        wait_done(warm, time.time() + 60)
        r.set("bench:done", 0)

        t0 = time.time()
        for _ in range(a.tasks):
            noop.delay(payload)
        t_sent = time.time()
        wait_done(a.tasks, t0 + a.timeout)
        elapsed = time.time() - t0
        print(f"RESULT celery tasks={a.tasks} secs={elapsed:.2f} rate={a.tasks / elapsed:.0f} "
              f"send_rate={a.tasks / (t_sent - t0):.0f} workers={a.workers} prefetch={a.prefetch}", flush=True)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM) if p is not procs[0] else p.terminate()
                except ProcessLookupError:
                    pass
        for p in reversed(procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL) if p is not procs[0] else p.kill()
                except ProcessLookupError:
                    pass
                p.wait()
        if len(procs) > 1:  # prefork children left behind by a worker that died first
            try:
                os.killpg(procs[1].pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

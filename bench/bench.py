#!/usr/bin/env python3
"""The driver behind bench/run: every docs/promises.md §12 workload, jobkernel side by side with beanstalkd
and Celery 5 + Redis, over several rounds; prints medians, a table and one RATIOS line.

bench/run prepares everything (builds, compiles the C tools into TOOLS, makes the Celery venv)
and calls:  bench.py --tools DIR --kernel BIN [--celery-python PY] [--quick] [--rounds N]
            [--no-million] [--no-celery] [--no-scale] [--only LIST]
Standard library only (Celery runs in its own venv through bench/celery_bench.py).
Every process started here is stopped on exit, also on an error, SIGTERM or Ctrl-C.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# docs/promises.md §12, the raised targets of 2026-12-07 (the first round's were 1.3×, 1.2×, 0.5×,
# 1.0×, 30,000/s and 25×). Each RATIOS key prints its figure, then "(>=target)" or "(<target)".
TARGETS = {
    "enqueue": ">=2.0",          # kernel enqueue/s ÷ beanstalkd put/s
    "cycle": ">=1.6",            # kernel cycle/s ÷ beanstalkd put/reserve/delete/s
    "latency_p50": ">=1.0",      # beanstalkd p50 ÷ kernel p50
    "latency_p99": ">=2.0",      # beanstalkd p99 ÷ kernel p99
    "pool": ">=40000",           # the pool cycle's median round, jobs/s
    "pool_worst": ">=30000",     # its worst round
    "vs_celery": ">=40",         # pool jobs/s ÷ Celery tasks/s
    "startup": "<1",             # seconds, 1M pending (the first round's target, still kept)
    "mem_vs_beanstalkd": "<=1",  # VmRSS ratio, 1M pending
    "fanout_p99": "<10ms",
    "nats": ">=1000",            # async_api over NATS JetStream, 2 remote workers, jobs/s (bench/README.md)
    "scale_rate_last_vs_first": ">=0.9",
    "scale_mem_vs_beanstalkd": "<=0.5",
    "scale_restart": "<2",       # seconds
    "scale_cycle": ">=1.6",
    "scale_get_list_stats_p99": "<10ms",
}


def env(name, default, kind=str):
    v = os.environ.get(name)
    return kind(v) if v not in (None, "") else default


def log(msg):
    print(f"== {msg}", file=sys.stderr, flush=True)


def parse_result(text, tag="RESULT"):
    """The `RESULT k=v k=v …` line of a tool's output, as a dict (numbers as floats)."""
    for line in text.splitlines():
        if line.startswith(tag):
            out = {}
            for tok in line.split()[1:]:
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    try:
                        out[k] = float(v)
                    except ValueError:
                        out[k] = v
            return out
    raise RuntimeError(f"no {tag} line in: {text!r}")


def mem_kb(pid):
    """(VmRSS, VmHWM) of a process in KiB."""
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


def file_mib(path):
    """A file's size in MiB, 0 when it does not exist."""
    try:
        return os.path.getsize(path) / (1 << 20)
    except FileNotFoundError:
        return 0.0


def count_label(n):
    """1,000,000 → "1M", 100,000 → "100k"."""
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def kernel_pending(stats, job_type):
    """Pending jobs of one type in a `stats` answer."""
    return stats.get("types", {}).get(job_type, {}).get("pending")


def beanstalk_stats(port, command="stats", timeout=60):
    """A beanstalkd `stats` (or `stats-tube NAME`) answer as a dict."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(command.encode() + b"\r\n")
        f = s.makefile("rb")
        head = f.readline()  # OK <bytes>
        if not head.startswith(b"OK "):
            raise RuntimeError(f"beanstalkd {command}: {head!r}")
        body = f.read(int(head.split()[1]) + 2).decode()
        return dict(l.strip().split(": ", 1) for l in body.splitlines() if ": " in l)


class BenchFailed(Exception):
    """A run that cannot go on, with a message for the operator (no traceback)."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="jobkernel-bench-")
        self.procs = []  # every Popen started, stopped in close()
        q = a.quick
        self.secs = env("BENCH_SECS", 2.5 if q else 8, float)
        self.warm = env("BENCH_WARMUP", 0.5 if q else 2, float)
        self.samples = env("BENCH_SAMPLES", 500 if q else 2000, int)
        self.conns = env("BENCH_CONNS", 4, int)          # enqueue connections
        self.window = env("BENCH_WINDOW", 64, int)       # requests in flight per producer connection
        self.cyc_prod = env("BENCH_CYCLE_PRODUCERS", 2, int)
        self.cyc_cons = env("BENCH_WORKERS", 2, int)     # cycle consumer connections
        self.cap = env("BENCH_CYCLE_CAP", 1024, int)
        self.store_batch = env("BENCH_STORE_BATCH", 64, int)  # jobs per commit in store_ceiling
        self.pool_workers = env("BENCH_POOL_WORKERS", 8, int)
        self.pool_jobs = env("BENCH_POOL_JOBS", 5000 if q else 20000, int)
        self.celery_tasks = env("BENCH_CELERY_TASKS", 1500 if q else 5000, int)
        self.celery_prefetch = env("BENCH_CELERY_PREFETCH", 16, int)
        self.million = env("BENCH_MILLION", 100_000 if q else 1_000_000, int)
        self.fan_subs = env("BENCH_FANOUT_SUBS", 100, int)
        self.fan_rate = env("BENCH_FANOUT_RATE", 10000, int)
        self.scale_total = env("BENCH_SCALE_TOTAL", 1_000_000 if q else 10_000_000, int)
        self.scale_step = env("BENCH_SCALE_STEP", 100_000 if q else 1_000_000, int)
        self.scale_steps = []  # one dict per fill step
        self.scale_at = {}  # (when, call) -> (p50 ms, p99 ms); "restart" -> figures
        self.rounds = a.rounds
        self.R = {}  # key -> list of per-round values
        self.pairs = {}  # ratio key -> list of per-round ratios

    # ---- processes ------------------------------------------------------------------------
    def spawn(self, argv, log_path, **kw):
        f = open(log_path, "ab")
        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw)
        f.close()
        self.procs.append(p)
        return p

    def stop(self, p, grace=10):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def close(self):
        for p in list(self.procs):
            self.stop(p, grace=5)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def tool(self, argv, timeout=600, tag="RESULT"):
        """Runs a tool to completion and returns its RESULT line as a dict (the whole output
        when tag is None). On any error or signal, the tool gets SIGTERM (then SIGKILL)."""
        argv = [str(x) for x in argv]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.procs.append(p)
        try:
            out, _ = p.communicate(timeout=timeout)
        finally:
            self.stop(p)
        if p.returncode != 0:
            name = next((x for x in argv if x.endswith(".py")), argv[0])
            raise RuntimeError(f"{os.path.basename(name)} exited {p.returncode}: {out.strip()}")
        return parse_result(out, tag) if tag else out

    # ---- jobkernel --------------------------------------------------------------------------
    def start_kernel(self, d=None, timeout=30, types=("bench",)):
        """A kernel on a fresh (or the given) directory with async_api job types; returns (proc,
        dir, seconds to answer, stats)."""
        if d is None:
            d = tempfile.mkdtemp(dir=self.tmp, prefix="k.")
            with open(os.path.join(d, "c.toml"), "w") as f:
                f.write('[storage]\ndurability = "normal"\n')
                for t in types:
                    f.write(f'\n[types.{t}]\nmode = "async_api"\n')
        sock = os.path.join(d, "k.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        t0 = time.monotonic()
        p = self.spawn([self.a.kernel, "serve", "--socket", sock, "--db", os.path.join(d, "j.db"),
                        "--config", os.path.join(d, "c.toml")], os.path.join(d, "log"))
        stats = self.wait_kernel(p, sock, timeout)
        return p, d, time.monotonic() - t0, stats

    def wait_kernel(self, p, sock, timeout):
        """Polls `stats` until the kernel answers; returns the stats result."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise RuntimeError(f"kernel exited {p.returncode}; see its log")
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(timeout)
                    s.connect(sock)
                    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"stats"}\n')
                    buf = b""
                    while not buf.endswith(b"\n"):
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                    return json.loads(buf)["result"]
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.002)
        raise RuntimeError("kernel did not answer in time")

    def kernel_run(self, argv_fn):
        """Fresh kernel, run loadgen (argv_fn(sock)), stop it; the result gets the kernel's VmHWM."""
        p, d, _, _ = self.start_kernel()
        try:
            r = self.tool(argv_fn(os.path.join(d, "k.sock")))
            r["hwm_kb"] = mem_kb(p.pid)[1]
        finally:
            self.stop(p)
            shutil.rmtree(d, ignore_errors=True)
        return r

    # ---- beanstalkd -------------------------------------------------------------------------
    def start_beanstalkd(self, d=None, timeout=60):
        if d is None:
            d = tempfile.mkdtemp(dir=self.tmp, prefix="b.")
        port = free_port()
        t0 = time.monotonic()
        p = self.spawn(["beanstalkd", "-l", "127.0.0.1", "-p", str(port), "-b", d, "-f", "50"],
                       d + ".log")
        deadline = time.monotonic() + timeout
        while True:
            if p.poll() is not None:
                raise RuntimeError(f"beanstalkd exited {p.returncode}")
            try:
                stats = beanstalk_stats(port, timeout=timeout)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise RuntimeError("beanstalkd did not listen")
                time.sleep(0.002)
        return p, d, port, time.monotonic() - t0, stats

    def beanstalk_run(self, argv_fn):
        p, d, port, _, _ = self.start_beanstalkd()
        try:
            r = self.tool(argv_fn(str(port)))
            r["hwm_kb"] = mem_kb(p.pid)[1]
        finally:
            self.stop(p)
            shutil.rmtree(d, ignore_errors=True)
        return r

    # ---- workloads: each returns {system: result} for one round --------------------------
    def lg(self, *args):
        return [os.path.join(self.a.tools, "loadgen"), *map(str, args)]

    def store_run(self, mode, *args):
        """The kernel's own SQL for `mode`, replayed with nothing else (bench/store_ceiling.c) on
        a database that a kernel created and stopped: the most any kernel could do on its store."""
        p, d, _, _ = self.start_kernel()
        self.stop(p)
        try:
            return self.tool([os.path.join(self.a.tools, "store_ceiling"), mode, os.path.join(d, "j.db"),
                              *map(str, args)])
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def w_enqueue(self):
        t = ("-c", self.conns, "-W", self.window, "-d", self.secs, "-D", self.warm)
        return {"kernel": lambda: self.kernel_run(lambda s: self.lg("enqueue", "-u", s, *t)),
                "beanstalkd": lambda: self.beanstalk_run(lambda port: self.lg("beanstalk-put", "-p", port, *t)),
                "store": lambda: self.store_run("enqueue", "-d", self.secs, "-D", self.warm, "-b", self.store_batch)}

    def w_cycle(self):
        t = ("-c", self.cyc_prod, "-W", self.window, "-w", self.cyc_cons, "-C", self.cap,
             "-d", self.secs, "-D", self.warm)
        return {"kernel": lambda: self.kernel_run(lambda s: self.lg("cycle", "-u", s, *t, "-m", 64, "-F", 2)),
                "beanstalkd": lambda: self.beanstalk_run(lambda port: self.lg("beanstalk-cycle", "-p", port, *t, "-F", 64)),
                "store": lambda: self.store_run("cycle", "-d", self.secs, "-D", self.warm, "-b", self.store_batch)}

    def w_latency(self):
        t = ("-n", self.samples, "-d", 120)
        return {"kernel": lambda: self.kernel_run(lambda s: self.lg("latency", "-u", s, *t)),
                "beanstalkd": lambda: self.beanstalk_run(lambda port: self.lg("beanstalk-latency", "-p", port, *t)),
                "store": lambda: self.store_run("latency", "-n", self.samples),
                "wakeup": lambda: self.tool([os.path.join(self.a.tools, "wakeup_floor"), "-n", self.samples])}

    def kernel_pool(self):
        out = self.tool([sys.executable, os.path.join(HERE, "pool.py"), self.a.kernel,
                         os.path.join(self.a.tools, "noop_worker"), "--jobs", str(self.pool_jobs),
                         "--samples", str(self.samples), "--workers", str(self.pool_workers)], tag=None)
        r = parse_result(out, "RESULT pool_cycle")
        lat = parse_result(out, "RESULT pool_latency")
        r.update(p50_us=lat["p50_us"], p99_us=lat["p99_us"])
        return r

    def celery(self):
        return self.tool([self.a.celery_python, os.path.join(HERE, "celery_bench.py"), shutil.which("redis-server"),
                          "--workers", self.pool_workers, "--tasks", self.celery_tasks,
                          "--prefetch", self.celery_prefetch])

    def w_pool(self):
        w = {"kernel": self.kernel_pool}
        if not self.a.no_celery:
            w["celery"] = self.celery
        return w

    def w_nats(self):
        """async_api over NATS JetStream and over the embedded broker (bench/nats_bench.py), beside
        Celery: its figures come from the pool workload, or from this one when pool is not run."""
        def run(broker):
            return lambda: self.tool([sys.executable, os.path.join(HERE, "nats_bench.py"), self.a.kernel,
                                      "--broker", broker, "--worker-python", self.a.nats_python,
                                      "--jobs", env("BENCH_NATS_JOBS", 5000 if self.a.quick else 20000, int),
                                      "--samples", env("BENCH_NATS_SAMPLES", 200 if self.a.quick else 500, int),
                                      "--workers", env("BENCH_NATS_WORKERS", 2, int),
                                      "--concurrency", env("BENCH_NATS_CONCURRENCY", 16, int)],
                                     tag=f"RESULT {broker}")
        w = {"nats": run("nats"), "embedded": run("embedded")}
        if not self.a.no_celery and self.a.only and "pool" not in self.a.only.split(","):
            w["celery"] = self.celery
        return w

    def w_fanout(self):
        fan = os.path.join(self.a.tools, "fanout")
        return {"kernel": lambda: self.kernel_run(
            lambda s: [fan, s, str(self.fan_subs), str(self.fan_rate), str(self.secs)])}

    # ---- 1M pending jobs --------------------------------------------------------------------
    def million_jobs(self):
        """Fills a kernel and a beanstalkd with N pending jobs once (pipelined, 40-byte bodies),
        then, each round, restarts both on their data and reads start-up time and memory."""
        n = self.million
        fill = ("-c", self.conns, "-W", self.window, "-N", n, "-d", 900)
        log(f"{n:,} pending jobs: filling the kernel (enqueue, {self.conns} connections)")
        kp, kd, _, _ = self.start_kernel()
        r = self.tool(self.lg("enqueue", "-u", os.path.join(kd, "k.sock"), *fill), timeout=1000)
        rss, hwm = mem_kb(kp.pid)
        self.add("m_kernel_fill_rate", r["rate"])
        self.add("m_kernel_fill_rss", rss / 1024)
        self.add("m_kernel_fill_hwm", hwm / 1024)
        self.stop(kp, grace=60)
        log(f"   {r['rate']:,.0f} enqueues/s; RSS after the fill {rss / 1024:.0f} MiB (peak {hwm / 1024:.0f})")
        log(f"{n:,} pending jobs: filling beanstalkd (put, -f 50)")
        bp, bd, port, _, _ = self.start_beanstalkd()
        r = self.tool(self.lg("beanstalk-put", "-p", port, *fill), timeout=1000)
        rss, hwm = mem_kb(bp.pid)
        self.add("m_bs_fill_rate", r["rate"])
        self.add("m_bs_fill_rss", rss / 1024)
        self.stop(bp)
        log(f"   {r['rate']:,.0f} puts/s; RSS {rss / 1024:.0f} MiB")

        def kernel():
            p, _, secs, stats = self.start_kernel(kd, timeout=300)
            time.sleep(0.3)  # anything loaded just after the first answer
            rss, hwm = mem_kb(p.pid)
            self.stop(p, grace=60)
            pending = stats["jobs"]["pending"]
            if pending != n:
                raise RuntimeError(f"restarted kernel has {pending} pending jobs, expected {n}")
            return {"startup_s": secs, "rss_mib": rss / 1024, "hwm_mib": hwm / 1024}

        def beanstalkd():
            p, _, _, secs, stats = self.start_beanstalkd(bd, timeout=300)
            time.sleep(0.3)
            rss, hwm = mem_kb(p.pid)
            self.stop(p)
            ready = int(stats.get("current-jobs-ready", "0"))
            if ready != n:
                raise RuntimeError(f"restarted beanstalkd has {ready} ready jobs, expected {n}")
            return {"startup_s": secs, "rss_mib": rss / 1024, "hwm_mib": hwm / 1024}
        try:
            for rnd in range(self.rounds):
                log(f"{n:,} pending jobs: restart, round {rnd + 1}/{self.rounds}")
                self.round_of("million", {"kernel": kernel, "beanstalkd": beanstalkd}, rnd)
        finally:
            shutil.rmtree(kd, ignore_errors=True)
            shutil.rmtree(bd, ignore_errors=True)

    # ---- scale: 10M pending jobs ------------------------------------------------------------
    # Free disk asked for before the scale part starts, per pending job: 15 GB at 10M (the
    # kernel's database and WAL, beanstalkd's binlog, and room to spare).
    SCALE_DISK_PER_JOB = 1500

    def scale_on(self):
        only = self.a.only.split(",") if self.a.only else None
        return not self.a.no_scale and (only is None or "scale" in only)

    def check_scale_disk(self):
        need = self.scale_total * self.SCALE_DISK_PER_JOB
        free = shutil.disk_usage(self.tmp).free
        if free < need:
            raise BenchFailed(f"the scale part needs {need / 1e9:.1f} GB free under {self.tmp} for "
                              f"{self.scale_total:,} pending jobs; {free / 1e9:.1f} GB are free (point TMPDIR "
                              "elsewhere, lower BENCH_SCALE_TOTAL, or pass --no-scale)")

    def scale(self):
        """Fills a kernel and a beanstalkd to scale_total pending jobs in steps (alternating
        which goes first), then at that depth: get/list/stats round trips, a cycle on a second
        type / tube (the filled jobs stay pending), a restart of each."""
        total = self.scale_total
        t0 = time.monotonic()
        kp, kd, _, _ = self.start_kernel(types=("bench", "bench2"))
        bp, bd, port, _, _ = self.start_beanstalkd()
        ksock = os.path.join(kd, "k.sock")
        try:
            self.scale_fill(kp, ksock, kd, bp, port, bd)
            self.scale_calls("filled", ksock)
            t = ("-c", self.cyc_prod, "-W", self.window, "-w", self.cyc_cons, "-C", self.cap,
                 "-d", self.secs, "-D", self.warm, "-T", "bench2")
            cycle = {"kernel": lambda: self.tool(self.lg("cycle", "-u", ksock, *t, "-m", 64, "-F", 2)),
                     "beanstalkd": lambda: self.tool(self.lg("beanstalk-cycle", "-p", port, *t, "-F", 64))}
            for rnd in range(self.rounds):
                log(f"scale: a cycle on bench2 beside {total:,} pending, round {rnd + 1}/{self.rounds}")
                self.round_of("scale_cycle", cycle, rnd)
            self.stop(kp, grace=300)
            self.stop(bp, grace=60)
            self.scale_restart(kd, bd)
            self.scale_at["secs"] = time.monotonic() - t0
        finally:
            self.stop(kp)
            self.stop(bp)
            shutil.rmtree(kd, ignore_errors=True)
            shutil.rmtree(bd, ignore_errors=True)

    def scale_fill(self, kp, ksock, kd, bp, port, bd):
        total, step = self.scale_total, self.scale_step
        log(f"scale: filling the kernel and beanstalkd to {total:,} pending jobs in steps of {step:,} "
            f"({self.conns} connections × {self.window} in flight); free disk "
            f"{shutil.disk_usage(self.tmp).free / 1e9:.0f} GB")
        pending = 0
        while pending < total:
            n = min(step, total - pending)
            fill = ("-c", self.conns, "-W", self.window, "-N", n, "-d", 900)
            k = len(self.scale_steps)
            s = {"step": k + 1, "pending": pending + n}

            def kernel():
                r = self.tool(self.lg("enqueue", "-u", ksock, *fill), timeout=1000)
                s.update(k_rate=r["rate"], k_errors=r["errors"], k_rss=mem_kb(kp.pid)[0] / 1024,
                         k_db=file_mib(os.path.join(kd, "j.db")), k_wal=file_mib(os.path.join(kd, "j.db-wal")))

            def beanstalkd():
                r = self.tool(self.lg("beanstalk-put", "-p", port, *fill), timeout=1000)
                s.update(b_rate=r["rate"], b_errors=r["errors"], b_rss=mem_kb(bp.pid)[0] / 1024,
                         b_binlog=sum(file_mib(os.path.join(bd, f)) for f in os.listdir(bd)))
            for system in ((kernel, beanstalkd) if k % 2 == 0 else (beanstalkd, kernel)):
                system()
            if s["k_errors"] or s["b_errors"]:
                raise BenchFailed(f"scale step {k + 1}: {s['k_errors']:.0f} kernel and {s['b_errors']:.0f} "
                                  "beanstalkd errors while filling")
            self.scale_steps.append(s)
            pending += n
            log(f"   step {s['step']:2}  {pending:>12,} pending  jobkernel  {s['k_rate']:>8,.0f} enqueues/s  "
                f"RSS {s['k_rss']:6,.0f} MiB  DB {s['k_db']:6,.0f} MiB + WAL {s['k_wal']:6,.0f} MiB")
            log(f"   step {s['step']:2}  {pending:>12,} pending  beanstalkd {s['b_rate']:>8,.0f} puts/s      "
                f"RSS {s['b_rss']:6,.0f} MiB  binlog {s['b_binlog']:6,.0f} MiB")

    def scale_calls(self, when, sock):
        """p50/p99 of 50 round trips each of get (a random pending job), a filtered list and stats,
        one at a time over one connection."""
        total = self.scale_total
        rnd = random.Random(23)
        calls = (("get", lambda: {"id": str(rnd.randint(1, total))},
                  lambda r: r.get("status") == "pending"),
                 ("list", lambda: {"status": "pending", "type": "bench", "limit": 100},
                  lambda r: len(r.get("jobs", ())) == 100),
                 ("stats", lambda: None,
                  lambda r: kernel_pending(r, "bench") == total))
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(120)
            s.connect(sock)
            f = s.makefile("rb")
            for name, params, check in calls:
                ms = []
                for i in range(50):
                    msg = {"jsonrpc": "2.0", "id": i, "method": name}
                    p = params()
                    if p is not None:
                        msg["params"] = p
                    data = json.dumps(msg).encode() + b"\n"
                    t0 = time.perf_counter()
                    s.sendall(data)
                    line = f.readline()
                    ms.append((time.perf_counter() - t0) * 1000)
                    answer = json.loads(line)
                    if "error" in answer or not check(answer["result"]):
                        raise BenchFailed(f"scale: {name} {p} at depth answered {line[:300]!r}")
                ms.sort()
                self.scale_at[(when, name)] = (ms[len(ms) // 2], ms[int(len(ms) * 0.99)])
                log(f"   {name:5} at {total:,} pending ({when}): p50 {ms[len(ms) // 2]:.2f} ms, "
                    f"p99 {ms[int(len(ms) * 0.99)]:.2f} ms")

    def scale_restart(self, kd, bd):
        total = self.scale_total
        log(f"scale: restarting the kernel on {total:,} pending jobs")
        p, _, secs, stats = self.start_kernel(kd, timeout=600)
        time.sleep(0.3)  # anything loaded just after the first answer
        rss = mem_kb(p.pid)[0] / 1024
        pending = kernel_pending(stats, "bench")
        if pending != total:
            raise BenchFailed(f"scale: the restarted kernel has {pending} pending jobs of type bench, expected {total}")
        self.scale_at["restart"] = {"k_s": secs, "k_rss": rss, "k_db": file_mib(os.path.join(kd, "j.db")),
                                    "k_wal": file_mib(os.path.join(kd, "j.db-wal"))}
        log(f"   start-up {secs:.2f} s, RSS {rss:,.0f} MiB")
        self.scale_calls("restarted", os.path.join(kd, "k.sock"))
        # A start after a crash: no counts left by a clean stop, and whatever WAL the kill left.
        p.kill()
        p.wait()
        self.procs.remove(p)
        wal = file_mib(os.path.join(kd, "j.db-wal"))
        log(f"scale: kill -9, then restarting the kernel on {total:,} pending jobs (WAL {wal:,.0f} MiB)")
        p, _, crash_secs, stats = self.start_kernel(kd, timeout=600)
        pending = kernel_pending(stats, "bench")
        if pending != total:
            raise BenchFailed(f"scale: the kernel restarted after kill -9 has {pending} pending jobs of type bench, expected {total}")
        self.scale_at["restart"].update(k_crash_s=crash_secs, k_crash_wal=wal)
        log(f"   start-up after kill -9 {crash_secs:.2f} s")
        self.stop(p, grace=300)
        log(f"scale: restarting beanstalkd on {total:,} ready jobs")
        bp, _, port, bsecs, _ = self.start_beanstalkd(bd, timeout=900)
        ready = int(beanstalk_stats(port, "stats-tube bench").get("current-jobs-ready", "0"))
        time.sleep(0.3)
        brss = mem_kb(bp.pid)[0] / 1024
        self.stop(bp)
        if ready != total:
            raise BenchFailed(f"scale: the restarted beanstalkd has {ready} ready jobs in tube bench, expected {total}")
        self.scale_at["restart"].update(b_s=bsecs, b_rss=brss)
        log(f"   start-up {bsecs:.2f} s, RSS {brss:,.0f} MiB")

    def scale_figures(self):
        """The scale part's at-depth figures, or None when it did not run."""
        st, at = self.scale_steps, self.scale_at
        if not st or "restart" not in at:
            return None
        rs = at["restart"]
        return {"rate_ratio": st[-1]["k_rate"] / st[0]["k_rate"], "bs_rate_ratio": st[-1]["b_rate"] / st[0]["b_rate"],
                "cycle": self.ratio("scale_cycle.kernel.rate", "scale_cycle.beanstalkd.rate"),
                "restart_s": rs["k_s"], "crash_restart_s": rs["k_crash_s"], "bs_restart_s": rs["b_s"], "rss_mib": rs["k_rss"], "bs_rss_mib": rs["b_rss"],
                "mem": rs["k_rss"] / rs["b_rss"],
                "calls": {k: v for k, v in at.items() if isinstance(k, tuple)}}

    def print_scale_steps(self):
        rs = self.scale_at["restart"]
        print(f"scale: {self.scale_total:,} pending jobs in steps of {self.scale_step:,} through the API, "
              f"{self.conns} connections × {self.window} in flight (enqueue / put); RSS = VmRSS after the step; "
              f"the scale part took {self.scale_at['secs']:.0f} s")
        hdr = ("step", "pending", "jobkernel enqueue/s", "RSS MiB", "DB MiB", "WAL MiB",
               "beanstalkd put/s", "RSS MiB", "binlog MiB")
        rows = [(str(s["step"]), f"{s['pending']:,}", f"{s['k_rate']:,.0f}", f"{s['k_rss']:,.0f}",
                 f"{s['k_db']:,.0f}", f"{s['k_wal']:,.0f}", f"{s['b_rate']:,.0f}", f"{s['b_rss']:,.0f}",
                 f"{s['b_binlog']:,.0f}") for s in self.scale_steps]
        rows.append(("restart", f"{self.scale_total:,}", f"{rs['k_s']:.2f} s", f"{rs['k_rss']:,.0f}",
                     f"{rs['k_db']:,.0f}", f"{rs['k_wal']:,.0f}", f"{rs['b_s']:.2f} s", f"{rs['b_rss']:,.0f}", ""))
        rows.append(("kill -9", f"{self.scale_total:,}", f"{rs['k_crash_s']:.2f} s", "", "",
                     f"{rs['k_crash_wal']:,.0f}", "", "", ""))
        w = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]
        print("  ".join(h.rjust(w[i]) for i, h in enumerate(hdr)))
        for r in rows:
            print("  ".join(c.rjust(w[i]) for i, c in enumerate(r)))

    # ---- rounds -----------------------------------------------------------------------------
    def add(self, key, value):
        self.R.setdefault(key, []).append(value)

    def round_of(self, name, systems, rnd):
        """Runs each system once, the order rotated by round (kernel first in round 1, …)."""
        order = list(systems)
        k = rnd % len(order)
        order = order[k:] + order[:k]
        res = {}
        for sysname in order:
            t0 = time.monotonic()
            res[sysname] = systems[sysname]()
            short = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                             for k, v in res[sysname].items()
                             if k in ("rate", "p50_us", "p99_us", "errors", "delivered", "expected",
                                      "startup_s", "rss_mib", "send_rate", "dropped"))
            log(f"   {name:8} {sysname:10} {short}  ({time.monotonic() - t0:.1f} s)")
        for sysname, r in res.items():
            for k, v in r.items():
                if isinstance(v, float):
                    self.add(f"{name}.{sysname}.{k}", v)
        return res

    def run(self):
        load0 = open("/proc/loadavg").read().split()[:3]
        if self.scale_on():
            self.check_scale_disk()
        t_start = time.monotonic()
        workloads = [("enqueue", self.w_enqueue), ("cycle", self.w_cycle), ("latency", self.w_latency),
                     ("pool", self.w_pool), ("fanout", self.w_fanout)]
        if not self.a.no_nats:
            workloads.append(("nats", self.w_nats))
        only = set(self.a.only.split(",")) if self.a.only else None
        workloads = [(n, w) for n, w in workloads if only is None or n in only]
        for rnd in range(self.rounds if workloads else 0):
            log(f"round {rnd + 1}/{self.rounds}")
            for name, w in workloads:
                self.round_of(name, w(), rnd)
        if not self.a.no_million and (only is None or "million" in only):
            self.million_jobs()
        if self.scale_on():
            self.scale()
        self.report(load0, time.monotonic() - t_start)

    # ---- report -----------------------------------------------------------------------------
    def med(self, key):
        v = self.R.get(key)
        return statistics.median(v) if v else None

    def ratio(self, num, den):
        """Median over rounds of the per-round ratio num/den (each pair measured side by side)."""
        a, b = self.R.get(num), self.R.get(den)
        if not a or not b:
            return None
        return statistics.median(x / y for x, y in zip(a, b) if y)

    def report(self, load0, elapsed):
        m, R = self.med, self.R
        def fmt(v, unit="", prec=0):
            if v is None:
                return "—"
            return f"{v:,.{prec}f}{unit}"
        def rng(key, unit="", prec=0):
            v = R.get(key)
            if not v or len(v) < 2:
                return ""
            return f"({min(v):,.{prec}f}–{max(v):,.{prec}f})"
        rows = []
        def row(label, kkey, pkey, ratio, target, unit="/s", prec=0, kscale=1):
            rows.append((label, f"{fmt(m(kkey), unit, prec)} {rng(kkey, '', prec)}".strip(),
                         f"{fmt(m(pkey), unit, prec)} {rng(pkey, '', prec)}".strip() if pkey else "",
                         ratio, target))
        def rx(v, prec=2, suffix="x"):
            return "—" if v is None else f"{v:.{prec}f}{suffix}"

        enq = self.ratio("enqueue.kernel.rate", "enqueue.beanstalkd.rate")
        cyc = self.ratio("cycle.kernel.rate", "cycle.beanstalkd.rate")
        l50 = self.ratio("latency.beanstalkd.p50_us", "latency.kernel.p50_us")
        l99 = self.ratio("latency.beanstalkd.p99_us", "latency.kernel.p99_us")
        vsc = self.ratio("pool.kernel.rate", "pool.celery.rate")
        memr = self.ratio("million.kernel.rss_mib", "million.beanstalkd.rss_mib")
        pools = R.get("pool.kernel.rate", [])
        pool_worst = min(pools) if pools else None
        n = self.million
        nlabel = count_label(n)
        def tg(key, unit=""):
            """A target as the table shows it: '>= 2.0x'."""
            t = TARGETS[key]
            op = t[:2] if t[1] == "=" else t[:1]
            num = t[len(op):]
            if num.isdigit():
                num = f"{int(num):,}"
            return f"{op} {num}{unit}"

        row(f"durable enqueue, {self.conns} conns × {self.window} in flight", "enqueue.kernel.rate",
            "enqueue.beanstalkd.rate", rx(enq), tg("enqueue", "x"))
        row(f"cycle enqueue→fetch→ack, {self.cyc_prod} prod + {self.cyc_cons} cons", "cycle.kernel.rate",
            "cycle.beanstalkd.rate", rx(cyc), tg("cycle", "x"))
        row("dispatch latency idle, p50", "latency.kernel.p50_us", "latency.beanstalkd.p50_us", rx(l50),
            tg("latency_p50", "x"), " µs")
        row("dispatch latency idle, p99", "latency.kernel.p99_us", "latency.beanstalkd.p99_us", rx(l99),
            tg("latency_p99", "x"), " µs")
        # The store's own limit (bench/README.md): the kernel's SQL replayed alone on one core, and
        # what that leaves of each target at best.
        ceil_enq = self.ratio("enqueue.store.rate", "enqueue.beanstalkd.rate")
        ceil_cyc = self.ratio("cycle.store.rate", "cycle.beanstalkd.rate")
        row("the store alone, enqueue: the kernel's SQL on one core", "enqueue.store.rate", "enqueue.beanstalkd.rate",
            rx(ceil_enq), f"kernel at {rx(self.ratio('enqueue.kernel.rate', 'enqueue.store.rate'))} of it")
        row("the store alone, cycle", "cycle.store.rate", "cycle.beanstalkd.rate", rx(ceil_cyc),
            f"kernel at {rx(self.ratio('cycle.kernel.rate', 'cycle.store.rate'))} of it")
        floors = [a + b for a, b in zip(R.get("latency.store.p50_us", []), R.get("latency.wakeup.p50_us", []))]
        for f in floors:
            self.add("latency.floor.p50_us", f)
        ceil_l50 = self.ratio("latency.beanstalkd.p50_us", "latency.floor.p50_us")
        row("the store alone, an enqueue and its lease committed, p50", "latency.store.p50_us", None, "", "", " µs", 1)
        row("a wake-up round trip between two processes, p50", "latency.wakeup.p50_us", None, "", "", " µs", 1)
        row("   the two together: the least a dispatch can take", "latency.floor.p50_us", "latency.beanstalkd.p50_us",
            rx(ceil_l50), "the most the p50 ratio can be", " µs", 1)
        row(f"pool cycle, {self.pool_workers} persistent workers (peer: Celery)", "pool.kernel.rate",
            "pool.celery.rate", rx(vsc, 1), f"{tg('pool', '/s')}, {tg('vs_celery', 'x')}")
        rows.append(("   pool cycle, worst round", fmt(pool_worst, "/s"), "", "", tg("pool_worst", "/s")))
        per_cycle = [x / y for x, y in zip(pools, R.get("cycle.beanstalkd.rate", [])) if y]
        if per_cycle:
            rows.append(("   pool ÷ beanstalkd's cycle of the same round, median / worst",
                         f"{statistics.median(per_cycle):.2f}x / {min(per_cycle):.2f}x", "", "",
                         "1.25x / 0.95x (40,000 and 30,000 where these were set)"))
        row("   pool dispatch latency p50 (enqueue → worker reads run)", "pool.kernel.p50_us", None, "", "", " µs")
        row("   pool dispatch latency p99", "pool.kernel.p99_us", None, "", "", " µs")
        if not self.a.no_million:
            row(f"start-up with {nlabel} pending jobs", "million.kernel.startup_s", "million.beanstalkd.startup_s",
                "", tg("startup", " s"), " s", 2)
            row(f"memory holding {nlabel} pending jobs (VmRSS)", "million.kernel.rss_mib",
                "million.beanstalkd.rss_mib", rx(memr), tg("mem_vs_beanstalkd", "x"), " MiB")
            row("   peak memory after the restart (VmHWM)", "million.kernel.hwm_mib", "million.beanstalkd.hwm_mib",
                "", "", " MiB")
            row(f"   RSS right after enqueueing {nlabel} (fill)", "m_kernel_fill_rss", "m_bs_fill_rss", "", "", " MiB")
        row(f"fan-out {self.fan_subs} subscribers × {self.fan_rate:,} events/s, p99 lag", "fanout.kernel.p99_us",
            None, "", "< 10,000 µs", " µs")
        row("   p50 lag", "fanout.kernel.p50_us", None, "", "", " µs")
        row("   events/s the producer achieved", "fanout.kernel.rate", None, "", "10,000/s")
        for d, e in zip(R.get("fanout.kernel.delivered", []), R.get("fanout.kernel.expected", [])):
            self.add("fanout.kernel.delivered_pct", 100 * d / e if e else 0)
        row("   events delivered, % of events × subscribers", "fanout.kernel.delivered_pct", None, "", "100 %",
            " %", 1)
        row("   subscriptions the kernel dropped (slow consumer)", "fanout.kernel.dropped", None, "", "0", "")
        deliv = R.get("fanout.kernel.delivered", [])
        expect = R.get("fanout.kernel.expected", [])
        nats_ran = "nats.nats.rate" in R
        if nats_ran:
            nw = env("BENCH_NATS_WORKERS", 2, int)
            celery_key = "pool.celery.rate" if "pool.celery.rate" in R else "nats.celery.rate"
            row(f"async_api over NATS JetStream, {nw} remote workers (peer: Celery)", "nats.nats.rate", celery_key,
                rx(self.ratio("nats.nats.rate", celery_key), 1), tg("nats", "/s"))
            ns = env("BENCH_NATS_SAMPLES", 200 if self.a.quick else 500, int)
            row(f"   NATS: latency one job at a time ({ns} samples), enqueue → success event, p50", "nats.nats.p50_us",
                None, "", "", " µs")
            row("   NATS: p99", "nats.nats.p99_us", None, "", "", " µs")
            row(f"   async_api over the embedded broker, {nw} PullWorker processes", "nats.embedded.rate", None,
                rx(self.ratio("nats.nats.rate", "nats.embedded.rate")), "(NATS ÷ embedded)")
            row("   embedded: latency one job at a time, p50", "nats.embedded.p50_us", None, "", "", " µs")
            row("   embedded: p99", "nats.embedded.p99_us", None, "", "", " µs")
            for name, procs in (("nats", ("kernel", "workers", "nats")), ("embedded", ("kernel", "workers"))):
                cpu = " / ".join(fmt(m(f"nats.{name}.{p}_cpu_us")) for p in procs)
                rows.append((f"   {name}: CPU per job, {' / '.join(procs)}", f"{cpu} µs", "", "", ""))
        scale = self.scale_figures()
        if scale:
            slabel = count_label(self.scale_total)
            row(f"scale: cycle on type bench2 beside {slabel} pending", "scale_cycle.kernel.rate",
                "scale_cycle.beanstalkd.rate", rx(scale["cycle"]), tg("scale_cycle", "x"))
            rows.append((f"scale: enqueue rate, last step ÷ first", rx(scale["rate_ratio"]),
                         rx(scale["bs_rate_ratio"]), "", tg("scale_rate_last_vs_first", "x")))
            rows.append((f"scale: start-up with {slabel} pending (spawn → stats)", fmt(scale["restart_s"], " s", 2),
                         fmt(scale["bs_restart_s"], " s", 2), "", tg("scale_restart", " s")))
            rows.append((f"scale: start-up after kill -9 (no clean-stop counts)", fmt(scale["crash_restart_s"], " s", 2),
                         "", "", ""))
            rows.append((f"scale: memory after that restart (VmRSS)", fmt(scale["rss_mib"], " MiB"),
                         fmt(scale["bs_rss_mib"], " MiB"), rx(scale["mem"]), tg("scale_mem_vs_beanstalkd", "x")))
            for when in ("filled", "restarted"):
                for call in ("get", "list", "stats"):
                    c = scale["calls"].get((when, call))
                    if c:
                        rows.append((f"   {call} at depth ({when}), p50 / p99", f"{c[0]:.2f} / {c[1]:.2f} ms", "",
                                     "", tg("scale_get_list_stats_p99", "") + " p99"))

        print()
        print(f"jobkernel vs beanstalkd 1.12 (binlog -f 50) and Celery {self.celery_version()} + Redis — "
              f"{time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}, {os.cpu_count()} cores")
        print(f"{self.rounds} rounds, medians (range over rounds in parentheses); {self.secs:g} s per throughput run "
              f"after {self.warm:g} s warm-up; {self.samples} latency samples; pool {self.pool_jobs:,} jobs, "
              f"Celery {self.celery_tasks:,} tasks; 40-byte payloads; took {elapsed:.0f} s")
        print(f"load average at start {' '.join(load0)}, at end {' '.join(open('/proc/loadavg').read().split()[:3])}"
              " (other processes on this machine move the figures; compare within one run)")
        if not self.a.no_million and n != 1_000_000:
            print(f"NOTE: memory/start-up measured with {n:,} pending jobs, not 1,000,000 (--quick or BENCH_MILLION)")
        if scale and self.scale_total != 10_000_000:
            print(f"NOTE: scale measured at {self.scale_total:,} pending jobs in steps of {self.scale_step:,}, "
                  "not 10,000,000 in steps of 1,000,000 (--quick or BENCH_SCALE_TOTAL / BENCH_SCALE_STEP)")
        print()
        # A workload left out (--only, --no-…) leaves rows with nothing measured: not shown.
        rows = [r for r in rows if any(c not in ("", "—") for c in r[1:4])]
        hdr = ("workload", "jobkernel", "peer (beanstalkd / Celery)", "ratio", "docs/promises.md §12 target")
        w = [max(len(r[i]) for r in rows + [hdr]) for i in range(5)]
        print("  ".join(h.ljust(w[i]) for i, h in enumerate(hdr)))
        for r in rows:
            print("  ".join([r[0].ljust(w[0]), r[1].rjust(w[1]), r[2].rjust(w[2]), r[3].rjust(w[3]), r[4]]))
        if deliv:
            print(f"fan-out: every event delivered to every subscriber in {sum(d >= e for d, e in zip(deliv, expect))}"
                  f" of {len(deliv)} rounds (an event not delivered within 10 s of the end counts as an infinite lag)")
        errs = sum(sum(v) for k, v in R.items() if k.endswith(".errors"))
        print(f"errors reported by loadgen across all runs: {errs:.0f}")
        if scale:
            print()
            self.print_scale_steps()
        print()
        def key(name, text, target=None):
            return f"{name}={text}({TARGETS[target or name]})"
        parts = [key("enqueue", rx(enq)), key("cycle", rx(cyc)), key("latency_p50", rx(l50)),
                 key("latency_p99", rx(l99)), key("pool", fmt(m("pool.kernel.rate")) + "/s"),
                 key("pool_worst", fmt(pool_worst) + "/s")]
        if not self.a.no_celery:
            parts.append(key("vs_celery", rx(vsc, 1, "")))
        if not self.a.no_million:
            parts += [key(f"startup_{nlabel}", fmt(m("million.kernel.startup_s"), "s", 2), "startup"),
                      key(f"mem_vs_beanstalkd_{nlabel}", rx(memr, 2, ""), "mem_vs_beanstalkd")]
        p99 = m("fanout.kernel.p99_us")
        p99 = "—" if p99 is None else "inf" if p99 == float("inf") else f"{p99 / 1000:.1f}ms"
        parts.append(key("fanout_p99", p99))
        if scale:
            worst = max((c[1] for c in scale["calls"].values()), default=None)
            parts += [key("scale_rate_last_vs_first", rx(scale["rate_ratio"], 2, "")),
                      key("scale_mem_vs_beanstalkd", rx(scale["mem"], 2, "")),
                      key("scale_restart", fmt(scale["restart_s"], "s", 2)),
                      key("scale_cycle", rx(scale["cycle"])),
                      key("scale_get_list_stats_p99", fmt(worst, "ms", 2))]
        if nats_ran:
            parts.append(key("nats", fmt(m("nats.nats.rate")) + "/s"))
        if ceil_enq or ceil_cyc or ceil_l50:
            # No target: how far the store alone would go, against the same peer.
            parts += [f"store_enqueue={rx(ceil_enq)}", f"store_cycle={rx(ceil_cyc)}",
                      f"latency_p50_bound={rx(ceil_l50)}"]
        print("RATIOS " + " ".join(parts))

    def celery_version(self):
        if self.a.no_celery:
            return "(skipped)"
        try:
            return subprocess.run([self.a.celery_python, "-c", "import celery; print(celery.__version__)"],
                                  capture_output=True, text=True, timeout=30).stdout.strip()
        except Exception:
            return "5"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools", required=True, help="dir with loadgen, noop_worker, fanout")
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--celery-python", help="python of the venv holding celery and redis")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-million", action="store_true")
    ap.add_argument("--no-celery", action="store_true")
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument("--no-nats", action="store_true")
    ap.add_argument("--nats-python", default=sys.executable, help="a python that imports nats (nats-py), for the NATS workers")
    ap.add_argument("--only", help="comma-separated subset: enqueue,cycle,latency,pool,fanout,nats,million,scale")
    a = ap.parse_args()
    if not a.celery_python:
        a.no_celery = True

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    b = Bench(a)
    try:
        b.run()
    except (KeyboardInterrupt, SystemExit):
        print("bench: interrupted; stopping everything it started", file=sys.stderr)
        raise SystemExit(130)
    except BenchFailed as e:
        print(f"bench: {e}", file=sys.stderr)
        raise SystemExit(1)
    finally:
        b.close()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""docs/promises.md §12, the distributed path: `async_api` units over NATS JetStream to 2 remote
worker processes, and the same type over the embedded broker, for comparison.

For each broker asked for, a fresh kernel (a temp dir, `[storage] durability = "normal"`, one
`async_api` type `bench`) and WORKERS worker processes with a no-op handler:

- nats: `nats-server -js` on 127.0.0.1 (a free port, a temp store dir), the kernel with
  `[broker] kind = "nats"`; the workers are the project's NATS worker
  (examples/nats-worker/worker.py, nats-py) with `handle()` returning null at once: fetch a batch,
  publish each result through JetStream and wait for its acknowledgement, then ack the unit.
- embedded: the kernel's own broker; the workers are the Python client's `PullWorker`
  (clients/python) with a handler returning None: `fetch` (long-poll), then `ack`, CONCURRENCY
  threads per process.

Measured on each, after warming the workers:
- latency: one job at a time, `enqueue` sent -> its `job.status` event to `success` received on
  the same connection (a `subscribe`); p50/p99 over SAMPLES;
- throughput: JOBS enqueues pipelined from one connection (encoded before the clock starts);
  jobs/s from the first byte sent until `stats` counts them all `success`;
- CPU time (user + system, from /proc) of the kernel, the workers and nats-server over the
  throughput run, per job.

Prints one line per broker:
  RESULT nats rate=R jobs=N secs=S p50_us=… p99_us=… max_us=… samples=… kernel_cpu_us=… workers_cpu_us=… nats_cpu_us=…
  RESULT embedded rate=R …

usage: nats_bench.py KERNEL [--broker nats,embedded] [--jobs 20000] [--samples 500] [--workers 2]
                     [--concurrency 16] [--nats-server nats-server] [--worker-python PY]
Everything it starts is stopped and every temp dir removed on exit, also on SIGTERM or Ctrl-C.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
NATS_WORKER = os.path.join(REPO, "examples", "nats-worker", "worker.py")
PY_CLIENT = os.path.join(REPO, "clients", "python", "src")
TYPE = "bench"


def body(i):
    """A 40-byte payload, as in bench/loadgen.c: {"n":i,"p":"xx…"}."""
    head = '{"n":%d,"p":"' % i
    return json.loads(head + "x" * (38 - len(head)) + '"}')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_us(pid):
    """User + system CPU time of a process so far, in µs (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0
    return (int(fields[11]) + int(fields[12])) * 1_000_000 / os.sysconf("SC_CLK_TCK")


# ---- the workers (run as `nats_bench.py --serve-worker nats|embedded ADDRESS CONCURRENCY`) ----

def serve_nats_worker(url, concurrency):
    """The project's NATS worker with a handler that does nothing."""
    import asyncio
    import importlib.util

    spec = importlib.util.spec_from_file_location("nats_worker", NATS_WORKER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    class NoopWorker(mod.Worker):
        async def handle(self, unit):
            return None

    async def main():
        import nats
        nc = await nats.connect(url, name="jobkernel-bench-worker", max_reconnect_attempts=-1)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        worker = NoopWorker(nc, mod.UNIT_STREAM, 30.0)
        try:
            while not stop.is_set():
                try:
                    await worker.consume(TYPE, concurrency, stop)
                except asyncio.TimeoutError:
                    # nats-py 2.16's batch fetch can time out with a plain asyncio.TimeoutError,
                    # which the example's loop (catching nats.errors.TimeoutError) lets through.
                    continue
        finally:
            await nc.drain()
    asyncio.run(main())


def serve_embedded_worker(sock, concurrency):
    """The Python client's pull worker with a handler that does nothing (SIGTERM ends it)."""
    sys.path.insert(0, PY_CLIENT)
    import jobkernel
    client = jobkernel.Client(sock, timeout=60, name="jobkernel-bench-worker")
    jobkernel.PullWorker(client, TYPE, lambda task: None, concurrency=concurrency, wait_s=5).run()


# ---- the driver ---------------------------------------------------------------------------------

class Connection:
    """One JSON-RPC connection to the kernel's socket (NDJSON)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.rfile = self.sock.makefile("rb")

    def send(self, method, params, rid):
        self.sock.sendall(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode() + b"\n")

    def call(self, method, params, rid=1):
        self.send(method, params, rid)
        while True:
            m = json.loads(self.rfile.readline())
            if m.get("id") == rid:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]

    def close(self):
        self.rfile.close()
        self.sock.close()


class Run:
    def __init__(self, a):
        self.a = a
        self.home = tempfile.mkdtemp(prefix="jknatsbench-")
        self.procs = []
        self.kernel = self.nats = None  # their Popen, stopped after the workers

    def spawn(self, argv, name):
        with open(os.path.join(self.home, name + ".log"), "ab") as log:
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def close(self):
        """Stops the workers (all at once, 2 s to go before SIGKILL), then the kernel, then
        nats-server, each with SIGTERM first."""
        workers = [p for p in self.procs if p is not self.kernel and p is not self.nats]
        for group, grace in ((workers, 2), ([self.kernel], 10), ([self.nats], 5)):
            group = [p for p in group if p is not None]
            for p in group:
                if p.poll() is None:
                    p.terminate()
            deadline = time.monotonic() + grace
            for p in group:
                try:
                    p.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []
        self.kernel = self.nats = None

    def log_tail(self, name):
        try:
            with open(os.path.join(self.home, name + ".log"), "rb") as f:
                return f.read()[-2000:].decode(errors="replace")
        except FileNotFoundError:
            return ""

    def start_nats(self):
        port = free_port()
        store = os.path.join(self.home, "nats-store")
        p = self.nats = self.spawn([self.a.nats_server, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store], "nats")
        deadline = time.monotonic() + 30
        while True:
            if p.poll() is not None:
                raise SystemExit(f"nats-server exited {p.returncode}: {self.log_tail('nats')}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return p, f"nats://127.0.0.1:{port}"
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("nats-server did not listen within 30 s")
                time.sleep(0.02)

    def start_kernel(self, broker_toml):
        cfg = os.path.join(self.home, "c.toml")
        with open(cfg, "w") as f:
            f.write(f'[storage]\ndurability = "normal"\n\n{broker_toml}[types.{TYPE}]\nmode = "async_api"\n')
        sock = os.path.join(self.home, "k.sock")
        k = self.kernel = self.spawn([self.a.kernel, "serve", "--socket", sock, "--db",
                                      os.path.join(self.home, "j.db"), "--config", cfg], "kernel")
        deadline = time.monotonic() + 30
        while True:
            if k.poll() is not None:
                raise SystemExit(f"the kernel exited {k.returncode}: {self.log_tail('kernel')}")
            try:
                c = Connection(sock)
                c.call("stats", {})
                return k, sock, c
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise SystemExit(f"the kernel did not listen on {sock} within 30 s")
                time.sleep(0.01)

    def measure(self, broker):
        if broker == "nats":
            _, url = self.start_nats()
            k, sock, c = self.start_kernel(f'[broker]\nkind = "nats"\nurl = "{url}"\n\n')
            address = url
        else:
            k, sock, c = self.start_kernel("")
            address = sock
        workers = [self.spawn([self.a.worker_python, os.path.abspath(__file__), "--serve-worker", broker, address,
                               str(self.a.concurrency)], f"worker{i}") for i in range(self.a.workers)]

        def successes():
            return c.call("stats", {}, rid=2)["jobs"]["success"]

        def wait_successes(n, what, timeout):
            deadline = time.monotonic() + timeout
            while successes() < n:
                for i, w in enumerate(workers):
                    if w.poll() is not None:
                        raise SystemExit(f"worker {i} exited {w.returncode}: {self.log_tail(f'worker{i}')}")
                if time.monotonic() > deadline:
                    raise SystemExit(f"{broker}: {what}: {successes()} of {n} jobs succeeded after {timeout} s")
                time.sleep(0.02)

        # Warm: every worker connected and every thread or fetch loop busy at least once.
        warm = self.a.workers * self.a.concurrency * 4
        for i in range(warm):
            c.send("enqueue", {"type": TYPE, "payload": body(i)}, rid=100 + i)
        for _ in range(warm):
            c.rfile.readline()
        wait_successes(warm, "warm-up", 120)

        # Latency: one job at a time; the enqueue answer names the job, its event says success.
        c.call("subscribe", {"kinds": ["job.status"], "types": [TYPE]}, rid=3)
        lat = []
        for i in range(self.a.samples):
            rid = 10_000 + i
            line = json.dumps({"jsonrpc": "2.0", "id": rid, "method": "enqueue",
                               "params": {"type": TYPE, "payload": body(i)}}).encode() + b"\n"
            job, done = None, set()
            t0 = time.perf_counter()
            c.sock.sendall(line)
            while True:
                m = json.loads(c.rfile.readline())
                if m.get("id") == rid:
                    job = m["result"]["job"]["id"]
                elif m.get("method") == "event" and m["params"]["data"].get("to") == "success":
                    done.add(m["params"]["data"]["job"]["id"])
                if job is not None and job in done:
                    lat.append((time.perf_counter() - t0) * 1e6)
                    break
        c.close()
        c = Connection(sock)

        # Throughput: N jobs pipelined from one connection, until every one succeeded.
        before = successes()
        batch = b"".join(json.dumps({"jsonrpc": "2.0", "id": 100_000 + i, "method": "enqueue",
                                     "params": {"type": TYPE, "payload": body(i)}}).encode() + b"\n"
                         for i in range(self.a.jobs))
        producer = Connection(sock)
        pids = {"kernel": [k.pid], "workers": [w.pid for w in workers], "nats": [self.nats.pid] if self.nats else []}
        cpu0 = {name: sum(cpu_us(p) for p in ps) for name, ps in pids.items()}
        t0 = time.monotonic()
        producer.sock.sendall(batch)
        wait_successes(before + self.a.jobs, "throughput run", 600)
        elapsed = time.monotonic() - t0
        cpu = {name: (sum(cpu_us(p) for p in ps) - cpu0[name]) / self.a.jobs for name, ps in pids.items()}
        producer.close()
        c.close()
        self.close()

        lat.sort()
        fields = [f"rate={self.a.jobs / elapsed:.0f}", f"jobs={self.a.jobs}", f"secs={elapsed:.2f}",
                  f"p50_us={lat[len(lat) // 2]:.0f}", f"p99_us={lat[int(len(lat) * 0.99)]:.0f}",
                  f"max_us={lat[-1]:.0f}", f"samples={len(lat)}", f"workers={self.a.workers}",
                  f"concurrency={self.a.concurrency}",
                  f"kernel_cpu_us={cpu['kernel']:.1f}", f"workers_cpu_us={cpu['workers']:.1f}"]
        if broker == "nats":
            fields.append(f"nats_cpu_us={cpu['nats']:.1f}")
        print(f"RESULT {broker} " + " ".join(fields), flush=True)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--serve-worker":
        _, _, broker, address, concurrency = sys.argv
        (serve_nats_worker if broker == "nats" else serve_embedded_worker)(address, int(concurrency))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("kernel")
    ap.add_argument("--broker", default="nats,embedded", help="comma-separated: nats, embedded")
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    ap.add_argument("--concurrency", type=int, default=16, help="units in hand at once per worker process")
    ap.add_argument("--nats-server", default="nats-server")
    ap.add_argument("--worker-python", default=sys.executable, help="a python that can import nats (nats-py)")
    a = ap.parse_args()
    brokers = a.broker.split(",")
    if set(brokers) - {"nats", "embedded"}:
        ap.error("--broker takes nats and/or embedded")

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    for broker in brokers:
        run = Run(a)
        try:
            run.measure(broker)
        finally:
            run.close()
            shutil.rmtree(run.home, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Records a real kernel under load: every write and sync it makes to its database files (through
the iotrace.c shim), and every change it acknowledged, with the time its answer arrived.

    rec = record(binary, shim, workdir, durability="full", seconds=4.0)

leaves in `workdir`: `io.trace` (the shim's records), `changes.json` (the acknowledged changes and
the load window) and the kernel's stderr. Times are CLOCK_MONOTONIC in nanoseconds, the shim's clock.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def build_shim(out_path: str) -> str:
    """Compiles iotrace.c into a shared object at `out_path` (gcc)."""
    subprocess.run(
        ["gcc", "-O2", "-Wall", "-Werror", "-shared", "-fPIC", "-o", out_path, os.path.join(HERE, "iotrace.c"), "-ldl"],
        check=True,
    )
    return out_path


def config_toml(durability: str) -> str:
    # `remote` units are fetched and acked by the load; `parked` ones are never fetched, so a
    # cancel finds them pending and ends them at once. `scratch` jobs, with large payloads, are
    # acked and then removed by `clean`: the database frees pages, gives them back to the file
    # system (incremental vacuum) and shrinks at checkpoints.
    return f"""
[storage]
durability = "{durability}"

[types.remote]
mode = "async_api"
max_attempts = 3

[types.parked]
mode = "async_api"
max_attempts = 3

[types.scratch]
mode = "async_api"
max_attempts = 3
"""


def now_ns() -> int:
    return time.monotonic_ns()


class Connection:
    """A JSON-RPC connection to the kernel's socket that stamps each answer as it arrives."""

    def __init__(self, path: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1

    def send(self, calls):
        """Sends [(method, params)] in one write; returns their ids and the time they left."""
        ids, body = [], []
        for method, params in calls:
            ids.append(self.next_id)
            body.append(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}).encode() + b"\n")
            self.next_id += 1
        sent = now_ns()
        self.sock.sendall(b"".join(body))
        return ids, sent

    def replies(self, ids):
        """The answers to `ids` (any order on the wire), each with the time it arrived: {id: (msg, t)}."""
        want, got = set(ids), {}
        while want:
            while b"\n" not in self.buf:
                data = self.sock.recv(1 << 16)
                if not data:
                    raise ConnectionError("the kernel closed the connection")
                self.buf += data
            t = now_ns()
            *lines, self.buf = self.buf.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                msg = json.loads(line)
                if msg.get("id") in want:
                    want.discard(msg["id"])
                    got[msg["id"]] = (msg, t)
        return got

    def call(self, method, params):
        ids, sent = self.send([(method, params)])
        msg, t = self.replies(ids)[ids[0]]
        return msg, sent, t

    def close(self):
        self.sock.close()


def result(msg):
    """A reply's result; an error reply stops the load (none is expected)."""
    if "result" not in msg:
        raise RuntimeError(f"the kernel answered {msg}")
    return msg["result"]


class Load:
    """Three clients that change the store in bursts, as fast as a small window allows, and log
    each change the kernel acknowledged: (kind, key, sent_ns, answered_ns). Changes to `scratch`
    jobs are not logged: `clean` removes them. In the second pause, one batch larger than the
    store's page cache (`big_batch`)."""

    def __init__(self, sock_path: str, seconds: float, seed: int, big: bool = True):
        self.sock_path = sock_path
        self.big = big
        self.seed = seed
        self.seconds = seconds
        self.changes = []
        self.lock = threading.Lock()
        self.errors = []
        self.counter = 0

    def log(self, kind, key, sent, answered):
        with self.lock:
            self.changes.append((kind, key, sent, answered))

    def serial(self):
        with self.lock:
            self.counter += 1
            return self.counter

    def enqueuer(self, stop):
        c = Connection(self.sock_path)
        while self.busy(stop):
            calls = [("enqueue", {"type": "remote", "payload": {"n": self.serial()}}) for _ in range(12)]
            calls += [("enqueue", {"type": "scratch", "payload": {"pad": "x" * 3000}}) for _ in range(4)]
            ids, sent = c.send(calls)
            for i, (msg, t) in c.replies(ids).items():
                if result(msg)["job"]["type"] == "remote":
                    self.log("enqueue", msg["result"]["job"]["id"], sent, t)
            time.sleep(0.002)
        c.close()

    def worker(self, stop):
        c = Connection(self.sock_path)
        while self.busy(stop):
            msg, _, _ = c.call("fetch", {"types": ["remote", "scratch"], "max": 16, "wait_s": 0.5, "lease_s": 300})
            leases = result(msg)["leases"]
            if not leases:
                continue
            jobs = {}
            calls = []
            for lease in leases:
                calls.append(("ack", {"lease": lease["lease"], "result": {"job": lease["job"]["id"]}}))
            ids, sent = c.send(calls)
            for i, lease in zip(ids, leases):
                jobs[i] = lease["job"]["id"] if lease["job"]["type"] == "remote" else None
            for i, (msg, t) in c.replies(ids).items():
                result(msg)
                if jobs[i] is not None:
                    self.log("ack", jobs[i], sent, t)
        c.close()

    def chores(self, stop):
        c = Connection(self.sock_path)
        rounds = 0
        while self.busy(stop):
            msg, sent, t = c.call("enqueue", {"type": "parked", "payload": {"n": self.serial()}})
            job = result(msg)["job"]["id"]
            self.log("enqueue", job, sent, t)
            msg, sent, t = c.call("cancel", {"id": job})
            result(msg)
            self.log("cancel", job, sent, t)
            # a key of its own each time, so that its row proves this commit; only declared
            # workflow toggles exist, so a pause key (false: nothing is paused) it is
            key = f"paused.pc{self.serial()}"
            msg, sent, t = c.call("settings.set", {"key": key, "value": False})
            result(msg)
            self.log("setting", key, sent, t)
            if rounds % 25 == 0:
                result(c.call("clean", {"type": "scratch"})[0])
            rounds += 1
            time.sleep(0.005)
        c.close()

    def big_batch(self):
        """While the other clients pause: one enqueue of 100,000 items (about 15 MB of units,
        more than the store's 16 MB page cache holds, so the transaction spills pages into the WAL
        before its commit and SQLite rewrites frames it already wrote) batched with two small
        enqueues, then nothing for a while, so that a checkpoint syncs the WAL before any other
        write. What a commit leaves unwritten then shows."""
        c = Connection(self.sock_path)
        items = ["%0140d" % i for i in range(100_000)]
        calls = [("enqueue", {"type": "parked", "items": items}),
                 ("enqueue", {"type": "parked", "payload": {"n": self.serial()}}),
                 ("enqueue", {"type": "parked", "payload": {"n": self.serial()}})]
        ids, sent = c.send(calls)
        for i, (msg, t) in sorted(c.replies(ids).items()):
            self.log("enqueue", result(msg)["job"]["id"], sent, t)
        c.close()

    def busy(self, stop):
        """Waits out a pause; False once the load is over."""
        while not stop.is_set():
            if self.active.wait(0.05):
                return True
        return False

    def run(self):
        # Bursts and pauses: a checkpoint that falls in a pause copies the whole WAL back, and the
        # next commit then starts the WAL again from its beginning, overwriting old frames. Under
        # unbroken load each checkpoint chases new frames and the WAL may never start again.
        rng = random.Random(self.seed)
        self.active = threading.Event()
        self.active.set()
        stop = threading.Event()
        threads = []
        for target in (self.enqueuer, self.worker, self.chores):
            def guarded(target=target):
                try:
                    target(stop)
                except Exception as e:  # noqa: BLE001 - reported by the recorder
                    self.errors.append(f"{target.__name__}: {e!r}")
                    stop.set()
            threads.append(threading.Thread(target=guarded, daemon=True))
        start = now_ns()
        for t in threads:
            t.start()
        end = time.monotonic() + self.seconds
        phase = 0
        while time.monotonic() < end and not stop.is_set():
            time.sleep(max(0.0, min(end - time.monotonic(), rng.uniform(0.3, 1.2))))
            self.active.clear()
            if phase == 1 and self.big:
                time.sleep(0.1)  # the others' requests in flight are answered
                self.big_batch()
                time.sleep(1.3)  # a checkpoint comes before any other write
                end += 1.3
            time.sleep(max(0.0, min(end - time.monotonic(), rng.uniform(0.3, 1.5))))
            self.active.set()
            phase += 1
        stop.set()
        for t in threads:
            t.join(30)
        return start, now_ns()


def wait_for_socket(path, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def record(binary: str, shim: str, workdir: str, durability: str, seconds: float, seed: int = 0) -> dict:
    """Runs a kernel on a new database in `workdir` under the shim with load for `seconds`, then
    stops it with SIGTERM (its shutdown is recorded too). Returns what changes.json holds: the
    acknowledged changes, the load's start and end and the time the kernel was seen gone.
    Whatever `workdir` held is removed first."""
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    db = os.path.join(workdir, "jobs.db")
    sock = os.path.join(workdir, "k.sock")
    trace = os.path.join(workdir, "io.trace")
    cfg = os.path.join(workdir, "jobkernel.toml")
    with open(cfg, "w") as f:
        f.write(config_toml(durability))
    env = dict(os.environ, LD_PRELOAD=shim, PC_TRACE=trace, PC_DB=db, JOBKERNEL_HOME=workdir, HOME=workdir)
    env.pop("JOBKERNEL_SOCKET", None)
    with open(os.path.join(workdir, "kernel.stderr"), "wb") as err:
        proc = subprocess.Popen([binary, "serve", "--db", db, "--socket", sock, "--config", cfg],
                                stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env, cwd=workdir)
    try:
        if not wait_for_socket(sock, proc):
            raise RuntimeError(f"the recorded kernel did not start; see {workdir}/kernel.stderr")
        load = Load(sock, seconds, seed)
        start, end = load.run()
        if load.errors:
            raise RuntimeError(f"the load failed: {load.errors}")
        if proc.poll() is not None:
            raise RuntimeError(f"the recorded kernel exited {proc.returncode} under load")
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
        exited = now_ns()
        if rc != 0:
            raise RuntimeError(f"the recorded kernel exited {rc} after SIGTERM; see {workdir}/kernel.stderr")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    if not os.path.getsize(trace):
        raise RuntimeError(f"the shim recorded nothing in {trace}")
    rec = {"durability": durability, "load_start": start, "load_end": end, "exited": exited, "changes": load.changes}
    with open(os.path.join(workdir, "changes.json"), "w") as f:
        json.dump(rec, f)
    return rec

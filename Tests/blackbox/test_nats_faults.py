"""NATS under faults (protocol/nats.md, "When the server is away"): under load, with remote nats-py
workers, a nats-server that is killed (-9) and restarted on the same store, or cut off (stopped with
SIGSTOP, or behind a proxy that stops forwarding) for longer than the workers' ack wait, loses no
acknowledged job and runs no job to success twice, and the kernel says in `stats` and in its log
that the broker is away. A server back on an empty store loses no acknowledged job either.

Each worker process appends one line per result the server stored ("reported success") to a shared
file, so the test can count, per job, the runs that reported success and the leases they ran under.

Run as a script this file is that worker (see `worker_main`)."""
import asyncio
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

import jk

ACK_WAIT_S = 2.0  # the workers' consumer ack wait; the cut below lasts longer


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NatsServer:
    """A nats-server -js on loopback that can be killed, restarted on the same port and store,
    stopped and continued."""

    def __init__(self):
        self.port = free_port()
        self.store = tempfile.mkdtemp(prefix="jknatsfault-")
        self.proc = None
        self.start()

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def start(self):
        self.proc = subprocess.Popen(["nats-server", "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", self.store],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        jk.wait_for(self.listening, timeout=10, what="nats-server listening")

    def listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def wipe(self):
        """Empties the store directory, as a server brought back without its volume would find it."""
        shutil.rmtree(self.store)
        os.mkdir(self.store)

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.store, ignore_errors=True)


@pytest.fixture
def nats_server():
    server = NatsServer()
    yield server
    server.close()


@pytest.fixture
def workers(nats_server, tmp_path):
    """Starts `count` worker processes of type `remote`; returns the path of their shared report file."""
    procs = []
    reports = tmp_path / "reports.ndjson"

    def start(count, url=None):
        for _ in range(count):
            procs.append(subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--url", url or nats_server.url, "--reports", str(reports),
                 "--ack-wait", str(ACK_WAIT_S), "--concurrency", "4"],
                stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"worker{len(procs)}.err", "w")))
        return reports

    yield start
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Cut:
    """A TCP proxy on loopback in front of nats-server: `cut()` stops it forwarding anything, as a
    network partition would (connections stay open, bytes wait, new connections get no answer),
    `restore()` lets everything through again."""

    def __init__(self, upstream_port):
        self.upstream = ("127.0.0.1", upstream_port)
        self.open = threading.Event()
        self.open.set()
        self.closed = False
        self.sockets = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client):
        self.open.wait()
        try:
            server = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        self.sockets += [client, server]
        threading.Thread(target=self.pump, args=(server, client), daemon=True).start()
        self.pump(client, server)

    def pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                self.open.wait()  # a chunk read as the cut began waits for the end of the cut
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.open.clear()

    def restore(self):
        self.open.set()

    def close(self):
        self.closed = True
        self.open.set()
        self.listener.close()
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass


def config(url, extra=""):
    return f'[broker]\nkind = "nats"\nurl = "{url}"\n\n[types.remote]\nmode = "async_api"\nmax_attempts = 3\n{extra}'


class Load:
    """Enqueues `remote` jobs from a thread of its own until stopped; `acked` holds the ids the
    kernel acknowledged."""

    def __init__(self, kernel, interval=0.01):
        self.client = kernel.client()
        self.interval = interval
        self.acked = []
        self.errors = []
        self.waits = []  # (when sent, how long it waited for its answer), one per enqueue answered
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        n = 0
        while not self.stopping.is_set():
            try:
                started = time.monotonic()
                job = self.client.call("enqueue", {"type": "remote", "payload": {"n": n}}, timeout=30)["job"]
                self.waits.append((started, time.monotonic() - started))
                self.acked.append(job["id"])
            except Exception as error:  # an enqueue that failed was not acknowledged: not counted
                self.errors.append(repr(error))
            n += 1
            time.sleep(self.interval)

    def slowest_s(self, since=0.0):
        """The longest an enqueue sent at `since` (time.monotonic()) or later waited for its answer."""
        return max((waited for sent, waited in list(self.waits) if sent >= since), default=0.0)

    def stop(self):
        self.stopping.set()
        self.thread.join(40)
        assert not self.thread.is_alive()


def broker_stats(kernel):
    return kernel.client().call("stats", timeout=30)["broker"]


def wait_all_done(c, ids, timeout):
    """Waits (the load stopped) until the kernel has no open job left; returns {id: status}."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = c.call("stats")["jobs"]
        if jobs["pending"] + jobs["running"] + jobs["scheduled"] == 0:
            break
        time.sleep(0.2)
    return {i: c.call("get", {"id": i})["status"] for i in ids}


def recorded_successes(kernel):
    """job id -> how many `job.status` events the kernel recorded with `to: success`, from seq 1."""
    s = kernel.client()
    top = s.call("subscribe", {"since": 0})["seq"]
    events = s.events_until(lambda e: e["seq"] >= top, timeout=30) if top else []
    assert [e["seq"] for e in events] == list(range(1, top + 1))  # gap-free
    counts = {}
    for e in events:
        if e["kind"] == "job.status" and e["data"]["to"] == "success":
            counts[e["job_id"]] = counts.get(e["job_id"], 0) + 1
    return counts


def worker_reports(path):
    """job id -> [lease of each run whose success the server stored]."""
    runs = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                runs.setdefault(r["job"], []).append(r["lease"])
    return runs


def check_promises(kernel, load, reports_path, away_s, label, store_lost=False):
    """Nothing acknowledged lost, nothing run to success twice, each outcome recorded once. When the
    server lost its store (`store_lost`), a run whose result the server lost runs again under a new
    lease: then only loss and the kernel's single record are checked."""
    c = kernel.client()
    acked = load.acked
    # A result the kernel was receiving as the connection went comes back after its consumer's ack
    # wait (30 s, protocol/nats.md): the wait allows two of those. (A CI run once found 63 jobs
    # still running after 45 s; 30 runs since, alone and beside other load, all finished within 30 s.)
    statuses = wait_all_done(c, acked, timeout=75)
    lost = sorted(i for i, s in statuses.items() if s != "success")
    if lost:
        # What the next engineer needs to tell a slow redelivery from a unit nobody will run again.
        print(f"\nbroker: {broker_stats(kernel)}\nfirst job still open: {c.call('get', {'id': lost[0]})}"
              f"\nworkers: {c.call('workers', {})}")
    runs = worker_reports(reports_path)
    twice = sorted(i for i in acked if len(set(runs.get(i, []))) > 1)
    redelivered = sum(len(leases) - 1 for leases in runs.values())
    recorded = recorded_successes(kernel)
    recorded_twice = sorted(i for i, n in recorded.items() if n > 1)
    print(f"\n{label}: {len(acked)} jobs acknowledged, {len(lost)} lost, {len(twice)} run to success twice "
          f"(under two leases), {redelivered} redelivered runs of one lease, broker away {away_s:.1f} s, "
          f"slowest enqueue {load.slowest_s():.2f} s")
    assert not lost, f"acknowledged jobs that did not end success: {[(i, statuses[i]) for i in lost[:20]]}"
    assert store_lost or not twice, f"jobs run to success under two leases: {[(i, runs[i]) for i in twice[:20]]}"
    assert not recorded_twice, f"jobs whose success the kernel recorded twice: {recorded_twice[:20]}"
    assert all(recorded.get(i) == 1 for i in acked)
    # Every success the kernel recorded was a run a worker reported.
    assert all(runs.get(i) for i in acked)


def wait_broker(kernel, connected, timeout):
    return jk.wait_for(lambda: (b := broker_stats(kernel))["connected"] == connected and b, timeout=timeout,
                       what=f"stats.broker.connected == {connected}")


def test_kill9_and_restart_of_nats_server_under_load_loses_nothing_and_runs_nothing_twice(
        kernel_factory, nats_server, workers):
    k = kernel_factory(config(nats_server.url))
    reports = workers(2)
    first = broker_stats(k)
    assert first["kind"] == "nats" and first["connected"] is True and first["disconnects"] == 0
    load = Load(k)
    time.sleep(3)
    assert load.acked, load.errors
    nats_server.kill9()
    gone = time.monotonic()
    away = wait_broker(k, False, timeout=15)
    assert away["disconnects"] == 1
    since = datetime.datetime.fromisoformat(away["since"].replace("Z", "+00:00"))
    assert abs((datetime.datetime.now(datetime.timezone.utc) - since).total_seconds()) < 20
    jk.wait_for(lambda: "is away (" in k.stderr_text(), timeout=5, what="a log line saying the broker is away")
    time.sleep(2)  # jobs keep coming while the broker is away
    acked_while_away = len(load.acked)
    nats_server.start()
    back = wait_broker(k, True, timeout=20)
    away_s = time.monotonic() - gone
    assert back["disconnects"] == 1
    jk.wait_for(lambda: "is back after" in k.stderr_text(), timeout=5, what="a log line saying the broker is back")
    time.sleep(2)
    load.stop()
    assert len(load.acked) > acked_while_away
    assert not load.errors, load.errors[:5]
    check_promises(k, load, reports, away_s, "kill -9 and restart")
    assert broker_stats(k)["unconfirmed_units"] == 0


@pytest.mark.parametrize("how", ["sigstop", "network"])
def test_nats_server_cut_off_longer_than_the_ack_wait_loses_nothing_and_runs_nothing_twice(
        kernel_factory, nats_server, workers, how, request):
    """`sigstop` stops the server process; `network` leaves it running behind a proxy that stops
    forwarding, so the server's own clocks (ack wait, redelivery) go on meanwhile."""
    proxy = Cut(nats_server.port) if how == "network" else None
    if proxy:
        request.addfinalizer(proxy.close)
    url = proxy.url if proxy else nats_server.url
    k = kernel_factory(config(url))
    reports = workers(2, url)
    load = Load(k)
    time.sleep(3)
    assert load.acked, load.errors
    if proxy:
        proxy.cut()
    else:
        nats_server.pause()
    cut = time.monotonic()
    try:
        # The TCP connection stays open: only unanswered pings tell the kernel.
        away = wait_broker(k, False, timeout=20)
        assert away["disconnects"] == 1
        jk.wait_for(lambda: "is away (" in k.stderr_text(), timeout=5, what="a log line saying the broker is away")
        noticed = time.monotonic()
        # Longer than the ack wait: units the workers had in hand come back to them afterwards.
        # And long enough after the kernel noticed to see that clients no longer wait on the broker.
        while time.monotonic() - cut < ACK_WAIT_S * 3 or time.monotonic() - noticed < 3:
            time.sleep(0.2)
        # libnats keeps trying to reconnect meanwhile; nothing of the kernel's waits for that.
        waited_while_away = load.slowest_s(since=noticed + 0.5)
        assert waited_while_away < 1.0, f"an enqueue waited {waited_while_away:.2f} s while the broker was away"
    finally:
        if proxy:
            proxy.restore()
        else:
            nats_server.resume()
    back = wait_broker(k, True, timeout=20)
    away_s = time.monotonic() - cut
    assert back["disconnects"] == 1 and back["since"] > away["since"]
    jk.wait_for(lambda: "is back after" in k.stderr_text(), timeout=5, what="a log line saying the broker is back")
    time.sleep(2)
    load.stop()
    assert not load.errors, load.errors[:5]
    check_promises(k, load, reports, away_s, f"cut off ({how}) for longer than the ack wait")
    assert broker_stats(k)["unconfirmed_units"] == 0


def test_repeated_kills_and_cuts_are_each_counted_and_lose_nothing(kernel_factory, nats_server, workers):
    k = kernel_factory(config(nats_server.url))
    reports = workers(2)
    load = Load(k)
    away_s = 0.0
    faults = ["kill", "stop", "kill", "stop"]
    for n, fault in enumerate(faults, start=1):
        time.sleep(1.5)
        went = time.monotonic()
        if fault == "kill":
            nats_server.kill9()
        else:
            nats_server.pause()
        try:
            away = wait_broker(k, False, timeout=20)
            assert away["disconnects"] == n
        finally:
            if fault == "kill":
                nats_server.start()
            else:
                nats_server.resume()
        back = wait_broker(k, True, timeout=20)
        assert back["disconnects"] == n
        away_s += time.monotonic() - went
    time.sleep(1.5)
    load.stop()
    assert not load.errors, load.errors[:5]
    log = k.stderr_text()
    assert log.count("is away (") == len(faults) and log.count("is back after") == len(faults), log[-3000:]
    check_promises(k, load, reports, away_s, f"{len(faults)} faults in a row (kill -9, SIGSTOP, ...)")


def test_nats_server_back_without_its_store_gets_its_streams_again_and_loses_no_job(
        kernel_factory, nats_server, workers):
    # A short timeout: the leases of units the server lost expire, and the units go out again.
    k = kernel_factory(config(nats_server.url, 'timeout = "5s"\n').replace(
        "[types.remote]", '[pipeline]\nbackoff_base = "100ms"\nbackoff_max = "200ms"\n\n[types.remote]'))
    reports = workers(2)
    load = Load(k)
    time.sleep(3)
    nats_server.kill9()
    gone = time.monotonic()
    wait_broker(k, False, timeout=15)
    nats_server.wipe()
    nats_server.start()
    wait_broker(k, True, timeout=20)
    away_s = time.monotonic() - gone
    time.sleep(2)
    load.stop()
    assert not load.errors, load.errors[:5]
    check_promises(k, load, reports, away_s, "kill -9 and restart on an empty store", store_lost=True)


def test_stats_names_the_embedded_broker(kernel):
    assert kernel.client().call("stats")["broker"] == {"kind": "embedded"}


# The worker ------------------------------------------------------------------------------------

async def worker_main(url, reports, ack_wait, concurrency):
    """A remote worker that rides out a server that goes away: it retries a result's publish (same
    Nats-Msg-Id, so it is stored once) until the server stores it, records that, then acks the unit."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url, name="fault-worker", max_reconnect_attempts=-1, reconnect_time_wait=0.2,
                            connect_timeout=1, ping_interval=1, max_outstanding_pings=2)
    js = nc.jetstream(timeout=1)

    async def subscribe():
        """Binds to the durable consumer, creating it (and waiting for the kernel's stream) if need be."""
        while True:
            try:
                return await js.pull_subscribe(
                    "jobkernel.units.remote", durable="worker-remote", stream="JOBKERNEL",
                    config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=ack_wait, max_deliver=-1,
                                          max_ack_pending=1000))
            except Exception:
                await asyncio.sleep(0.2)

    sub = await subscribe()
    out = open(reports, "a", buffering=1)

    async def process(msg):
        unit = json.loads(msg.data)
        lease, job = unit["lease"], unit["job"]["id"]
        expires = datetime.datetime.fromisoformat(unit["expires_at"].replace("Z", "+00:00"))
        if expires > datetime.datetime.now(datetime.timezone.utc):
            await asyncio.sleep(0.02)  # the work
            report = json.dumps({"lease": lease, "status": "success", "result": {"job": job}}).encode()
            while True:
                try:
                    await js.publish("jobkernel.results", report, headers={"Nats-Msg-Id": lease}, timeout=1)
                    break
                except Exception:
                    await asyncio.sleep(0.2)
            out.write(json.dumps({"job": job, "lease": lease, "pid": os.getpid()}) + "\n")
        try:
            await msg.ack()
        except Exception:
            pass  # redelivered after the ack wait; its second result carries the same lease

    idle = 0
    while True:
        try:
            msgs = await sub.fetch(concurrency, timeout=1)
            idle = 0
        except Exception:
            # A server back without its store has lost this consumer: look for it now and then.
            idle += 1
            if idle % 3 == 0:
                try:
                    await js.consumer_info("JOBKERNEL", "worker-remote")
                except NotFoundError:
                    await sub.unsubscribe()
                    sub = await subscribe()
                except Exception:
                    pass
            await asyncio.sleep(0.05)
            continue
        await asyncio.gather(*(process(m) for m in msgs))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--reports", required=True)
    parser.add_argument("--ack-wait", type=float, default=ACK_WAIT_S)
    parser.add_argument("--concurrency", type=int, default=4)
    a = parser.parse_args()
    asyncio.run(worker_main(a.url, a.reports, a.ack_wait, a.concurrency))

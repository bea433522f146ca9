"""async_api over NATS JetStream (protocol/nats.md) against a real nats-server -js that
each test starts on loopback, with the example worker (examples/nats-worker) as the remote side."""
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

import jk
from jk import enqueue, wait_status

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(REPO, "examples", "nats-worker", "worker.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def nats_url():
    port = free_port()
    store = tempfile.mkdtemp(prefix="jknats-")
    proc = subprocess.Popen(["nats-server", "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"nats://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    shutil.rmtree(store, ignore_errors=True)


def config(url):
    return f'[broker]\nkind = "nats"\nurl = "{url}"\n\n[types.remote]\nmode = "async_api"\nmax_attempts = 2\n'


@pytest.fixture
def worker(nats_url):
    procs = []

    def start():
        p = subprocess.Popen([sys.executable, WORKER, "--url", nats_url, "--type", "remote", "--concurrency", "4"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()


def test_units_published_to_jetstream_are_worked_and_recorded(kernel_factory, nats_url, worker):
    k = kernel_factory(config(nats_url))
    c = k.client()
    jobs = [enqueue(c, "remote", payload={"n": i}) for i in range(5)]
    items = enqueue(c, "remote", payload={}, items=["a", "b", "c"])
    worker()
    for j in jobs:
        done = wait_status(c, j["id"], {"success", "failed"}, timeout=20)
        assert done["status"] == "success" and done["result"] == {"echo": {"n": int(done["payload"]["n"])}}
        assert done["attempt"] == 1
    done = wait_status(c, items["id"], {"success", "failed", "partial_success"}, timeout=20)
    assert done["status"] == "success" and done["items"]["success"] == 3
    lines = [l["message"] for l in c.call("logs", {"id": jobs[0]["id"]})["lines"]]
    assert any("attempt 1" in m for m in lines)  # the worker's log line came back over jobkernel.progress


def test_failed_results_retry_and_permanent_failures_fail(kernel_factory, nats_url, worker):
    k = kernel_factory(config(nats_url).replace('[types.remote]', '[pipeline]\nbackoff_base = "100ms"\nbackoff_max = "200ms"\n\n[types.remote]'))
    c = k.client()
    retried = enqueue(c, "remote", payload={"fail": "flaky"})
    permanent = enqueue(c, "remote", payload={"fail": "broken", "retryable": False})
    worker()
    d = wait_status(c, retried["id"], {"failed"}, timeout=20)
    assert d["attempt"] == 2 and d["error"]["message"] == "flaky"
    d = wait_status(c, permanent["id"], {"failed"}, timeout=20)
    assert d["attempt"] == 1 and d["error"]["message"] == "broken"


async def take_one_unit(nats_url):
    """Connects as a JetStream worker of type `remote` and pulls one unit: (connection, context, message)."""
    import nats as natspy

    nc = await natspy.connect(nats_url)
    js = nc.jetstream()
    sub = await js.pull_subscribe("jobkernel.units.remote", durable="test-worker", stream="JOBKERNEL")
    msgs = await sub.fetch(1, timeout=10)
    return nc, js, msgs[0]


def test_a_duplicate_result_is_recorded_once(kernel_factory, nats_url):
    k = kernel_factory(config(nats_url))
    c = k.client()
    job = enqueue(c, "remote", payload={"x": 1})

    async def play():
        nc, js, msg = await take_one_unit(nats_url)
        unit = json.loads(msg.data)
        first = {"lease": unit["lease"], "status": "success", "result": "first"}
        second = {"lease": unit["lease"], "status": "failed", "error": {"message": "late duplicate"}}
        await js.publish("jobkernel.results", json.dumps(first).encode())
        await js.publish("jobkernel.results", json.dumps(second).encode())
        await msg.ack()
        await nc.drain()
        return unit

    unit = asyncio.run(play())
    assert unit["job"]["id"] == job["id"] and unit["attempt"] == 1
    done = wait_status(c, job["id"], {"success", "failed"}, timeout=10)
    time.sleep(0.5)
    done = c.call("get", {"id": job["id"]})
    assert done["status"] == "success" and done["result"] == "first"


def test_an_unreachable_nats_server_stops_the_kernel_with_a_clear_message(kernel_factory):
    k = kernel_factory(config(f"nats://127.0.0.1:{free_port()}"), start=False)
    k.spawn()
    code = k.wait_exit(15)
    assert code == 1
    assert "nats" in k.stderr_text().lower()


def test_results_and_reports_out_of_range_are_logged_and_ignored(kernel_factory, nats_url):
    """protocol/nats.md, "Messages that do not fit": a malformed message on jobkernel.results or
    jobkernel.progress is rejected with a log line, never recorded as an outcome and never a crash;
    the good result that follows counts."""
    k = kernel_factory(config(nats_url))
    c = k.client()
    job = enqueue(c, "remote", payload={"x": 1})

    async def play():
        nc, js, msg = await take_one_unit(nats_url)
        lease = json.loads(msg.data)["lease"]
        for bad in [{"lease": lease, "progress": {"current": 1e308}}, {"lease": lease, "progress": {"total": -1}},
                    {"lease": lease, "log": 5}, {"lease": lease, "log": "x", "level": "loud"}, {"lease": 7}]:
            await nc.publish("jobkernel.progress", json.dumps(bad).encode())
        await nc.flush()
        for bad in [b"not json", b"[1]", json.dumps({"lease": 5, "status": "success"}).encode(),
                    json.dumps({"lease": lease, "status": "done"}).encode(), json.dumps({"lease": lease}).encode(),
                    json.dumps({"lease": lease, "status": "failed", "error": 5}).encode()]:
            await js.publish("jobkernel.results", bad)
        await js.publish("jobkernel.results", json.dumps({"lease": lease, "status": "success", "result": "ok"}).encode())
        await msg.ack()
        await nc.drain()

    asyncio.run(play())
    done = wait_status(c, job["id"], {"success", "failed"}, timeout=10)
    assert done["status"] == "success" and done["result"] == "ok", done
    assert done["attempt"] == 1
    jk.wait_for(lambda: k.stderr_text().count("ignoring a message on jobkernel.progress") >= 5, timeout=5,
                what="a log line for each bad progress message")
    assert k.stderr_text().count("ignoring a message on jobkernel.results") >= 6, k.stderr_text()[-3000:]
    assert k.running() and "jobs" in k.client().call("stats")

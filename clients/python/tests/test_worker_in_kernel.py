"""The persistent-worker helper run by a real kernel's pool (mode internal, `worker = [...]`)."""

import json
import sys
import time

import pytest

import jobkernel

from conftest import HERE

WORKER = str(HERE / "workers" / "demo_worker.py")


@pytest.fixture
def pool_kernel(make_kernel):
    cfg = '[types.pyworker]\nmode = "internal"\nworker = %s\nmax_attempts = 2\n' % json.dumps([sys.executable, WORKER])
    cfg += '\n[pools]\ninternal = 1\n'
    return make_kernel(cfg, name="pool")


def test_worker_runs_under_the_kernel(pool_kernel):
    with pool_kernel.client() as c:
        job = c.enqueue("pyworker", {"action": "echo", "v": 1})
        final = job.wait(30)
        assert final["status"] == "success", final
        assert final["result"] == {"payload": {"action": "echo", "v": 1}, "item": None}

        prog = c.enqueue("pyworker", {"action": "progress"})
        final = prog.wait(30)
        assert final["status"] == "success", final
        assert final["progress"]["phase"] == "half" and final["progress"]["percent"] == 50.0
        assert "module-level log" in [l["message"] for l in c.logs(prog.id)["lines"]]

        printed = c.enqueue("pyworker", {"action": "print"})
        assert printed.wait(30)["status"] == "success"
        messages = [l["message"] for l in c.logs(printed.id)["lines"]]
        assert "this goes to stderr, not the protocol" in messages

        items = c.enqueue("pyworker", {"action": "echo"}, items=["a", "b"])
        final = items.wait(30)
        assert final["status"] == "success" and final["items"]["success"] == 2


def test_worker_failures_under_the_kernel(pool_kernel):
    with pool_kernel.client() as c:
        perm = c.enqueue("pyworker", {"action": "permanent"})
        final = perm.wait(30)
        assert final["status"] == "failed" and final["attempt"] == 1, final
        assert "bad input" in final["error"]["message"]
        flaky = c.enqueue("pyworker", {"action": "fail"})
        final = flaky.wait(30)
        assert final["status"] == "failed" and final["attempt"] == 2, final  # retried once


def test_worker_cancel_under_the_kernel(pool_kernel):
    with pool_kernel.client() as c:
        job = c.enqueue("pyworker", {"action": "wait_cancel"})
        deadline = time.monotonic() + 20
        while c.get(job.id)["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        c.cancel(job.id)
        final = job.wait(20)
        assert final["status"] == "cancelled", final
        # the worker is free again
        again = c.enqueue("pyworker", {"action": "echo"})
        assert again.wait(30)["status"] == "success"

"""docs/promises.md §13, `parallel` for async_api types: a `fetch` never leases more units of a
type than its concurrency in force (`parallel {type, max}`, else the config's `concurrency`) less
the units of that type leased now. A lease that ends (ack, nack, expiry) frees its slot, which a
waiting `fetch` then gets; raising the cap serves a waiting `fetch` at once. On the real binary
over its socket."""

import jk
from jk import enqueue, wait_status

CONFIG = jk.BASE_CONFIG + """
[types.capped]
mode = "async_api"
concurrency = 1
"""


def leases(c, types=("remote",), max=10, **kw):
    return c.call("fetch", {"types": list(types), "max": max, **kw}, timeout=kw.get("wait_s", 0) + 10)["leases"]


def test_a_fetch_leases_no_more_than_the_cap_less_the_units_out(kernel_factory):
    c = kernel_factory(CONFIG).client()
    c.call("parallel", {"type": "remote", "max": 2})
    jobs = [enqueue(c)["id"] for _ in range(5)]
    first = leases(c, max=10)
    assert [lease["job"]["id"] for lease in first] == jobs[:2]
    # The cap counts the units out, not the fetch: a second fetch gets nothing while both are out.
    assert leases(c, max=10) == []
    c.call("ack", {"lease": first[0]["lease"], "result": {"ok": True}})
    second = leases(c, max=10)
    assert [lease["job"]["id"] for lease in second] == [jobs[2]]
    # A nack frees its slot too.
    c.call("nack", {"lease": first[1]["lease"], "error": "boom", "retryable": False})
    assert [lease["job"]["id"] for lease in leases(c, max=10)] == [jobs[3]]
    assert leases(c, max=10) == []
    stats = c.call("stats")["types"]["remote"]
    assert stats["concurrency"] == 2 and stats["running"] == 2 and stats["pending"] == 1


def test_a_waiting_fetch_gets_the_slot_a_lease_frees(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    c.call("parallel", {"type": "remote", "max": 1})
    a, b = enqueue(c)["id"], enqueue(c)["id"]
    held = leases(c)
    assert [lease["job"]["id"] for lease in held] == [a]
    worker = k.client()
    waiting = worker.request("fetch", {"types": ["remote"], "max": 5, "wait_s": 30})
    worker.assert_silent(0.3)  # b is ready, but the one slot is taken: the fetch waits
    c.call("ack", {"lease": held[0]["lease"]})
    got = jk.Client.unwrap(worker.wait_response(waiting, timeout=15))["leases"]
    assert [lease["job"]["id"] for lease in got] == [b]
    wait_status(c, a, {"success"})


def test_raising_the_cap_serves_a_waiting_fetch_and_lowering_it_stops_nothing(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    c.call("parallel", {"type": "remote", "max": 2})
    jobs = [enqueue(c)["id"] for _ in range(4)]
    held = leases(c)
    assert len(held) == 2
    # Lowered below what is out: the leases out keep running, and nothing more is leased.
    c.call("parallel", {"type": "remote", "max": 1})
    c.call("ack", {"lease": held[0]["lease"]})
    assert leases(c) == []
    worker = k.client()
    waiting = worker.request("fetch", {"types": ["remote"], "max": 5, "wait_s": 30})
    worker.assert_silent(0.3)
    c.call("parallel", {"type": "remote", "max": 3})
    got = jk.Client.unwrap(worker.wait_response(waiting, timeout=15))["leases"]
    assert [lease["job"]["id"] for lease in got] == jobs[2:4]
    # null returns to the config's value: none for `remote`, so nothing caps it.
    c.call("parallel", {"type": "remote", "max": None})
    enqueue(c)
    enqueue(c)
    assert len(leases(c)) == 2


def test_the_configured_concurrency_caps_fetch_and_other_types_are_not_held_back(kernel_factory):
    c = kernel_factory(CONFIG).client()
    capped = [enqueue(c, type="capped")["id"] for _ in range(3)]
    free = [enqueue(c, type="remote2")["id"] for _ in range(3)]
    got = leases(c, types=["capped", "remote2"], max=10)
    assert sorted(lease["job"]["id"] for lease in got) == sorted(capped[:1] + free)


def test_an_expired_lease_frees_its_slot(kernel_factory):
    c = kernel_factory(CONFIG).client()
    c.call("parallel", {"type": "remote", "max": 1})
    a, b = enqueue(c)["id"], enqueue(c)["id"]
    first = leases(c, lease_s=1)
    assert [lease["job"]["id"] for lease in first] == [a]
    # Its lease runs out after 1 s: the slot serves the fetch that waits meanwhile (with a's unit,
    # back in its queue and older than b's), once, under a new lease.
    got = leases(c, wait_s=20)
    assert len(got) == 1 and got[0]["job"]["id"] in (a, b) and got[0]["lease"] != first[0]["lease"]
    assert leases(c) == []


# -- NATS: the kernel publishes no more units of a type than its cap leaves room for

from test_nats import config as nats_config, nats_url, worker  # noqa: E402,F401 (fixtures)


def test_over_nats_no_more_units_are_out_than_the_cap(kernel_factory, nats_url, worker):
    k = kernel_factory(nats_config(nats_url).replace('mode = "async_api"', 'mode = "async_api"\nconcurrency = 2'))
    c = k.client()
    watch = k.client()
    watch.call("subscribe", {"kinds": ["job.status"]})
    jobs = [enqueue(c, "remote", payload={"n": i})["id"] for i in range(6)]
    worker()  # takes up to 4 at once: the cap, not the worker, holds it to 2
    running, most, done = set(), 0, set()
    while done != set(jobs):
        ev = watch.next_event(timeout=30)
        if ev["data"]["to"] == "running":
            running.add(ev["job_id"])
        else:
            running.discard(ev["job_id"])
        if ev["data"]["to"] == "success":
            done.add(ev["job_id"])
        most = max(most, len(running))
    assert most == 2

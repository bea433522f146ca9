"""The ready queues read from the store a window at a time, and a clean stop leaves the job counts
for the next start (docs/architecture.md, "The ready queues"). The window is set to 16 jobs here
(JOBKERNEL_QUEUE_WINDOW), so a hundred pending jobs cross its edge many times: the order of
docs/promises.md §8.1 (higher priority first, then the older job) must hold across every edge,
across new jobs that land before and after the edge, and across clean and kill -9 restarts."""

import sqlite3

import pytest

import jk

WINDOW = 16


@pytest.fixture
def windowed(kernel_factory, monkeypatch):
    monkeypatch.setenv("JOBKERNEL_QUEUE_WINDOW", str(WINDOW))
    return kernel_factory(jk.BASE_CONFIG)


class Queue:
    """The kernel's queue as the promises define it: the pending jobs, best first."""

    def __init__(self):
        self.pending = {}  # id -> priority

    def add(self, job):
        self.pending[job["id"]] = job["priority"]

    def take_next(self, job_id):
        best = min(self.pending, key=lambda i: (-self.pending[i], int(i)))
        assert job_id == best, (f"fetch gave job {job_id} (priority {self.pending.get(job_id)}) "
                                f"but job {best} (priority {self.pending[best]}) comes first")
        del self.pending[job_id]


def take(c, q, n, batch=1):
    """Fetches n jobs in batches, checks each against the queue's order, acks them."""
    taken = 0
    while taken < n:
        leases = jk.fetch(c, ("remote",), max=min(batch, n - taken), wait_s=5)
        assert leases, f"no lease after {taken} of {n}; {len(q.pending)} still pending"
        for lease in leases:
            q.take_next(lease["job"]["id"])
            c.call("ack", {"lease": lease["lease"]})
        taken += len(leases)


def test_the_order_holds_across_window_edges_new_jobs_and_restarts(windowed):
    k = windowed
    c = k.client()
    q = Queue()
    # 100 jobs: most at the default priority, some higher and lower, spread over the ids.
    for i in range(100):
        prio = 90 if i % 17 == 5 else 10 if i % 11 == 3 else 50
        q.add(jk.enqueue(c, payload={"i": i}, priority=prio))
    take(c, q, 10)

    # A clean restart: the queue is read again from the store, a window at a time.
    k.restart()
    c = k.client()
    take(c, q, 20, batch=7)

    # New jobs: at the default priority they land beyond the window's edge (in the store only),
    # a higher one lands before it and must come next.
    for i in range(30):
        q.add(jk.enqueue(c, payload={"late": i}))
    q.add(jk.enqueue(c, payload={"urgent": True}, priority=95))
    take(c, q, 25, batch=5)

    # kill -9: no clean stop is recorded, the next start counts the store.
    k.restart(kill9=True)
    c = k.client()
    for i in range(5):
        q.add(jk.enqueue(c, payload={"after-kill": i}, priority=60))
    take(c, q, len(q.pending), batch=3)
    assert not q.pending
    assert jk.fetch(c, ("remote",), wait_s=0) == []
    stats = c.call("stats")
    assert stats["jobs"]["pending"] == 0 and stats["jobs"]["success"] == 136


def test_a_job_beyond_the_window_is_reported_pending_and_cancelled_ones_are_skipped(windowed):
    c = windowed.client()
    ids = [jk.enqueue(c, payload={"i": i})["id"] for i in range(3 * WINDOW)]
    # Cancel jobs beyond the first window: reading further must skip them.
    for jid in ids[WINDOW:2 * WINDOW]:
        c.call("cancel", {"id": jid})
    far = c.call("get", {"id": ids[-1]})
    assert far["status"] == "pending"
    assert far["waiting"]["reason"] == "pool_full"
    got = []
    while len(got) < 2 * WINDOW:
        leases = jk.fetch(c, ("remote",), max=10, wait_s=5)
        assert leases, f"stalled after {len(got)}"
        for lease in leases:
            got.append(lease["job"]["id"])
            c.call("ack", {"lease": lease["lease"]})
    assert got == ids[:WINDOW] + ids[2 * WINDOW:]


def counts(c):
    s = c.call("stats")
    return s["jobs"], {t: {k: v for k, v in s["types"][t].items() if k in
                           ("scheduled", "pending", "running", "success", "failed", "cancelled")}
                       for t in s["types"]}


def test_counts_after_a_clean_stop_a_kill9_and_a_store_changed_behind_the_kernels_back(windowed):
    k = windowed
    c = k.client()
    for i in range(40):
        jk.enqueue(c, type="remote" if i % 2 else "remote2", payload={"i": i})
    for _ in range(6):
        lease = jk.fetch_one(c)
        c.call("ack", {"lease": lease["lease"]})
    lease = jk.fetch_one(c)
    c.call("nack", {"lease": lease["lease"], "error": {"message": "no"}, "retryable": False})
    held = jk.fetch_one(c, types=("remote2",))  # running across the restarts
    before = counts(c)
    assert before[0]["success"] == 6 and before[0]["failed"] == 1 and before[0]["running"] == 1

    k.restart()
    c = k.client()
    after = counts(c)
    # The held lease's unit was interrupted by the clean stop: pending again, the rest unchanged.
    expected = (dict(before[0], running=0, pending=before[0]["pending"] + 1),
                {t: dict(v) for t, v in before[1].items()})
    expected[1]["remote2"]["running"] -= 1
    expected[1]["remote2"]["pending"] += 1
    assert after == expected
    assert held  # its lease died with the kernel

    k.restart(kill9=True)
    assert counts(k.client()) == expected

    # A store changed while no kernel ran (here: a job row copied in): the counts the clean stop
    # left no longer hold, and the start counts the store instead.
    assert k.stop() == 0
    db = sqlite3.connect(k.db)
    try:
        assert db.execute("SELECT count(*) FROM clean_stop").fetchone()[0] == 1
        cols = [r[1] for r in db.execute("PRAGMA table_info(jobs)") if r[1] != "id"]
        db.execute(f"INSERT INTO jobs (id, {', '.join(cols)}) SELECT 100000, {', '.join(cols)} "
                   "FROM jobs WHERE status = 'pending' LIMIT 1")
        db.commit()
    finally:
        db.close()
    k.start()
    c = k.client()
    jobs, _ = counts(c)
    assert jobs["pending"] == expected[0]["pending"] + 1
    # The start took the row out (a kernel killed now leaves none), and a clean stop writes one.
    k.kill9()
    db = sqlite3.connect(k.db)
    try:
        assert db.execute("SELECT count(*) FROM clean_stop").fetchone()[0] == 0
    finally:
        db.close()
    k.start()
    assert k.stop() == 0
    db = sqlite3.connect(k.db)
    try:
        assert db.execute("SELECT count(*) FROM clean_stop").fetchone()[0] == 1
    finally:
        db.close()


def test_a_queue_filled_faster_than_it_drains_keeps_at_most_two_windows_in_memory(windowed):
    c = windowed.client()
    q = Queue()
    jobs = [jk.enqueue(c, payload={"i": i}, priority=10 if i % 9 == 4 else 50) for i in range(6 * WINDOW)]
    for job in jobs:
        q.add(job)
    # Past two windows the queue drops its last jobs back to the store: memory stays bounded and a
    # dropped job has no known place until its turn nears.
    assert c.call("stats")["queued_units"] <= 2 * WINDOW
    assert c.call("get", {"id": jobs[-1]["id"]})["waiting"] == {"reason": "pool_full", "position": None}
    assert c.call("get", {"id": jobs[0]["id"]})["waiting"] == {"reason": "pool_full", "position": 1}
    # A later urgent job still comes first; every job comes, in order.
    q.add(jk.enqueue(c, payload={"urgent": True}, priority=99))
    take(c, q, len(q.pending), batch=4)
    assert not q.pending

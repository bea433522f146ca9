"""Power cuts (docs/durability.md, "Power cuts"): the kernel's store, simulated under load.

A kernel runs under load with every write and sync to its database and WAL recorded
(Tests/powercut/iotrace.c, an LD_PRELOAD shim compiled here with gcc). For random moments of the
run the disk a power cut could leave is rebuilt: each file's writes up to its last completed sync,
then a random subset of the later ones, torn at 512-byte sectors. The kernel must start on every
such image, the database must pass `PRAGMA integrity_check`, and the changes the kernel
acknowledged before the cut must be there: all of them under `durability = "full"`; under
`"normal"` all but a tail acknowledged after the WAL's last sync began, with no hole.

`Tests/powercut/run --cuts 1000` is the same simulation at full size.
"""

import json
import os
import random
import shutil
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "Tests", "powercut"))

import images  # noqa: E402
import jk  # noqa: E402
import powercut  # noqa: E402
import verify  # noqa: E402

CUTS = 120  # split over the two modes; about two minutes on two cores, with the recordings


def test_power_cuts_keep_every_acknowledged_change_under_full_and_lose_only_a_tail_under_normal(jobkernel_bin):
    workdir = tempfile.mkdtemp(prefix="jkpc-", dir="/tmp")  # short: socket paths are limited
    seed = random.randrange(1 << 30)
    log = [f"seed {seed}"]
    summaries, failures = powercut.simulate(jobkernel_bin, workdir, ("full", "normal"), cuts=CUTS, recordings=1,
                                            seconds=4.0, seed=seed, log=log.append)
    full, normal = summaries
    report = "\n".join(log)
    assert not failures, f"{len(failures)} cuts failed (images kept in {workdir}):\n{report}"

    # The trace holds every write the kernel made: replaying all of it, nothing dropped, gives
    # the files the stopped kernel left, byte for byte (its WAL removed).
    recdir = os.path.join(workdir, "full-0")
    trace = images.Trace(os.path.join(recdir, "io.trace"))
    try:
        files, _ = images.CutBuilder(trace).build(trace.ops[-1].t1 + 1, random.Random(0), keep=1.0, tear=0.0)
    finally:
        trace.close()
    for suffix in ("", "-wal"):
        path = os.path.join(recdir, "jobs.db" + suffix)
        on_disk = open(path, "rb").read() if os.path.exists(path) else None
        assert files[suffix] == on_disk, f"replaying the trace does not give jobs.db{suffix}"

    for s in summaries:
        assert s["cuts"] == CUTS // 2, report
        assert s["kernel_failed_to_start_or_stop"] == 0 and s["integrity_failures"] == 0, report
        assert s["holes"] == 0 and s["lost_beyond_bound"] == 0 and s["event_seq_gaps"] == 0, report
        assert s["torn_writes"] > 0 and s["dropped_writes"] > 0, report  # the cuts did tear and drop
        assert s["cuts_after_exit"] > 0, report  # a stopped kernel loses nothing, in either mode
    assert full["lost_changes"] == 0, report
    # The model bites: under "normal" some cut fell after acknowledged commits that were not yet
    # synced, and lost them.
    assert normal["cuts_with_losses"] > 0, report

    # And the checks catch a broken store: on a drive that acknowledges the database file's
    # flushes without making them, a cut soon after the WAL started again from its beginning
    # (its frames already copied to the database, or so the kernel was told) leaves a damaged
    # database or lost changes.
    with open(os.path.join(recdir, "changes.json")) as f:
        rec = json.load(f)
    changes = [tuple(c) for c in rec["changes"]]
    trace = images.Trace(os.path.join(recdir, "io.trace"))
    try:
        restarts = [op for op in trace.by_file[1]
                    if op.kind == images.OP_WRITE and op.offset == 0 and op.t1 > rec["load_start"]]
        assert restarts, f"the WAL never started again from its beginning during the load:\n{report}"
        cut = restarts[0].t1 + 30_000_000
        builder = images.CutBuilder(trace, lying={0: rec["load_start"]})
        files, _ = builder.build(cut, random.Random(0), keep=0.0, tear=0.0)
        out = verify.check_image(jobkernel_bin, files, os.path.join(workdir, "lying"), "full", changes)
        judged = verify.judge(changes, out.present, cut, trace.durable_before(1, cut), "full") if out.present else None
    finally:
        trace.close()
    assert out.integrity != "ok" or not out.started or judged["lost"] > 0, (out.integrity, judged)
    shutil.rmtree(workdir, ignore_errors=True)


SPILL_CONFIG = """
[storage]
durability = "normal"

[types.remote]
mode = "async_api"
max_attempts = 3
"""


def test_a_commit_larger_than_the_page_cache_survives_kill9(kernel_factory):
    """A batch larger than the store's page cache (16 MB) spills pages into the WAL before its
    commit, and SQLite then rewrites frames it already wrote. Every change of it that was
    acknowledged must survive a kill -9 that follows at once, under the default durability.
    (Until the WAL VFS wrote such rewrites straight to the file, the rewritten header of the
    commit frame stayed in its buffer, and the kill lost the whole batch.)"""
    kernel = kernel_factory(SPILL_CONFIG)
    c = kernel.client()
    items = ["%0140d" % i for i in range(100_000)]  # about 15 MB of units
    calls = [("enqueue", {"type": "remote", "payload": {"n": 1}}),
             ("enqueue", {"type": "remote", "items": items}),
             ("enqueue", {"type": "remote", "payload": {"n": 2}}),  # in the big one's batch
             ("enqueue", {"type": "remote", "payload": {"n": 3}})]
    results = c.call_many(calls, timeout=120)
    ids = [r["job"]["id"] for r in results]
    kernel.kill9()
    kernel.start()
    c = kernel.client()
    for n, job in enumerate(ids):
        try:
            got = c.call("get", {"id": job})
        except jk.RPCError as e:
            raise AssertionError(f"acknowledged enqueue #{n} (job {job}) lost after kill -9: {e}")
        assert got["status"] == "pending", got
    assert c.call("get", {"id": ids[1]})["items"]["total"] == 100_000

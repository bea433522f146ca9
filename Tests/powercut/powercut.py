"""The power-cut simulation: record kernels under load, cut them at random moments, check each image.

    simulate(binary, workdir, modes=("full", "normal"), cuts=1000, recordings=3, seconds=6.0)

Per durability mode, `recordings` kernels run under load for `seconds` each (recorder.py), and
`cuts` images spread over them are rebuilt (images.py) and checked (verify.py). Returns the figures
per mode and the failed cuts, each with its recording and the directory its image was kept in.
"""

from __future__ import annotations

import json
import os
import random
import time

import images
import recorder
import verify


def cut_times(trace: images.Trace, start: int, end: int, exited: int, n: int, rng: random.Random):
    """`n` cut times: a sixth at random moments of the load (`start` to `end`), a sixth during the
    shutdown or just after the kernel was gone (`exited`), the rest at the edges where
    power cuts hurt most: just after a write returned, just before or just after a sync completed,
    and within 20 ms after the WAL started again from its beginning or a checkpoint wrote the
    database."""
    in_window = [op for op in trace.ops if start <= op.t1 <= exited]
    writes = [op for op in in_window if op.kind == images.OP_WRITE]
    syncs = [op for op in in_window if op.kind == images.OP_SYNC]
    risky = [op for op in writes if op.file == 0 or op.offset == 0]
    out = []
    for i in range(n):
        pick = i % 6
        if pick == 1 and writes:
            out.append(rng.choice(writes).t1 + 1)
        elif pick == 2 and syncs:
            out.append(rng.choice(syncs).t1 - 1)
        elif pick == 3 and syncs:
            out.append(rng.choice(syncs).t1 + 1)
        elif pick == 4 and risky:
            out.append(min(exited, rng.choice(risky).t0 + rng.randint(0, 20_000_000)))
        elif pick == 5 and i % 12 == 5:
            out.append(rng.randint(end, exited))
        elif pick == 5:
            out.append(rng.randint(exited, exited + 10_000_000))
        else:
            out.append(rng.randint(start, end))
    return sorted(out)


def cut_recording(binary, recdir, rec, n, seed, log):
    """Checks `n` cuts of one recording; returns a result dict per cut."""
    trace = images.Trace(os.path.join(recdir, "io.trace"))
    changes = [tuple(c) for c in rec["changes"]]
    rng = random.Random(seed)
    builder = images.CutBuilder(trace)
    # The WAL starts again from its beginning with a new header at offset 0.
    wal_restarts = [op for op in trace.by_file[1] if op.kind == images.OP_WRITE and op.offset == 0]
    in_load = lambda op: rec["load_start"] <= op.t0 <= rec["exited"]  # noqa: E731
    log(f"  in its load and shutdown: {sum(1 for op in wal_restarts if in_load(op))} WAL restarts, "
        f"{sum(1 for op in trace.by_file[0] if op.kind == images.OP_SYNC and in_load(op))} database syncs, "
        f"{sum(1 for op in trace.by_file[1] if op.kind == images.OP_SYNC and in_load(op))} WAL syncs, "
        f"{sum(1 for op in trace.by_file[0] if op.kind == images.OP_TRUNCATE and in_load(op))} database truncations")
    results = []
    try:
        for t in cut_times(trace, rec["load_start"], rec["load_end"], rec["exited"], n, rng):
            keep = rng.choice([0.0, 0.5, 1.0, rng.random()])
            tear = rng.choice([0.0, 0.5, 1.0])
            files, figures = builder.build(t, rng, keep, tear)
            out = verify.check_image(binary, files, os.path.join(recdir, "cut"), rec["durability"], changes)
            horizon = trace.durable_before(1, t)
            restarts = [op.t0 for op in wal_restarts if op.t0 < t]
            r = {"cut": t, "load_end": rec["load_end"], "keep": keep, "tear": tear, **figures,
                 "after_wal_restart_ms": (t - restarts[-1]) / 1e6 if restarts else 1e12, "started": out.started,
                 "integrity": out.integrity, "events_gap_free": out.events_gap_free, "problem": out.problem}
            if out.present is not None:
                r.update(verify.judge(changes, out.present, t, horizon, rec["durability"], rec["exited"]))
            r["ok"] = bool(out.started and out.integrity == "ok" and out.events_gap_free and r.get("ok"))
            if not r["ok"]:
                keepdir = os.path.join(recdir, f"failed-cut-{t}")
                if not os.path.exists(keepdir):
                    os.rename(os.path.join(recdir, "cut"), keepdir)
                    r["image"] = keepdir
                log(f"FAILED cut at {t} of {recdir}: {json.dumps({k: v for k, v in r.items() if k != 'example'})[:1500]}")
            results.append(r)
    finally:
        trace.close()
    return results


def summarize(mode, results, seconds):
    full = mode == "full"
    lost_cuts = [r for r in results if r.get("lost")]
    return {
        "mode": mode,
        "cuts": len(results),
        "kernel_failed_to_start_or_stop": sum(1 for r in results if not r["started"]),
        "integrity_failures": sum(1 for r in results if r["integrity"] != "ok"),
        "event_seq_gaps": sum(1 for r in results if r["events_gap_free"] is False),
        "acknowledged_changes_checked": sum(r.get("acknowledged", 0) for r in results),
        "cuts_with_losses": len(lost_cuts),
        "lost_changes": sum(r["lost"] for r in lost_cuts),
        "lost_beyond_bound": sum(r.get("beyond_bound", 0) for r in results),
        "holes": sum(r.get("holes", 0) for r in results),
        "longest_lost_tail_ms": round(max((r["tail_ms"] for r in lost_cuts), default=0.0), 1),
        "longest_since_wal_sync_ms": round(max((r.get("since_wal_sync_ms", 0) for r in results), default=0.0), 1),
        "cuts_after_shutdown_began": sum(1 for r in results if r["cut"] > r["load_end"]),
        "cuts_after_exit": sum(1 for r in results if r.get("after_exit")),
        "cuts_mid_checkpoint": sum(1 for r in results if r["pending_db_writes"]),
        "cuts_in_20ms_after_wal_restart": sum(1 for r in results if r["after_wal_restart_ms"] < 20),
        "torn_writes": sum(r["torn"] for r in results),
        "dropped_writes": sum(r["dropped"] for r in results),
        "failed_cuts": sum(1 for r in results if not r["ok"]),
        "seconds": round(seconds, 1),
        "promise": "nothing acknowledged lost" if full else "only a tail since the WAL's last sync lost, no hole",
    }


def simulate(binary, workdir, modes=("full", "normal"), cuts=1000, recordings=3, seconds=6.0, seed=1, log=print):
    shim = recorder.build_shim(os.path.join(workdir, "iotrace.so"))
    summaries, failures = [], []
    per_mode = [cuts // len(modes) + (1 if i < cuts % len(modes) else 0) for i in range(len(modes))]
    for m, mode in enumerate(modes):
        started = time.monotonic()
        results = []
        for k in range(recordings):
            n = per_mode[m] // recordings + (1 if k < per_mode[m] % recordings else 0)
            recdir = os.path.join(workdir, f"{mode}-{k}")
            rec_seed = seed * 1000 + m * 100 + k
            rec = recorder.record(binary, shim, recdir, mode, seconds, rec_seed)
            log(f"{mode} recording {k}: {len(rec['changes'])} acknowledged changes in {seconds} s, "
                f"trace {os.path.getsize(os.path.join(recdir, 'io.trace')) >> 20} MiB; cutting it {n} times")
            rs = cut_recording(binary, recdir, rec, n, rec_seed, log)
            failures += [dict(r, recording=recdir, seed=rec_seed) for r in rs if not r["ok"]]
            results += rs
        summaries.append(summarize(mode, results, time.monotonic() - started))
        log(json.dumps(summaries[-1]))
    return summaries, failures

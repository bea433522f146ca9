#!/usr/bin/env python3
"""bench/pool.py's cycle, measured thread by thread (bench/README.md, "The pool's worst round").

The same kernel, config, warm-up, latency phase and cycle as pool.py, through its functions; over
the cycle's window it also records, for each thread of the kernel, for the workers and for itself
(the producer): CPU and run-queue wait (/proc/*/schedstat), voluntary and involuntary switches,
write system calls (the writer thread's are its commits: one WAL write each); the machine's busy
and idle time (/proc/stat) and so the share of it that other processes took; the load average;
the WAL's size at the end; `perf stat -e task-clock,context-switches,cpu-migrations` on the
kernel; and a 10 ms timeline of the run queue and of each kernel thread. One summary per round on stdout, the whole
record as one JSON line appended to --json.

usage: pool_probe.py KERNEL WORKER [--jobs N] [--workers N] [--tag T] [--json OUT] [--no-perf]
  PERF_RECORD=FILE      perf record -g the kernel over the window instead of perf stat
  WRITER_BATCH=1        put the kernel's writer thread under SCHED_BATCH (chrt) before the cycle;
  WRITER_BATCH=all      the checkpointer thread too (threads by creation order: loop, checkpointer, writer)
"""
import json
import os
import signal
import subprocess
import threading
import time

import pool


def rd(p):
    try:
        with open(p) as f:
            return f.read()
    except OSError:
        return ""


def thread_snap(pid, tid):
    base = f"/proc/{pid}/task/{tid}"
    st = rd(base + "/stat")
    if not st:
        return None
    f = st[st.rindex(")") + 2:].split()
    ut, stt = int(f[11]), int(f[12])
    ss = rd(base + "/schedstat").split()
    sched = {}
    for line in rd(base + "/sched").splitlines():
        if ":" in line:
            k, _, v = line.partition(":")
            sched[k.strip()] = v.strip()
    io = {}
    for line in rd(base + "/io").splitlines():
        k, _, v = line.partition(":")
        io[k.strip()] = int(v)
    return {"utime": ut, "stime": stt, "cpu_ns": int(ss[0]) if ss else 0, "wait_ns": int(ss[1]) if ss else 0,
            "slices": int(ss[2]) if ss else 0,
            "vol": int(sched.get("nr_voluntary_switches", 0)), "invol": int(sched.get("nr_involuntary_switches", 0)),
            "migr": int(float(sched.get("se.nr_migrations", 0))), "syscw": io.get("syscw", 0), "syscr": io.get("syscr", 0),
            "wbytes": io.get("wchar", 0), "comm": rd(base + "/comm").strip(), "policy": sched.get("policy")}


def proc_snap(pid):
    return {tid: thread_snap(pid, tid) for tid in os.listdir(f"/proc/{pid}/task")}


def children(pid):
    return [int(x) for x in rd(f"/proc/{pid}/task/{pid}/children").split()]


def cpu_stat():
    line = rd("/proc/stat").splitlines()[0].split()
    v = list(map(int, line[1:]))
    return {"user": v[0] + v[1], "sys": v[2] + v[5] + v[6], "idle": v[3] + v[4], "steal": v[7] if len(v) > 7 else 0}


def procs_running():
    for line in rd("/proc/stat").splitlines():
        if line.startswith("procs_running"):
            return int(line.split()[1])
    return 0


def diff(a, b):
    out = {}
    for tid, s1 in b.items():
        s0 = a.get(tid)
        if not s1 or not s0:
            continue
        out[tid] = {k: s1[k] - s0[k] for k in s1 if isinstance(s1[k], int)}
        out[tid]["comm"] = s1["comm"]
        out[tid]["policy"] = s1["policy"]
    return out


def main():
    ap = pool.arguments()
    ap.add_argument("--tag", default="")
    ap.add_argument("--json")
    ap.add_argument("--extra-config", default="")
    ap.add_argument("--no-perf", action="store_true")
    a = ap.parse_args()
    res = {"tag": a.tag, "kernel": a.kernel}
    with pool.pool_kernel(a.kernel, a.worker, a.workers, a.extra_config, prefix="jkprobe-") as (k, home, sock):
        c = pool.Client(sock)
        pool.warm(c, a.workers)
        lat = pool.dispatch_latency(c, a.samples)

        before = c.successes(rid=6)
        batch = pool.cycle_batch(a.jobs)
        w, rw = pool.connect(sock)
        kt = os.listdir(f"/proc/{k.pid}/task")
        res["tids"] = sorted(kt, key=int)
        if os.environ.get("WRITER_BATCH"):
            tids = sorted(kt, key=int)
            # pid = loop, then the checkpointer (JobStore.init), then the writer (Kernel.init)
            subprocess.run(["chrt", "-b", "-p", "0", tids[2]], check=True)
            if os.environ.get("WRITER_BATCH") == "all":
                subprocess.run(["chrt", "-b", "-p", "0", tids[1]], check=True)
        workers = children(k.pid)
        perf = None
        if not a.no_perf:
            if os.environ.get("PERF_RECORD"):
                perf = subprocess.Popen(["perf", "record", "-F", "2000", "-g", "-o", os.environ["PERF_RECORD"], "-p", str(k.pid)],
                                        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
            else:
                perf = subprocess.Popen(["perf", "stat", "-x,", "-e", "task-clock,context-switches,cpu-migrations",
                                     "-p", str(k.pid)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
            time.sleep(0.25)
        res["loadavg0"] = rd("/proc/loadavg").split()[:3]
        # The machine over the 2 s before the window: how busy were others?
        c_pre = cpu_stat()
        k_pre = proc_snap(k.pid)
        time.sleep(0.5)
        c_pre2 = cpu_stat()
        k_pre2 = proc_snap(k.pid)
        kpre = sum(v["utime"] + v["stime"] for v in diff(k_pre, k_pre2).values())
        busy = (c_pre2["user"] + c_pre2["sys"]) - (c_pre["user"] + c_pre["sys"])
        tot = busy + c_pre2["idle"] - c_pre["idle"]
        res["pre_busy_others_pct"] = round(100 * (busy - kpre) / max(tot, 1), 1)

        timeline = []
        stop = threading.Event()
        # the checkpointer and writer threads: identified after the run by their counters
        def sampler():
            while not stop.is_set():
                t = time.time()
                row = {"t": t, "rq": procs_running()}
                for tid in kt:
                    sn = thread_snap(k.pid, tid)
                    if sn:
                        row[tid] = (sn["cpu_ns"], sn["wait_ns"], sn["syscw"], sn["invol"])
                timeline.append(row)
                time.sleep(0.01)

        s0 = proc_snap(k.pid)
        w0 = {p: thread_snap(p, p) for p in workers}
        me0 = thread_snap(os.getpid(), os.getpid())
        c0 = cpu_stat()
        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        t0 = time.time()
        w.sendall(batch)
        t_sent = time.time()
        prog = pool.await_cycle(c, before, a.jobs, t0)
        elapsed = time.time() - t0
        stop.set()
        th.join()
        s1 = proc_snap(k.pid)
        workers_end = children(k.pid)
        res["n_workers"] = [len(workers), len(workers_end)]
        w1 = {p: thread_snap(p, p) for p in workers_end}
        for p in workers_end:
            if p not in w0:
                w0[p] = {kk: (0 if isinstance(vv, int) else vv) for kk, vv in w1[p].items()} if w1[p] else None
        me1 = thread_snap(os.getpid(), os.getpid())
        c1 = cpu_stat()
        res["loadavg1"] = rd("/proc/loadavg").split()[:3]
        if perf:
            perf.send_signal(signal.SIGINT)
            out = perf.communicate()[1].decode()
            pv = {}
            for line in out.splitlines():
                f = line.split(",")
                if len(f) > 3:
                    try:
                        pv[f[2]] = float(f[0])
                    except ValueError:
                        pass
            res["perf"] = pv
        res["t0_epoch"] = t0
        try:
            res["wal_bytes"] = os.path.getsize(os.path.join(home, "j.db-wal"))
            res["db_bytes"] = os.path.getsize(os.path.join(home, "j.db"))
        except OSError:
            pass
        res["rate"] = round(a.jobs / elapsed)
        res["secs"] = round(elapsed, 3)
        res["send_secs"] = round(t_sent - t0, 3)
        res["lat_p50"] = round(pool.quantile(lat, 0.5))
        res["lat_p99"] = round(pool.quantile(lat, 0.99))
        res["threads"] = diff(s0, s1)
        res["workers"] = diff(w0, w1)
        res["me"] = diff({0: me0}, {0: me1})[0]
        busy = (c1["user"] + c1["sys"]) - (c0["user"] + c0["sys"])
        idle = c1["idle"] - c0["idle"]
        res["machine"] = {"busy_ticks": busy, "idle_ticks": idle, "steal": c1["steal"] - c0["steal"]}
        res["progress"] = prog
        # compact timeline: deltas per sample
        tl = []
        for p, q in zip(timeline, timeline[1:]):
            row = {"t": round(q["t"] - t0, 3), "rq": q["rq"]}
            for tid in kt:
                if tid in p and tid in q:
                    row[tid] = tuple(y - x for x, y in zip(p[tid], q[tid]))
            tl.append(row)
        res["timeline"] = tl
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps(res) + "\n")
    # summary
    th = res["threads"]
    tot_k = sum(v["utime"] + v["stime"] for v in th.values())
    wk = res["workers"]
    print(f"{a.tag} rate={res['rate']} secs={res['secs']} load={res['loadavg0'][0]} others_pre={res['pre_busy_others_pct']}% "
          f"machine_busy={res['machine']['busy_ticks']} idle={res['machine']['idle_ticks']} "
          f"perf={res.get('perf')}")
    for tid, v in sorted(th.items(), key=lambda kv: -kv[1]["cpu_ns"]):
        if v["cpu_ns"] < 1e6 and v["syscw"] == 0:
            continue
        print(f"   T{tid} {v['comm'][:12]:12} cpu={v['cpu_ns']/1e6:7.1f}ms wait={v['wait_ns']/1e6:7.1f}ms "
              f"vol={v['vol']:6} invol={v['invol']:5} migr={v['migr']:4} syscw={v['syscw']:6}")
    wc = sum(v["cpu_ns"] for v in wk.values()) / 1e6
    ww = sum(v["wait_ns"] for v in wk.values()) / 1e6
    wi = sum(v["invol"] for v in wk.values())
    print(f"   workers {res['n_workers']} cpu={wc:.1f}ms wait={ww:.1f}ms invol={wi}  producer cpu={res['me']['cpu_ns']/1e6:.1f}ms wait={res['me']['wait_ns']/1e6:.1f}ms")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""docs/promises.md §12's browser figure: 100 clients on the gateway's GET /events each receive every event of
1,000 events/s with p99 lag under 50 ms. Also the gateway's memory with those clients.

    bench/web_fanout.py [--clients 100] [--rate 1000] [--seconds 5] [--rounds 3] [--debug]

Builds jobkernel and jobkernel-web (`swift build -c release`; --debug uses the debug build;
BENCH_NO_BUILD=1 reuses what is built), compiles web_fanout.c, then per round starts a fresh
kernel (a temp dir, an async_api type `bench`) and gateway on 127.0.0.1, runs the load, and
prints one line per round and the medians. Everything it starts is stopped on exit.
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = '[types.bench]\nmode = "async_api"\n'


def log(text):
    print(text, file=sys.stderr, flush=True)


def rss_kib(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_socket(kernel, path, timeout=20):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if kernel.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the kernel did not start (exit {kernel.poll()})")
        time.sleep(0.05)


def one_round(bins, tool, args):
    home = tempfile.mkdtemp(prefix="jkwebbench-", dir="/tmp")
    procs = []
    try:
        sock = os.path.join(home, "k.sock")
        with open(os.path.join(home, "jobkernel.toml"), "w") as f:
            f.write(CONFIG)
        kernel = subprocess.Popen([bins["jobkernel"], "serve", "--socket", sock, "--db", os.path.join(home, "jobs.db"),
                                   "--config", os.path.join(home, "jobkernel.toml")],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env=dict(os.environ, JOBKERNEL_HOME=home))
        procs.append(kernel)
        wait_for_socket(kernel, sock)
        gateway = subprocess.Popen([bins["jobkernel-web"], "--listen", "127.0.0.1:0", "--socket", sock],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(gateway)
        # The gateway prints its login link, then its token.
        match = re.match(r"jobkernel web: http://127\.0\.0\.1:(\d+)/\?login=[0-9a-f]+\njobkernel web: token ([0-9a-f]+) ",
                         gateway.stdout.readline() + gateway.stdout.readline())
        if not match:
            raise SystemExit("the gateway printed no URL")
        port, token = match.group(1), match.group(2)
        idle_rss = rss_kib(gateway.pid)
        peak = [0]
        done = threading.Event()

        def sample():
            while not done.wait(0.1):
                peak[0] = max(peak[0], rss_kib(gateway.pid) or 0)

        sampler = threading.Thread(target=sample)
        sampler.start()
        cpu_before, wall_before = cpu_seconds(gateway.pid), time.monotonic()
        run = subprocess.run([tool, sock, port, token, str(args.clients), str(args.rate), str(args.seconds)],
                             capture_output=True, text=True, timeout=args.seconds + 120)
        done.set()
        sampler.join()
        cpu = (cpu_seconds(gateway.pid) - cpu_before) / (time.monotonic() - wall_before)
        line = next((l for l in run.stdout.splitlines() if l.startswith("RESULT")), None)
        if not line:
            raise SystemExit(f"web_fanout failed: {run.stdout}{run.stderr}")
        result = {k: v for k, v in (kv.split("=", 1) for kv in line.split()[1:])}
        result["idle_rss_mib"] = (idle_rss or 0) / 1024
        result["peak_rss_mib"] = peak[0] / 1024
        result["cpu"] = cpu
        return result
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(home, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--rate", type=int, default=1000, help="events per second")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--debug", action="store_true", help="measure the debug build")
    args = ap.parse_args()
    config = "debug" if args.debug else "release"
    if not os.environ.get("BENCH_NO_BUILD"):
        for product in ("jobkernel", "jobkernel-web"):
            log(f"building {product} ({config})")
            subprocess.run(["swift", "build", "-c", config, "--product", product], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)
    bins = {name: os.path.join(ROOT, ".build", config, name) for name in ("jobkernel", "jobkernel-web")}
    tools = tempfile.mkdtemp(prefix="jkwebbench-tools-")
    try:
        tool = os.path.join(tools, "web_fanout")
        subprocess.run(["cc", "-O2", "-o", tool, os.path.join(ROOT, "bench", "web_fanout.c"), "-lm"], check=True)
        rounds = []
        for n in range(args.rounds):
            r = one_round(bins, tool, args)
            rounds.append(r)
            print(f"round {n + 1}: {args.clients} clients × {r['rate']} events/s: delivered {r['delivered']}/{r['expected']}, "
                  f"closed {r['closed']}, lag p50 {float(r['p50_us']) / 1000:.1f} ms, p99 {float(r['p99_us']) / 1000:.1f} ms, "
                  f"max {float(r['max_us']) / 1000:.1f} ms; gateway RSS {r['idle_rss_mib']:.1f} MiB idle, "
                  f"{r['peak_rss_mib']:.1f} MiB peak, CPU {100 * r['cpu']:.0f} % of a core (the whole run, connecting included)",
                  flush=True)
        med = lambda key: statistics.median(float(r[key]) for r in rounds)
        p99 = med("p99_us") / 1000
        print(f"median of {len(rounds)} ({config} build): p50 {med('p50_us') / 1000:.1f} ms, p99 {p99:.1f} ms "
              f"({'under' if p99 < 50 else 'OVER'} the 50 ms of docs/promises.md §12), delivered "
              f"{100 * med('delivered') / med('expected'):.2f} %, gateway peak RSS {med('peak_rss_mib'):.1f} MiB "
              f"with {args.clients} clients")
    finally:
        shutil.rmtree(tools, ignore_errors=True)


if __name__ == "__main__":
    main()

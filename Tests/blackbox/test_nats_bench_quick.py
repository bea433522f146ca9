"""The `nats` workload of bench/run (bench/nats_bench.py) runs end to end: async_api units over a
real `nats-server -js` to 2 remote NATS workers, and over the embedded broker to 2 PullWorker
processes. The script only prints a broker's RESULT line once `stats` counts every job `success`;
it stops everything it started and removes its temp dirs. The figures mean nothing on the debug
binary: bench/README.md has the release build's."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def processes_naming(text):
    """Pids of the processes whose command line contains text."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


def test_the_nats_bench_measures_both_brokers_and_leaves_nothing_behind(jobkernel_bin, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    p = subprocess.run(
        [sys.executable, os.path.join(REPO, "bench", "nats_bench.py"), jobkernel_bin,
         "--jobs", "300", "--samples", "20", "--concurrency", "4"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, TMPDIR=str(temp)))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    results = {}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            _, broker, *fields = line.split()
            results[broker] = {k: float(v) for k, v in (f.split("=", 1) for f in fields)}
    assert set(results) == {"nats", "embedded"}, p.stdout
    for broker, r in results.items():
        assert r["jobs"] == 300 and r["rate"] > 0 and r["samples"] == 20, (broker, r)
        assert 0 < r["p50_us"] <= r["p99_us"] <= r["max_us"], (broker, r)
        assert r["kernel_cpu_us"] > 0 and r["workers_cpu_us"] > 0, (broker, r)
    assert results["nats"]["nats_cpu_us"] > 0
    assert list(temp.iterdir()) == []
    assert processes_naming(str(temp)) == []

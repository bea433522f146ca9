"""The month-in-an-hour soak harness (bench/soak) runs end to end: every kind of work finishes,
no client sees an error it should not, the subscriber sees every seq, the kernel stops cleanly on
SIGTERM, and the flatness verdict is computed. Half a minute on the debug binary, so the
tolerances are wide: growth in half a minute is warm-up, not a leak; `bench/soak --hours 1` on the
release build is the real measurement (bench/README.md)."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_soak_harness_runs_every_kind_of_work_and_gives_a_verdict(jobkernel_bin, tmp_home):
    out = os.path.join(tmp_home, "soak.json")
    p = subprocess.run(
        [sys.executable, os.path.join(REPO, "bench", "soak"), "--minutes", "0.5", "--interval", "3",
         "--bin", jobkernel_bin, "--json", out, "--rss-pct", "300", "--db-pct", "1000", "--fd-slack", "16"],
        capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    assert "verdict: PASS" in p.stdout
    report = json.load(open(out))
    assert len(report["samples"]) >= 8
    assert report["problems"] == []
    assert {"RSS (MiB)", "open fds", "DB + WAL (MiB)"} <= {what for what, _, _ in report["flatness"]}
    statuses = {k.split()[1] for k in report["finished"]}
    assert {"success", "failed", "cancelled"} <= statuses

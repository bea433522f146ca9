"""docs/promises.md §13, no silent states: a waiting job's status cell in `status` says why it
waits in a few words (`pending (#2 in queue)`, `pending (paused)`, `scheduled (after 3)`,
`scheduled (until 12:30)`), as does `watch`'s PROGRESS cell of a job that has no progress yet
(`(#2 in queue)`); `watch` keeps it current though no event says that a job moved up the queue
or that its type was paused. `status ID` says it in a sentence (test_labels_waiting.py). On the
real binary; `watch` and the 80-column table under tmux."""

import datetime
import re
import subprocess
import time

import pytest

import jk
from jk import enqueue
from test_tty import Tmux, job_row, quote_cmd

CONFIG = jk.BASE_CONFIG


@pytest.fixture
def k(kernel_factory):
    return kernel_factory(CONFIG)


@pytest.fixture
def tmux(k):
    t = Tmux(k.home)
    yield t
    t.kill()


def status_rows(k):
    p = subprocess.run([k.binary, "status", "--socket", k.sock], cwd=k.home, env=k.env(), capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    rows = {}
    for line in p.stdout.splitlines()[1:]:
        jid = line.split()[0]
        rows[jid] = line
    return rows


def test_status_says_in_its_status_cell_why_each_job_waits(k):
    c = k.client()
    first, second = enqueue(c)["id"], enqueue(c)["id"]
    later = enqueue(c, after=[first])["id"]
    delayed = enqueue(c, "remote2", delay_s=3600)
    running = enqueue(c, "remote2")["id"]
    jk.fetch_one(c, ["remote2"])
    rows = status_rows(k)
    assert "pending (#1 in queue)" in rows[first]
    assert "pending (#2 in queue)" in rows[second]
    assert re.search(rf"scheduled \(after {first}\)", rows[later]), rows[later]
    # The delayed job's cell is the clock time of its `until`, in local time.
    until = c.call("get", {"id": delayed["id"]})["waiting"]["until"]
    clock = datetime.datetime.fromisoformat(until.replace("Z", "+00:00")).astimezone().strftime("%H:%M")
    assert f"scheduled (until {clock})" in rows[delayed["id"]], rows[delayed["id"]]
    assert re.search(r"\brunning\s", rows[running]) and "(" not in rows[running], rows[running]
    c.call("pause", {"type": "remote"})
    assert "pending (paused)" in status_rows(k)[first]


def test_status_on_80_columns_keeps_the_status_cell_whole(k, tmux):
    c = k.client()
    jobs = [enqueue(c, label="a rather long label that the table has to cut to fit " * 2)["id"] for _ in range(12)]
    tmux.start(quote_cmd(k, "status") + "; echo EXIT=$?", width=80, height=30)
    lines = tmux.wait_screen(lambda ls: any(line.startswith("EXIT=") for line in ls), "status to finish")
    assert "EXIT=0" in lines, lines
    assert all(len(line) <= 80 for line in lines), lines
    _, row = job_row(lines, jobs[-1])
    assert "pending (#12 in queue)" in row, lines


def test_watch_shows_why_a_job_waits_and_keeps_it_current(k, tmux):
    c = k.client()
    first, second = enqueue(c)["id"], enqueue(c)["id"]
    c.call("pause", {"type": "remote"})
    tmux.start(quote_cmd(k, "watch"), width=100, height=20)
    tmux.wait_screen(lambda ls: re.search(r"pending +\(paused\)", job_row(ls, second)[1] or ""), "the paused job's cell")
    # Resuming changes no job (no event names it), yet watch asks again and shows its place.
    c.call("resume", {"type": "remote"})
    tmux.wait_screen(lambda ls: re.search(r"pending +\(#2 in queue\)", job_row(ls, second)[1] or ""), "its place in line")
    lease = jk.fetch_one(c, ["remote"])
    assert lease["job"]["id"] == first
    tmux.wait_screen(lambda ls: re.search(r"pending +\(#1 in queue\)", job_row(ls, second)[1] or ""), "it moved up")
    lines = tmux.wait_screen(lambda ls: re.search(r"\brunning\b", job_row(ls, first)[1] or ""), "the first running")
    assert "(" not in job_row(lines, first)[1].split("running", 1)[1][:2], lines

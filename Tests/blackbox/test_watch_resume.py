"""`jobkernel watch` survives a kernel restart (docs/promises.md §7: resume with `since`, no gap, no duplicate):
it says "reconnecting" while no kernel answers, then carries on from the last seq it saw. The
terminal version of this test (under tmux) is in test_tty.py."""

import os
import subprocess
import threading
import time

import jk


class LineReader:
    """Collects a process's stdout and stderr lines in background threads."""

    def __init__(self, proc):
        self.proc = proc
        self.out, self.err = [], []
        self.threads = [threading.Thread(target=self._pump, args=(proc.stdout, self.out), daemon=True),
                        threading.Thread(target=self._pump, args=(proc.stderr, self.err), daemon=True)]
        for t in self.threads:
            t.start()

    @staticmethod
    def _pump(f, into):
        for line in f:
            into.append(line.rstrip("\n"))

    def wait(self, pred, what, timeout=10):
        return jk.wait_for(lambda: pred(self), timeout, what=what)


def test_watch_reconnects_after_a_restart_and_resumes_from_its_last_seq(kernel):
    c = kernel.client()
    first = jk.enqueue(c)
    env = kernel.env()
    proc = subprocess.Popen([kernel.binary, "watch", "--socket", kernel.sock], env=env, cwd=kernel.home,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    r = LineReader(proc)
    try:
        # subscribed once it sees a new job
        jk.wait_for(lambda: kernel.client().call("stats", {})["subscriptions"] >= 1, what="watch to subscribe")
        second = jk.enqueue(c)
        r.wait(lambda r: any(f" job.created {second['id']} " in l for l in r.out), "the second job's event")

        kernel.stop()
        r.wait(lambda r: any("reconnecting" in l for l in r.err), "watch to say it is reconnecting")
        assert proc.poll() is None, "watch exited when the kernel stopped: " + "\n".join(r.err)
        time.sleep(0.6)  # it keeps waiting
        assert proc.poll() is None

        kernel.start()
        c = kernel.client()
        third = jk.enqueue(c)  # likely before watch is back: `since` must replay it
        c.call("cancel", {"id": first["id"]})
        r.wait(lambda r: any(f" job.status {first['id']} pending -> cancelled" in l for l in r.out),
               "events after the restart")
        assert any(f" job.created {third['id']} " in l for l in r.out), r.out
        assert any("reconnected" in l for l in r.err), r.err
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0, r.err
    seqs = [int(l.split(" ")[1]) for l in r.out]
    # every event once, in order, and none missing across the restart (watch subscribes to all)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    assert sum(f" job.created {third['id']} " in l for l in r.out) == 1


def test_watch_without_a_kernel_still_exits_3(kernel_factory, tmp_home):
    k = kernel_factory(jk.BASE_CONFIG, start=False)
    p = k.cli("watch", "--socket", os.path.join(tmp_home, "none.sock"), timeout=10)
    assert p.returncode == 3 and "no kernel answers" in p.stderr, (p.returncode, p.stderr)


def test_watch_carries_on_with_a_kernel_that_lost_its_events(kernel_factory):
    # a restart on a fresh database: the old seq is above the new kernel's latest (-32602), so
    # watch says so and goes on with live events instead of failing
    k = kernel_factory(jk.BASE_CONFIG, db=":memory:")
    c = k.client()
    for _ in range(3):
        jk.enqueue(c)
    proc = subprocess.Popen([k.binary, "watch", "--json", "--socket", k.sock], env=k.env(), cwd=k.home,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    r = LineReader(proc)
    try:
        jk.wait_for(lambda: k.client().call("stats", {})["subscriptions"] >= 1, what="watch to subscribe")
        jk.enqueue(c)
        r.wait(lambda r: len(r.out) >= 1, "the fourth job's event")
        k.stop()
        r.wait(lambda r: any("reconnecting" in l for l in r.err), "reconnecting")
        k.start()
        r.wait(lambda r: any("no longer has the events after seq" in l for l in r.err), "watch to say events were lost")
        jk.wait_for(lambda: k.client().call("stats", {})["subscriptions"] >= 1, what="watch to subscribe again")
        job = jk.enqueue(k.client())
        r.wait(lambda r: any('"job_id":"%s"' % job["id"] in l and '"seq":1,' in l for l in r.out),
               "the new kernel's first event")
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0, r.err

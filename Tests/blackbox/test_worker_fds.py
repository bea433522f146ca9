"""A persistent worker that keeps exiting is restarted with backoff (docs/promises.md §5.2), and
each restart leaves nothing open in the kernel: a crash-looping worker must not use up the
kernel's file descriptors."""
import os
import time

import jk
from jk import enqueue

CONFIG = jk.BASE_CONFIG + """
[types.crash]
mode = "internal"
worker = ["sh", "-c", "exit 1"]
"""


def open_fds(pid):
    """The kernel's open descriptors, the least of a few looks (a worker starting at the moment of
    a look holds three pipes for a few milliseconds)."""
    counts = []
    for _ in range(6):
        counts.append(len(os.listdir(f"/proc/{pid}/fd")))
        time.sleep(0.05)
    return min(counts)


def test_a_crash_looping_worker_leaks_no_descriptor(kernel_factory):
    k = kernel_factory(CONFIG)
    c = k.client()
    enqueue(c, "crash", payload={}, max_attempts=1)  # spawns the worker, which exits at once
    # Restarts come 0.25, 0.5, 1, 2, 4 s apart: by 1.2 s two have happened, by 8.2 s five.
    time.sleep(1.2)
    before = open_fds(k.pid)
    time.sleep(7.0)
    after = open_fds(k.pid)
    assert after <= before, f"the kernel held {before} descriptors after 2 restarts and {after} after 5"

"""A persistent worker used by the tests (docs/promises.md §5.2): behaviour chosen by payload.action."""

import os
import sys
import time

# Use the package from this checkout (the tests do not require it to be installed).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src"))

import jobkernel  # noqa: E402
from jobkernel import worker  # noqa: E402


def handler(run):
    p = run.payload or {}
    action = p.get("action", "echo")
    if action == "echo":
        return {"payload": p, "item": run.item}
    if action == "progress":
        got = run.progress(current=1, total=2, phase="half")
        line = worker.log("module-level log")  # the module functions use the run in hand
        return {"progress": got, "log": line}
    if action == "enqueue":
        return run.enqueue("child", {"x": 1})
    if action == "fail":
        raise ValueError("nope")
    if action == "permanent":
        raise jobkernel.PermanentError("bad input", {"hint": "fix"})
    if action == "wait_cancel":
        while True:
            run.sleep(0.05)
    if action == "ignore_cancel":
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:
            sum(range(1000))
        return "finished anyway"
    if action == "slow":
        time.sleep(p.get("s", 1.0))
        return "slow done"
    if action == "print":
        print("this goes to stderr, not the protocol")
        os.system("echo child-output")
        return 1
    if action == "batch":
        return worker.Items([{"index": it["index"], "status": "success", "result": it["value"]} for it in run.items])
    raise jobkernel.PermanentError("unknown action %r" % action)


if __name__ == "__main__":
    worker.serve(handler, cancel_grace=float(os.environ.get("CANCEL_GRACE", "0.5")))

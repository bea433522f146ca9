"""The runnable examples under examples/: each run.sh starts its own kernel (JOBKERNEL_BIN), drives
it over socat, checks its outcome and exits 0 only if it was right."""

import os
import shutil
import signal
import subprocess

import pytest

from conftest import REPO

EXAMPLES = ["media-pipeline", "uploads", "maintenance"]
TIMEOUT = 120


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs(name, jobkernel_bin):
    for tool in ("socat", "jq", "python3"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed by the examples and is not installed", pytrace=False)
    script = os.path.join(REPO, "examples", name, "run.sh")
    assert os.access(script, os.X_OK), f"{script} missing or not executable"
    env = dict(os.environ, JOBKERNEL_BIN=jobkernel_bin)
    env.pop("JOBKERNEL_SOCKET", None)
    env.pop("JOBKERNEL_HOME", None)
    # its own session, so that on a timeout the whole group (kernel and socat included) is stopped
    p = subprocess.Popen(["bash", script], cwd="/tmp", env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail(f"{name}/run.sh did not finish within {TIMEOUT}s\n--- stdout ---\n{out[-4000:]}\n"
                    f"--- stderr ---\n{err[-4000:]}", pytrace=False)
    assert p.returncode == 0, f"{name}/run.sh exited {p.returncode}\n--- stdout ---\n{out[-6000:]}\n--- stderr ---\n{err[-4000:]}"
    assert f"OK: {name}" in out

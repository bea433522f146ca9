"""examples/swift-client: a program built on the JobKernelClient library product, run against a
real kernel."""
import os
import subprocess

import jk

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, "examples", "swift-client")


def test_swift_client_example_runs_a_job_to_success(kernel_factory):
    k = kernel_factory(jk.BASE_CONFIG)
    build = subprocess.run(["swift", "build", "--package-path", EXAMPLE], capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    binary = os.path.join(EXAMPLE, ".build", "debug", "swift-client-example")
    run = subprocess.run([binary, k.sock], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "log: working" in run.stdout
    assert "progress: 100" in run.stdout
    assert "status: success" in run.stdout
    assert 'with result {"answer":42}' in run.stdout

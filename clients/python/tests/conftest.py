"""Fixtures: a real kernel per test, in a temp dir, on a Unix socket."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
PKG_SRC = HERE.parent / "src"
REPO = HERE.parents[2]
if str(PKG_SRC) not in sys.path:
    sys.path.insert(0, str(PKG_SRC))

import jobkernel  # noqa: E402

BASE_CONFIG = """
[pipeline]
backoff_base = "50ms"
backoff_max = "200ms"

[types.remote]
mode = "async_api"

[types.other]
mode = "async_api"

[types.local]
mode = "internal"
command = ["true"]

[workflow]
publishing = true
auto_publish = false
"""


def kernel_binary() -> str:
    path = os.environ.get("JOBKERNEL_BIN") or str(REPO / ".build" / "debug" / "jobkernel")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        pytest.fail(
            "jobkernel binary not found at %s: run `swift build` in %s or set JOBKERNEL_BIN" % (path, REPO),
            pytrace=False,
        )
    return path


class Kernel(object):
    def __init__(self, binary: str, tmp: pathlib.Path, config: str):
        self.binary = binary
        self.dir = tmp
        self.socket = str(tmp / "kernel.sock")
        self.db = str(tmp / "jobs.db")
        self.config_path = str(tmp / "jobkernel.toml")
        with open(self.config_path, "w") as f:
            f.write(config)
        self.stderr_path = str(tmp / "kernel.stderr")
        self.proc = None  # type: subprocess.Popen

    def start(self, timeout: float = 15.0) -> "Kernel":
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--socket", self.socket, "--db", self.db, "--config", self.config_path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            cwd=str(self.dir),
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("kernel exited %s: %s" % (self.proc.returncode, self.stderr()))
            try:
                c = jobkernel.Client(self.socket, timeout=5)
                c.stats()
                c.close()
                return self
            except jobkernel.NoKernel:
                if time.monotonic() > deadline:
                    raise RuntimeError("kernel did not answer on %s within %ss: %s" % (self.socket, timeout, self.stderr()))
                time.sleep(0.05)

    def stderr(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def client(self, **kw) -> "jobkernel.Client":
        kw.setdefault("timeout", 10)
        kw.setdefault("reconnect_timeout", 10)
        return jobkernel.Client(self.socket, **kw)

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)
        finally:
            self._stderr.close()


@pytest.fixture(scope="session")
def kernel_bin() -> str:
    return kernel_binary()


@pytest.fixture
def make_kernel(kernel_bin, tmp_path):
    """``make_kernel(extra_config="")`` starts a kernel with BASE_CONFIG plus extra TOML."""
    kernels = []

    def make(extra: str = "", name: str = "k") -> Kernel:
        d = tmp_path / name
        d.mkdir(exist_ok=True)
        k = Kernel(kernel_bin, d, BASE_CONFIG + "\n" + extra).start()
        kernels.append(k)
        return k

    yield make
    for k in kernels:
        k.stop()


@pytest.fixture
def kernel(make_kernel) -> Kernel:
    return make_kernel()


@pytest.fixture
def client(kernel):
    c = kernel.client()
    yield c
    c.close()

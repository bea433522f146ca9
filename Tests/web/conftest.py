"""Fixtures for the gateway's tests: `python3 -m pytest Tests/web`.

The binaries come from $JOBKERNEL_BIN (default <repo>/.build/debug/jobkernel) and
$JOBKERNEL_WEB_BIN (default: jobkernel-web next to it). A missing binary fails the tests with a
message saying how to build it; nothing is skipped.
"""

import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import web  # noqa: E402


def _require(path, product):
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"{path} is missing: run `swift build --product {product}` first (or set the *_BIN variable)",
                    pytrace=False)


@pytest.fixture
def home():
    d = tempfile.mkdtemp(prefix="jkweb-", dir="/tmp")
    os.chmod(d, 0o700)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def kernel(home):
    _require(web.kernel_bin(), "jobkernel")
    k = web.Kernel(home).start()
    yield k
    k.stop()


@pytest.fixture
def gateway(kernel, home):
    _require(web.web_bin(), "jobkernel-web")
    g = web.Gateway(home, kernel.socket)
    yield g
    g.stop()

"""Fixtures for the black-box suite: run with `python3 -m pytest Tests/blackbox`.

The binary comes from $JOBKERNEL_BIN, else <repo>/.build/debug/jobkernel. A missing binary fails
every test with a clear message (it is never a skip).
"""

import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jk  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def binary_path():
    return os.environ.get("JOBKERNEL_BIN") or os.path.join(REPO, ".build", "debug", "jobkernel")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def jobkernel_bin():
    path = binary_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(
            f"jobkernel binary not found or not executable at {path!r}: run `swift build` first "
            f"(or set JOBKERNEL_BIN to the binary)",
            pytrace=False,
        )
    return path


@pytest.fixture
def tmp_home():
    """A short temp dir (Unix socket paths are limited to ~107 bytes)."""
    d = tempfile.mkdtemp(prefix="jkbb-", dir="/tmp")
    os.chmod(d, 0o700)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _report_kernels(request, kernels):
    failures = []
    for k in kernels:
        msg = k.teardown()
        if msg:
            failures.append(msg)
    failed = any(getattr(request.node, "rep_" + w, None) is not None and getattr(request.node, "rep_" + w).failed
                 for w in ("setup", "call"))
    if failed:
        for n, k in enumerate(kernels):
            print(f"\n===== kernel #{n} stderr ({k.home}) =====\n{k.stderr_text()[-20000:]}")
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


@pytest.fixture
def kernel_factory(jobkernel_bin, request):
    """kernel_factory(config_toml=None, extra_args=[], start=True, home=None, socket_path=None, db=None)
    -> jk.Kernel. config_toml None: no --config flag (built-in defaults). Each kernel gets its own temp
    home unless `home` is given. All kernels are stopped on teardown (SIGTERM, <=10 s; the test fails
    if one had to be killed or crashed); their stderr is shown when the test failed."""
    kernels, homes = [], []

    def make(config_toml=None, extra_args=(), start=True, home=None, socket_path=None, db=None):
        if home is None:
            home = tempfile.mkdtemp(prefix="jkbb-", dir="/tmp")
            os.chmod(home, 0o700)
            homes.append(home)
        k = jk.Kernel(jobkernel_bin, home, config_toml, extra_args, db=db, socket_path=socket_path)
        kernels.append(k)
        if start:
            k.start()
        return k

    yield make
    try:
        _report_kernels(request, kernels)
    finally:
        for h in homes:
            shutil.rmtree(h, ignore_errors=True)


@pytest.fixture
def kernel(kernel_factory):
    """A running kernel on a fresh home with jk.BASE_CONFIG (async_api types `remote`, `remote2`)."""
    return kernel_factory(jk.BASE_CONFIG)


@pytest.fixture
def client(kernel):
    return kernel.client()


@pytest.fixture
def stdio_factory(jobkernel_bin, request):
    """stdio_factory(framing="ndjson", config_toml=None, extra_args=[]) -> started jk.StdioKernel."""
    kernels, homes = [], []

    def make(framing="ndjson", config_toml=None, extra_args=()):
        home = tempfile.mkdtemp(prefix="jkbb-", dir="/tmp")
        homes.append(home)
        k = jk.StdioKernel(jobkernel_bin, home, config_toml, extra_args, framing=framing)
        kernels.append(k)
        return k.start()

    yield make
    try:
        _report_kernels(request, kernels)
    finally:
        for h in homes:
            shutil.rmtree(h, ignore_errors=True)


@pytest.fixture
def bridge_factory(jobkernel_bin, request):
    """bridge_factory(kernel, framing="ndjson", extra_args=()) -> started jk.StdioKernel running
    `serve --stdio --db <kernel's db> [--config <kernel's config>]` from a home (and cwd) of its
    own: it attaches to `kernel` (docs/promises.md §1), or owns the database when that kernel is gone."""
    bridges, homes = [], []

    def make(kernel, framing="ndjson", extra_args=()):
        home = tempfile.mkdtemp(prefix="jkbr-", dir="/tmp")
        homes.append(home)
        b = jk.StdioKernel(jobkernel_bin, home, kernel.config_toml, extra_args, db=kernel.db, framing=framing)
        bridges.append(b)
        return b.start()

    yield make
    try:
        _report_kernels(request, bridges)
    finally:
        for h in homes:
            shutil.rmtree(h, ignore_errors=True)

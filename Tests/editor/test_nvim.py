"""The Neovim plugin (editors/nvim) in a real headless Neovim against the real binary.

Each test runs `nvim --headless -u NONE` with the plugin on 'runtimepath' and a Lua test script
(Tests/editor/nvim/) in a fresh $JOBKERNEL_HOME; the script starts the user's kernel itself, checks
what a user sees, prints `ok - …` lines, and ends with "ALL PASSED" (exit 0) or "FAIL: …" (exit 1).
Neovim must be installed (CI installs Debian's `neovim`; it is never a skip).
"""

import os
import shutil
import signal
import subprocess
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PLUGIN = os.path.join(REPO, "editors", "nvim")
SCRIPT = os.path.join(HERE, "nvim", "test_plugin.lua")
PARTS = os.path.join(HERE, "nvim", "test_parts.lua")
TIMEOUT = 150


def binary():
    path = os.environ.get("JOBKERNEL_BIN") or os.path.join(REPO, ".build", "debug", "jobkernel")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"jobkernel binary not found at {path!r}: run `swift build` (or set JOBKERNEL_BIN)", pytrace=False)
    return path


def nvim():
    path = shutil.which("nvim")
    if path is None:
        pytest.fail("nvim is not installed (scripts/install-deps installs Debian's neovim)", pytrace=False)
    return path


@pytest.fixture
def home():
    d = tempfile.mkdtemp(prefix="jknv-", dir="/tmp")
    os.chmod(d, 0o700)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run_script(home, script=SCRIPT, extra_env=None):
    env = dict(os.environ)
    env.pop("JOBKERNEL_SOCKET", None)
    env.update(JOBKERNEL_BIN=binary(), JOBKERNEL_HOME=home, HOME=home, XDG_CONFIG_HOME=home,
               XDG_DATA_HOME=home, XDG_STATE_HOME=home, **(extra_env or {}))
    argv = [nvim(), "--headless", "-u", "NONE", "-i", "NONE", "--noplugin",
            "--cmd", "set rtp^=" + PLUGIN, "--cmd", "runtime plugin/jobkernel.lua",
            "-c", "luafile " + script]
    # its own process group: whatever the script started and left behind (a kernel, when a check
    # failed half way) is killed with it
    p = subprocess.Popen(argv, cwd=home, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise AssertionError(f"nvim did not finish within {TIMEOUT}s; output so far:\n{out}\n{err}")
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def kernel_logs(home):
    out = []
    for name in sorted(os.listdir(home)):
        if name.endswith(".log"):
            with open(os.path.join(home, name), errors="replace") as f:
                out.append(f"--- {name}\n{f.read()[-3000:]}")
    return "\n".join(out)


def test_the_plugin_in_a_real_neovim(home):
    p = run_script(home)
    report = f"exit {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}\n{kernel_logs(home)}"
    assert p.returncode == 0, report
    assert "ALL PASSED" in p.stdout and "FAIL" not in p.stdout, report
    # the script really ran its checks (a script that stopped early cannot pass)
    assert p.stdout.count("ok - ") >= 50, report


def test_the_plugins_parts_socket_transport_and_a_missing_binary(home):
    p = run_script(home, PARTS)
    report = f"exit {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}\n{kernel_logs(home)}"
    assert p.returncode == 0, report
    assert "ALL PASSED" in p.stdout and "FAIL" not in p.stdout, report
    assert p.stdout.count("ok - ") >= 30, report


def test_a_failed_check_fails_loudly(home):
    p = run_script(home, extra_env={"JK_TEST_FORCE_FAIL": "1"})
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "FAIL: " in p.stdout and "assertion failed: a check that cannot hold" in p.stdout, p.stdout
    assert "ALL PASSED" not in p.stdout

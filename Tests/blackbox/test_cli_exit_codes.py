"""docs/promises.md §1: the client CLI — its commands, outputs and exit codes (0 done; 1 the kernel answered with
an error, or a waited-for job did not end in `success`; 2 usage; 3 no kernel answers; 124 `wait` or
`logs -f` ran past `--timeout`).

Runs the built binary ($JOBKERNEL_BIN, else <repo>/.build/debug/jobkernel). Kernels are started by
the tests with `jobkernel serve --socket <tmp>/k.sock --db <tmp>/j.db` in a temp JOBKERNEL_HOME and
killed at teardown. Jobs of the async_api type `remote` wait for a worker, so a test plays the
worker over its own socket connection (fetch, progress, log, ack/nack) and job states stay
deterministic. Standard library only.
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 10

CONFIG = """
[pipeline]
backoff_base = "1s"
backoff_max = "2s"

[workflow]
publishing = true
auto_publish = false

[types.remote]
mode = "async_api"
max_attempts = 1
"""

HINT = "start one with `jobkernel serve` (or set JOBKERNEL_SOCKET / --socket)"


def binary():
    path = os.environ.get("JOBKERNEL_BIN") or os.path.join(REPO, ".build", "debug", "jobkernel")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"jobkernel binary not found at {path!r}: run `swift build` first (or set JOBKERNEL_BIN)",
                    pytrace=False)
    return path


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("JOBKERNEL_SOCKET", "JOBKERNEL_HOME")}
    env.update(extra)
    return env


def cli(*args, env=None, timeout=TIMEOUT, cwd=None):
    """Runs `jobkernel ARGS…`; returns the CompletedProcess (text)."""
    return subprocess.run([binary(), *args], capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else clean_env(), cwd=cwd)


class Worker:
    """A bare NDJSON JSON-RPC connection, playing an external worker (its leases live as long as it)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1

    def call(self, method, params=None):
        rid = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise AssertionError("kernel closed the connection")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            if not line.strip():
                continue
            reply = json.loads(line)
            if reply.get("id") == rid:
                if "error" in reply:
                    raise AssertionError(f"{method} failed: {reply['error']}")
                return reply["result"]

    def fetch_one(self, wait_s=5):
        leases = self.call("fetch", {"types": ["remote"], "wait_s": wait_s})["leases"]
        assert len(leases) == 1, leases
        return leases[0]

    def close(self):
        self.sock.close()


class KernelProc:
    def __init__(self, home):
        self.home = home
        self.sock = os.path.join(home, "k.sock")
        self.db = os.path.join(home, "j.db")
        config = os.path.join(home, "c.toml")
        with open(config, "w") as f:
            f.write(CONFIG)
        self.stderr = open(os.path.join(home, "kernel.stderr"), "w+")
        self.proc = subprocess.Popen(
            [binary(), "serve", "--socket", self.sock, "--db", self.db, "--config", config],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr,
            env=clean_env(JOBKERNEL_HOME=home), cwd=home)
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"kernel exited {self.proc.returncode}: {self.stderr_text()}")
            try:
                probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                probe.connect(self.sock)
                probe.close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("kernel socket did not appear: " + self.stderr_text())

    def stderr_text(self):
        self.stderr.flush()
        with open(self.stderr.name) as f:
            return f.read()

    def cli(self, command, *args, **kw):
        """`jobkernel COMMAND --socket <this kernel> ARGS…`"""
        return cli(command, "--socket", self.sock, *args, **kw)

    def popen(self, command, *args):
        return subprocess.Popen([binary(), command, "--socket", self.sock, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=clean_env())

    def worker(self):
        return Worker(self.sock)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
        self.stderr.close()


@pytest.fixture
def home():
    d = tempfile.mkdtemp(prefix="jkcli-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def kernel(home):
    k = KernelProc(home)
    yield k
    k.stop()


def enqueue_id(kernel, *args):
    r = kernel.cli("enqueue", "remote", *args)
    assert r.returncode == 0, r.stderr
    job_id = r.stdout.strip()
    assert re.fullmatch(r"\d+", job_id), r.stdout
    return job_id


def finish(proc, timeout=TIMEOUT):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"CLI did not finish; stdout={out!r} stderr={err!r}")
    return proc.returncode, out, err


def wait_until_subscribed(kernel, connections_before, timeout=TIMEOUT):
    """Waits until the CLI has connected (stats.connections grew) and given it a moment to subscribe."""
    w = kernel.worker()
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if w.call("stats", {})["connections"] > connections_before:
                time.sleep(0.3)
                return
            time.sleep(0.05)
    finally:
        w.close()
    raise AssertionError("the CLI never connected")


def connections(kernel):
    w = kernel.worker()
    try:
        return w.call("stats", {})["connections"] - 1
    finally:
        w.close()


# --- 2: usage ---------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["frobnicate"],
    ["enqueue"],
    ["status", "--limit", "0"],
    ["status", "--status", "bogus"],
    ["cancel"],
    ["run"],
    ["serve", "--socket-mode", "999"],
    ["serve", "--socket-mode", "rw"],
    ["call"],
    ["wait"],
    ["items"],
    ["items", "1", "--status", "done"],
    ["remove"],
    ["clean", "--status", "running"],
    ["clean", "--older-than", "a while"],
    ["run", "--delay", "later", "--", "true"],
    ["run", "--max-attempts", "0", "--", "true"],
    ["enqueue", "remote", "--after", "abc"],
    ["status", "--limit", "-3"],
])
def test_usage_error_exits_2(home, args):
    r = cli(*args, "--socket", os.path.join(home, "none.sock")) if args[0] != "serve" else cli(*args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip(), "a usage error says what is wrong"


@pytest.mark.parametrize("args,named", [
    (["enqueue", "remote", "--payload", "{bad"], "--payload"),
    (["enqueue", "remote", "--items", "[1,"], "--items"),
    (["enqueue", "remote", "--items", "{}"], "--items"),
    (["call", "stats", "{\"a\":"], "params"),
    (["settings", "workflow.publishing", "yes please"], "value"),
])
def test_invalid_json_argument_is_usage_error_naming_it(home, args, named):
    r = cli(*args, "--socket", os.path.join(home, "none.sock"))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert named in r.stderr, r.stderr
    assert "no kernel" not in r.stderr, "arguments are checked before connecting"


def test_help_exits_0():
    r = cli("--help")
    assert r.returncode == 0
    assert "enqueue" in r.stdout and "serve" in r.stdout


# --- 3: no kernel -----------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["status"], ["call", "stats"], ["enqueue", "remote"], ["settings"],
                                     ["cancel", "1"], ["logs", "1"], ["run", "--", "true"], ["wait", "1"],
                                     ["items", "1"], ["remove", "1"], ["clean"], ["pause"], ["resume", "x"]])
def test_no_kernel_at_socket_exits_3_with_hint(home, command):
    path = os.path.join(home, "none.sock")
    r = cli(command[0], "--socket", path, *command[1:])
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert f"no kernel answers at {path}" in r.stderr
    assert HINT in r.stderr


def test_stale_socket_file_exits_3(home):
    path = os.path.join(home, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # the file stays, nothing listens: ECONNREFUSED
    r = cli("status", "--socket", path)
    assert r.returncode == 3, r.stderr
    assert f"no kernel answers at {path}" in r.stderr


def test_jobkernel_socket_env_is_honored_without_kernel(home):
    path = os.path.join(home, "env.sock")
    r = cli("status", env=clean_env(JOBKERNEL_SOCKET=path))
    assert r.returncode == 3
    assert f"no kernel answers at {path}" in r.stderr


def test_default_socket_is_under_jobkernel_home(home):
    r = cli("status", env=clean_env(JOBKERNEL_HOME=home))
    assert r.returncode == 3
    assert f"no kernel answers at {os.path.join(home, 'kernel.sock')}" in r.stderr


def test_jobkernel_socket_env_reaches_kernel(kernel):
    r = cli("call", "stats", env=clean_env(JOBKERNEL_SOCKET=kernel.sock))
    assert r.returncode == 0, r.stderr
    assert "jobs" in json.loads(r.stdout)


def test_socket_option_wins_over_env(kernel, home):
    r = cli("call", "stats", "--socket", kernel.sock, env=clean_env(JOBKERNEL_SOCKET=os.path.join(home, "x.sock")))
    assert r.returncode == 0, r.stderr


# --- with a kernel: enqueue ---------------------------------------------------------------------

def test_enqueue_prints_id_and_json(kernel):
    first = enqueue_id(kernel)
    r = kernel.cli("enqueue", "remote", "--payload", '{"n":1}', "--priority", "70", "--json")
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    assert job["type"] == "remote" and job["status"] == "pending"
    assert job["payload"] == {"n": 1} and job["priority"] == 70
    assert int(job["id"]) > int(first)
    assert job["created_by"] == "cli"


def test_enqueue_items(kernel):
    r = kernel.cli("enqueue", "remote", "--items", "[1,2,3]", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["items"]["total"] == 3


def test_enqueue_idempotency_key_returns_the_first_job(kernel):
    a = enqueue_id(kernel, "--key", "k1")
    b = enqueue_id(kernel, "--key", "k1")
    assert a == b


def test_enqueue_unknown_type_exits_1_with_code_and_reason(kernel):
    r = kernel.cli("enqueue", "no_such_type")
    assert r.returncode == 1
    assert r.stderr.startswith("jobkernel: ")
    assert "(code -32002, unknown_type)" in r.stderr


def test_enqueue_wait_exits_0_on_success(kernel):
    before = connections(kernel)
    p = kernel.popen("enqueue", "remote", "--wait")
    w = kernel.worker()
    try:
        lease = w.fetch_one()
        wait_until_subscribed(kernel, before + 1)
        w.call("ack", {"lease": lease["lease"], "result": {"ok": True}})
        code, out, err = finish(p)
    finally:
        w.close()
    assert code == 0, err
    assert out.split() == [lease["job"]["id"], "success"]


def test_enqueue_wait_exits_1_when_job_fails(kernel):
    before = connections(kernel)
    p = kernel.popen("enqueue", "remote", "--wait")
    w = kernel.worker()
    try:
        lease = w.fetch_one()
        wait_until_subscribed(kernel, before + 1)
        w.call("nack", {"lease": lease["lease"], "error": "boom", "retryable": False})
        code, out, err = finish(p)
    finally:
        w.close()
    assert code == 1
    assert out.split() == [lease["job"]["id"], "failed"]
    assert "boom" in err


def test_enqueue_wait_json_prints_final_job(kernel):
    p = kernel.popen("enqueue", "remote", "--wait", "--json")
    w = kernel.worker()
    try:
        lease = w.fetch_one()
        time.sleep(0.3)
        w.call("ack", {"lease": lease["lease"], "result": 42})
        code, out, err = finish(p)
    finally:
        w.close()
    assert code == 0, err
    job = json.loads(out)
    assert job["status"] == "success" and job["result"] == 42


def test_wait_on_a_job_cancelled_meanwhile_exits_1(kernel):
    p = kernel.popen("enqueue", "remote", "--wait")
    job_id = p.stdout.readline().strip()
    assert re.fullmatch(r"\d+", job_id)
    time.sleep(0.3)
    assert kernel.cli("cancel", job_id).returncode == 0
    code, out, err = finish(p)
    assert code == 1
    assert out.split() == ["cancelled"]


def test_wait_timeout_exits_124_saying_which_job_has_not_ended(kernel):
    """`wait --timeout D`, like timeout(1): 124 when the time runs out, and the job goes on."""
    done, pending = enqueue_id(kernel), enqueue_id(kernel)
    w = kernel.worker()
    lease = w.call("fetch", {"types": ["remote"]})["leases"][0]
    w.call("ack", {"lease": lease["lease"]})
    started = time.monotonic()
    r = kernel.cli("wait", done, pending, "--timeout", "1s", timeout=30)
    assert r.returncode == 124, (r.returncode, r.stdout, r.stderr)
    assert time.monotonic() - started >= 1.0
    assert r.stdout.split() == [done, "success"]
    assert r.stderr == f"jobkernel: job {pending} still pending after 1s\n"
    # It says the status the job is in when the time runs out.
    running = w.call("fetch", {"types": ["remote"]})["leases"][0]
    r = kernel.cli("wait", pending, "--timeout", "500ms", timeout=30)
    assert r.returncode == 124 and r.stderr == f"jobkernel: job {pending} still running after 0.5s\n", r.stderr
    assert kernel.cli("status", pending, "--json").returncode == 0
    w.call("ack", {"lease": running["lease"]})
    # In time: as without --timeout.
    r = kernel.cli("wait", pending, "--timeout", "20s", timeout=30)
    assert r.returncode == 0 and r.stdout.split() == [pending, "success"], r.stderr
    w.close()


def test_logs_follow_timeout_exits_124(kernel):
    job = enqueue_id(kernel)
    r = kernel.cli("logs", job, "-f", "--timeout", "1s", timeout=30)
    assert r.returncode == 124, (r.returncode, r.stdout, r.stderr)
    assert r.stderr == f"jobkernel: job {job} still pending after 1s\n"
    r = kernel.cli("logs", job, "--timeout", "1s")
    assert r.returncode == 2 and "-f" in r.stderr, r.stderr


def test_enqueue_follow_streams_log_and_progress(kernel):
    p = kernel.popen("enqueue", "remote", "--follow")
    w = kernel.worker()
    try:
        lease = w.fetch_one()
        job_id = lease["job"]["id"]
        w.call("log", {"id": job_id, "message": "before subscribe, maybe"})
        time.sleep(0.5)
        w.call("progress", {"id": job_id, "current": 1, "total": 4, "phase": "warmup"})
        w.call("log", {"id": job_id, "message": "second line", "level": "warn"})
        time.sleep(0.2)
        w.call("ack", {"lease": lease["lease"]})
        code, out, err = finish(p)
    finally:
        w.close()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == job_id
    assert sum("info before subscribe, maybe" in l for l in lines) == 1, "each log line exactly once"
    assert any(re.fullmatch(r"\S+Z warn second line", l) for l in lines), lines
    assert "warmup" in err
    assert f"job {job_id} success" in err


# --- run ------------------------------------------------------------------------------------------

def test_run_enqueues_command_with_argv_and_cwd(kernel, home):
    env = dict(clean_env(), SOME_SETTING="a value")
    r = cli("run", "--socket", kernel.sock, "--detach", "--json", "--", "echo", "--not-an-option", "x y", cwd=home, env=env)
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    assert job["type"] == "command" and job["max_attempts"] == 1
    # The caller's environment goes along (docs/promises.md §1), the kernel adds its JOBKERNEL_* names.
    assert job["payload"] == {"argv": ["echo", "--not-an-option", "x y"], "cwd": os.path.realpath(home), "env": env}


# --- status -----------------------------------------------------------------------------------

def test_status_table_and_summary(kernel):
    a = enqueue_id(kernel)
    b = enqueue_id(kernel, "--payload", '{"x":1}')
    r = kernel.cli("status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "TYPE", "STATUS", "PROGRESS", "ATTEMPT", "AGE", "DURATION", "FINISHED", "LABEL"]
    assert [l.split()[0] for l in lines[1:]] == [b, a], "newest first"
    assert lines[1].split()[1:3] == ["remote", "pending"]

    r = kernel.cli("status", b)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"job {b}  remote  pending")
    assert '{"x":1}' in r.stdout

    r = kernel.cli("status", b, "--json")
    assert json.loads(r.stdout)["id"] == b


def test_status_filters_and_json(kernel):
    a = enqueue_id(kernel)
    b = enqueue_id(kernel)
    assert kernel.cli("cancel", a).returncode == 0
    r = kernel.cli("status", "--status", "cancelled", "--json")
    assert r.returncode == 0, r.stderr
    assert [j["id"] for j in json.loads(r.stdout)["jobs"]] == [a]
    r = kernel.cli("status", "--type", "remote", "--limit", "1", "--json")
    page = json.loads(r.stdout)
    assert [j["id"] for j in page["jobs"]] == [b] and page["next_cursor"] is not None
    r = kernel.cli("status", "--status", "running")
    assert r.returncode == 0 and r.stdout.strip() == "no jobs"


def test_status_of_unknown_job_exits_1(kernel):
    r = kernel.cli("status", "424242")
    assert r.returncode == 1
    assert "(code -32001, not_found)" in r.stderr


# --- cancel / retry ---------------------------------------------------------------------------

def test_cancel_and_retry(kernel):
    job_id = enqueue_id(kernel)
    r = kernel.cli("cancel", job_id, "--reason", "not today")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{job_id} cancelled"
    r = kernel.cli("status", job_id, "--json")
    assert json.loads(r.stdout)["error"]["message"] == "not today"

    r = kernel.cli("retry", job_id)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{job_id} pending"

    r = kernel.cli("retry", job_id)
    assert r.returncode == 1
    assert "(code -32004, invalid_state)" in r.stderr

    r = kernel.cli("cancel", job_id, "--json")
    assert json.loads(r.stdout)["status"] == "cancelled"


def test_cancel_unknown_job_exits_1(kernel):
    r = kernel.cli("cancel", "999999")
    assert r.returncode == 1
    assert re.match(r"jobkernel: .+ \(code -32001, not_found\)$", r.stderr.strip()), r.stderr


# --- logs -------------------------------------------------------------------------------------

def test_logs_and_follow(kernel):
    w = kernel.worker()
    try:
        job_id = enqueue_id(kernel)
        lease = w.fetch_one()
        w.call("log", {"id": job_id, "message": "one"})
        w.call("log", {"id": job_id, "message": "two", "level": "error"})
        r = kernel.cli("logs", job_id)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert len(lines) == 2
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info one", lines[0]), lines
        assert lines[1].endswith(" error two")

        r = kernel.cli("logs", job_id, "--json")
        assert [json.loads(l)["message"] for l in r.stdout.splitlines()] == ["one", "two"]

        p = kernel.popen("logs", job_id, "-f")
        time.sleep(0.5)
        w.call("log", {"id": job_id, "message": "three"})
        time.sleep(0.2)
        w.call("ack", {"lease": lease["lease"]})
        code, out, err = finish(p)
    finally:
        w.close()
    assert code == 0, err
    assert [l.split(" ", 2)[2] for l in out.splitlines()] == ["one", "two", "three"]


def test_logs_follow_of_finished_job_returns_at_once(kernel):
    job_id = enqueue_id(kernel)
    kernel.cli("cancel", job_id)
    r = kernel.cli("logs", job_id, "-f", timeout=5)
    # like --follow: a followed job that did not succeed exits 1 and says how it ended
    assert r.returncode == 1, r.stderr
    assert f"job {job_id} cancelled" in r.stderr, r.stderr


# --- call -------------------------------------------------------------------------------------

def test_call_prints_result_json(kernel):
    r = kernel.cli("call", "stats")
    assert r.returncode == 0, r.stderr
    assert "uptime_s" in json.loads(r.stdout)
    r = kernel.cli("call", "list", '{"limit":1}', "--compact")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 1
    assert json.loads(r.stdout) == {"jobs": [], "next_cursor": None}
    r = kernel.cli("call", "list", '{"limit":1}', "--pretty")
    assert r.stdout.count("\n") > 1 and json.loads(r.stdout)["jobs"] == []


def test_call_error_exits_1_with_code_and_reason(kernel):
    r = kernel.cli("call", "no.such.method")
    assert r.returncode == 1
    assert "(code -32601, method_not_found)" in r.stderr
    r = kernel.cli("call", "get", '{"id":"31337"}')
    assert r.returncode == 1
    assert "(code -32001, not_found)" in r.stderr
    assert r.stdout == ""


# --- settings ---------------------------------------------------------------------------------

def test_settings_get_and_set(kernel):
    r = kernel.cli("settings")
    assert r.returncode == 0, r.stderr
    assert [l.split() for l in r.stdout.splitlines()] == [["workflow.auto_publish", "false"],
                                                          ["workflow.publishing", "true"]]
    r = kernel.cli("settings", "workflow.auto_publish", "true")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["workflow.auto_publish", "true"]
    r = kernel.cli("settings", "workflow.auto_publish")
    assert r.stdout.strip() == "true"
    r = kernel.cli("settings", "auto_publish")  # shorthand for workflow.auto_publish
    assert r.stdout.strip() == "true"
    r = kernel.cli("settings", "--json")
    assert json.loads(r.stdout) == {"workflow.auto_publish": True, "workflow.publishing": True}


def test_settings_bad_value_is_kernel_error(kernel):
    r = kernel.cli("settings", "workflow.publishing", '"maybe"')
    assert r.returncode == 1
    assert "(code -32602, invalid_params)" in r.stderr


# --- watch ------------------------------------------------------------------------------------

def test_watch_not_a_tty_prints_one_line_per_event(kernel):
    p = kernel.popen("watch")
    try:
        time.sleep(0.5)
        job_id = enqueue_id(kernel)
        kernel.cli("cancel", job_id)
        deadline = time.time() + TIMEOUT
        buf = b""
        fd = p.stdout.fileno()
        while time.time() < deadline and buf.count(b"\n") < 2:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                buf += os.read(fd, 65536)
        seen = buf.decode().splitlines()
        assert len(seen) >= 2, seen
        assert re.fullmatch(rf"\S+Z \d+ job\.created {job_id} remote pending", seen[0]), seen
        assert re.fullmatch(rf"\S+Z \d+ job\.status {job_id} pending -> cancelled.*", seen[1]), seen
    finally:
        p.send_signal(signal.SIGINT)
        code, _, err = finish(p)
    assert code == 0, err

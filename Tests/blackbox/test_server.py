"""docs/promises.md §1, §10, §11: running the server — socket, config errors, signals, stdio, limits."""

import json
import os
import signal
import socket
import stat
import subprocess

import jk
from jk import run_serve




def test_socket_mode_0600_by_default(kernel):
    assert stat.S_IMODE(os.stat(kernel.sock).st_mode) == 0o600


def test_socket_mode_flag(kernel_factory):
    k = kernel_factory(jk.BASE_CONFIG, extra_args=["--socket-mode", "0660"])
    assert stat.S_IMODE(os.stat(k.sock).st_mode) == 0o660


def test_state_dir_created_0700(kernel_factory, tmp_home):
    state = os.path.join(tmp_home, "state")
    k = kernel_factory(jk.BASE_CONFIG, start=False, home=tmp_home)
    with open(k.stderr_path, "ab") as err:
        k.proc = subprocess.Popen([k.binary, "serve", "--config", k.config_path], cwd=k.home,
                                  env=k.env({"JOBKERNEL_HOME": state}), stdout=subprocess.DEVNULL, stderr=err)
    k.sock = os.path.join(state, "kernel.sock")
    k.wait_ready()
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert os.path.exists(os.path.join(state, "jobs.db"))


def test_second_kernel_on_live_socket_exits_1(kernel):
    p = run_serve(kernel, "--socket", kernel.sock, "--db", os.path.join(kernel.home, "other.db"))
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert p.stderr.strip(), "expected a clear message on stderr"
    # the first kernel is untouched
    assert isinstance(kernel.client().call("stats", {}), dict)
    assert os.path.exists(kernel.sock)


def test_stale_socket_file_is_replaced(kernel_factory, tmp_home):
    path = os.path.join(tmp_home, "kernel.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # leaves a socket file nobody listens on
    assert os.path.exists(path)
    k = kernel_factory(jk.BASE_CONFIG, home=tmp_home)
    assert isinstance(k.client().call("stats", {}), dict)


def config_error(kernel_factory, toml):
    k = kernel_factory(None, start=False)
    path = os.path.join(k.home, "bad.toml")
    with open(path, "w") as f:
        f.write(toml)
    return run_serve(k, "--socket", k.sock, "--db", k.db, "--config", path)


def test_config_unknown_key_exits_2_naming_it(kernel_factory):
    p = config_error(kernel_factory, "[pipeline]\nmax_parallel_jobs = 2\nbogus_knob = 1\n")
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "bogus_knob" in p.stderr


def test_config_unknown_section_exits_2(kernel_factory):
    p = config_error(kernel_factory, "[nonsense]\nx = 1\n")
    assert p.returncode == 2
    assert "nonsense" in p.stderr


def test_config_unknown_type_key_exits_2(kernel_factory):
    p = config_error(kernel_factory, '[types.t]\nmode = "async_api"\nlease_seconds = 3\n')
    assert p.returncode == 2
    assert "lease_seconds" in p.stderr


def test_config_bad_value_exits_2(kernel_factory):
    p = config_error(kernel_factory, '[pipeline]\nmax_parallel_jobs = "lots"\n')
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "max_parallel_jobs" in p.stderr


def test_config_bad_duration_exits_2(kernel_factory):
    p = config_error(kernel_factory, '[pipeline]\nheartbeat = "soon"\n')
    assert p.returncode == 2
    assert "heartbeat" in p.stderr


def test_config_type_with_two_handlers_exits_2(kernel_factory):
    p = config_error(kernel_factory, '[types.t]\nmode = "internal"\ncommand = ["true"]\nworker = ["cat"]\n')
    assert p.returncode == 2


def test_config_toml_syntax_error_exits_2(kernel_factory):
    p = config_error(kernel_factory, "[pipeline\nmax_parallel_jobs = 2\n")
    assert p.returncode == 2


def test_config_durations_and_sizes_accepted(kernel_factory):
    k = kernel_factory(jk.BASE_CONFIG.replace('backoff_base = "1s"', 'backoff_base = "250ms"') + """
[limits]
max_message_bytes = "16MiB"
max_payload_bytes = "512KiB"
event_retention = "1d"
""")
    assert isinstance(k.client().call("stats", {}), dict)


def test_jobkernel_toml_in_cwd_is_used(kernel_factory, tmp_home):
    with open(os.path.join(tmp_home, "jobkernel.toml"), "w") as f:
        f.write('[types.from_cwd]\nmode = "async_api"\n')
    k = kernel_factory(None, home=tmp_home)  # no --config; cwd = tmp_home
    assert jk.enqueue(k.client(), "from_cwd")["type"] == "from_cwd"


def test_sigterm_exits_0_and_removes_socket(kernel):
    jk.enqueue(kernel.client())
    assert kernel.stop(sig=signal.SIGTERM) == 0
    assert not os.path.exists(kernel.sock)


def test_sigint_exits_0(kernel):
    assert kernel.stop(sig=signal.SIGINT) == 0
    assert not os.path.exists(kernel.sock)


def test_memory_db(kernel_factory):
    k = kernel_factory(jk.BASE_CONFIG, db=":memory:")
    c = k.client()
    job = jk.enqueue(c)
    assert c.call("get", {"id": job["id"]})["id"] == job["id"]


# -- stdio

def test_stdio_closing_stdin_answers_then_exits_0(stdio_factory):
    k = stdio_factory("ndjson", jk.BASE_CONFIG)
    ch = k.chan
    ch.send_raw(b"".join(jk.frame(jk.encode({"jsonrpc": "2.0", "id": i, "method": "enqueue",
                                             "params": {"type": "remote"}}), "ndjson") for i in range(1, 6)))
    k.close_stdin()
    msgs = ch.read_until_eof(timeout=10)
    assert sorted(m["id"] for m in msgs) == [1, 2, 3, 4, 5]
    assert all("result" in m for m in msgs)
    assert k.wait_exit(10) == 0


def test_stdio_stdout_carries_only_protocol_bytes(stdio_factory):
    k = stdio_factory("ndjson", jk.BASE_CONFIG)
    k.call("initialize", {})
    job = k.call("enqueue", {"type": "remote"})["job"]
    k.call("get", {"id": job["id"]})
    assert k.chan.call_error("no_such", {}).code == -32601
    k.close_stdin()
    rest = k.chan.read_until_eof(timeout=10)
    assert rest == []  # Channel already asserted every byte so far parsed as a JSON-RPC frame
    assert k.chan.buf == bytearray()
    assert k.wait_exit(10) == 0


def test_stdio_lsp_close_stdin(stdio_factory):
    k = stdio_factory("lsp", jk.BASE_CONFIG)
    k.chan.send_raw(jk.frame(jk.encode({"jsonrpc": "2.0", "id": 1, "method": "stats"}), "lsp"))
    k.close_stdin()
    msgs = k.chan.read_until_eof(timeout=10)
    assert [m["id"] for m in msgs] == [1]
    assert k.wait_exit(10) == 0


def test_stdio_and_socket_together(kernel_factory):
    k = kernel_factory(jk.BASE_CONFIG, start=False)
    with open(k.stderr_path, "ab") as err:
        k.proc = subprocess.Popen([k.binary, "serve", "--stdio", "--socket", k.sock, "--db", k.db, "--config", k.config_path],
                                  cwd=k.home, env=k.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    try:
        k.wait_ready()
        ch = jk.PipeChannel(k.proc)
        job = ch.call("enqueue", {"type": "remote"})["job"]
        assert k.client().call("get", {"id": job["id"]})["id"] == job["id"]
    finally:
        k.proc.stdin.close()
    assert k.wait_exit(10) == 0
    k.proc.stdout.close()


# -- limits

LIMITS = jk.BASE_CONFIG + """
[limits]
max_items = 10
max_payload_bytes = 1024
"""


def test_max_items(kernel_factory):
    c = kernel_factory(LIMITS).client()
    assert jk.enqueue(c, items=list(range(10)))["items"]["total"] == 10
    e = c.call_error("enqueue", {"type": "remote", "items": list(range(11))})
    assert e.code == -32602 and e.reason == "too_large"
    assert e.data.get("field") == "items" and e.data.get("limit") == 10
    assert len(c.call("list", {})["jobs"]) == 1


def test_max_payload_bytes(kernel_factory):
    c = kernel_factory(LIMITS).client()
    jk.enqueue(c, payload={"s": "a" * 500})
    e = c.call_error("enqueue", {"type": "remote", "payload": {"s": "a" * 2000}})
    assert e.code == -32602 and e.reason == "too_large"
    assert e.data.get("field") == "payload" and e.data.get("limit") == 1024
    assert len(c.call("list", {})["jobs"]) == 1


def test_max_log_bytes_drops_oldest_lines(kernel_factory):
    c = kernel_factory(jk.BASE_CONFIG + "\n[limits]\nmax_log_bytes = 4096\n").client()
    job = jk.enqueue(c)
    jk.fetch_one(c)
    for i in range(40):
        c.call("log", {"id": job["id"], "message": f"{i:03d}" + "y" * 400})
    lines = []
    since = None
    for _ in range(100):
        r = c.call("logs", dict({"id": job["id"], "limit": 1000}, **({"since": since} if since is not None else {})))
        lines += r["lines"]
        since = r["next"]
        if since is None:
            break
    assert 0 < len(lines) < 40
    assert sum(len(l["message"]) for l in lines) <= 4096 + 500
    assert lines[-1]["message"].startswith("039")  # newest kept, oldest dropped


def test_a_log_line_over_max_log_bytes_is_too_large(kernel_factory):
    c = kernel_factory(jk.BASE_CONFIG + "\n[limits]\nmax_log_bytes = 1024\n").client()
    job = jk.enqueue(c)
    jk.fetch_one(c)
    e = c.call_error("log", {"id": job["id"], "message": "z" * 1025})
    assert e.code == -32602 and e.data["reason"] == "too_large"
    assert e.data["field"] == "message" and e.data["limit"] == 1024
    assert c.call("logs", {"id": job["id"]})["lines"] == []


def test_kernel_survives_many_connections(kernel):
    clients = [kernel.client() for _ in range(50)]
    for i, c in enumerate(clients):
        c.request("stats", id=i)
    for i, c in enumerate(clients):
        assert c.wait_response(i)["id"] == i
    for c in clients[:25]:
        c.close()
    assert isinstance(clients[-1].call("stats", {}), dict)


def test_socket_activation_serves_the_inherited_listening_socket(jobkernel_bin, tmp_path):
    # systemd socket activation (LISTEN_PID/LISTEN_FDS, the socket as fd 3): the kernel serves the
    # socket it was handed and leaves the file to the manager that bound it.
    import socket as pysocket
    import subprocess
    path = str(tmp_path / "activated.sock")
    listener = pysocket.socket(pysocket.AF_UNIX, pysocket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)

    def as_fd3():
        os.dup2(listener.fileno(), 3)

    env = dict(os.environ, JOBKERNEL_HOME=str(tmp_path), LISTEN_FDS="1")
    proc = subprocess.Popen(
        ["sh", "-c", 'LISTEN_PID=$$ exec "$0" serve --socket "$1" --db "$2"', jobkernel_bin, path, str(tmp_path / "j.db")],
        env=env, preexec_fn=as_fd3, pass_fds=(3,), stderr=subprocess.PIPE)
    try:
        c = jk.wait_for(lambda: _try_client(path), 10, what="the activated socket answers")
        assert c.call("stats", {})["jobs"]["pending"] == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert os.path.exists(path)  # the manager's file stays
    finally:
        if proc.poll() is None:
            proc.kill()
        listener.close()


def _try_client(path):
    try:
        return jk.Client(path)
    except OSError:
        return None


def test_kernel_allocates_with_jemalloc(kernel):
    """The kernel's malloc is jemalloc (linked in, not preloaded): the store's writer thread frees
    what the loop thread allocates, a pattern glibc's malloc serves from its slow paths."""
    with open(f"/proc/{kernel.pid}/maps") as f:
        maps = f.read()
    assert "libjemalloc" in maps, "libjemalloc is not mapped into the kernel"
    assert "LD_PRELOAD" not in open(f"/proc/{kernel.pid}/environ").read()
    assert kernel.client().call("stats", {})["jobs"] is not None  # and it serves

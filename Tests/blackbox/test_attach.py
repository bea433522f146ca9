"""docs/promises.md §1, attach: `serve --stdio` on a database a live kernel owns bridges stdin/stdout to that
kernel's socket, so that editors and a shell see the same jobs. Real binary, real socket, real
pipes: two "editors" (one Content-Length, one NDJSON) and a shell on one kernel."""

import json
import os
import signal
import subprocess
import sys
import time

import jk


def wait_attached(b, timeout=10):
    jk.wait_for(lambda: "attached to the running kernel" in b.stderr_text(), timeout,
                what="the bridge saying on stderr that it attached")


def test_two_editors_and_a_shell_see_the_same_jobs(kernel, bridge_factory):
    lsp = bridge_factory(kernel, "lsp")
    nd = bridge_factory(kernel, "ndjson")
    # Content-Length in, Content-Length out (the harness fails on any other framing)
    lsp.chan.call("initialize", {"client": {"name": "editor-a"}})
    job = lsp.chan.call("enqueue", {"type": "remote", "payload": {"from": "a"}})["job"]
    wait_attached(lsp)
    assert f"pid {kernel.pid}" in lsp.stderr_text() and kernel.sock in lsp.stderr_text()
    assert job["created_by"] == "editor-a"

    # the second editor (NDJSON) sees the first one's job, and subscribes to it
    sub = nd.chan.call("subscribe", {"ids": [job["id"]]})
    assert sub["jobs"][0]["id"] == job["id"] and sub["jobs"][0]["status"] == "pending"

    # the shell sees it too
    p = kernel.cli("status", job["id"], "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["id"] == job["id"]

    # a batch through the NDJSON bridge is answered as one batch, in NDJSON
    nd.chan.send_obj([
        {"jsonrpc": "2.0", "id": "b1", "method": "get", "params": {"id": job["id"]}},
        {"jsonrpc": "2.0", "method": "$/ignored"},
        {"jsonrpc": "2.0", "id": "b2", "method": "stats", "params": {}},
    ])
    deadline = time.monotonic() + 5
    while not nd.chan.batches:
        nd.chan.pump(deadline - time.monotonic())
    batch = nd.chan.batches.popleft()
    assert sorted(r["id"] for r in batch) == ["b1", "b2"], batch
    # and a batch through the Content-Length bridge, in Content-Length
    lsp.chan.send_obj([{"jsonrpc": "2.0", "id": 90, "method": "get", "params": {"id": job["id"]}}])
    deadline = time.monotonic() + 5
    while not lsp.chan.batches:
        lsp.chan.pump(deadline - time.monotonic())
    assert lsp.chan.batches.popleft()[0]["result"]["id"] == job["id"]

    # the shell cancels; the NDJSON editor's subscription sees it
    p = kernel.cli("cancel", job["id"])
    assert p.returncode == 0, p.stderr
    ev = nd.chan.events_until(lambda e: e["kind"] == "job.status" and e["data"]["to"] == "cancelled")[-1]
    assert ev["job_id"] == job["id"] and ev["subscription"] == sub["subscription"]

    # the first editor closes stdin: its bridge exits 0, the owner and the other editor go on
    lsp.close_stdin()
    assert lsp.wait_exit(10) == 0, lsp.stderr_text()
    assert kernel.running()
    assert nd.chan.call("get", {"id": job["id"]})["status"] == "cancelled"
    assert kernel.client().call("stats", {})["jobs"]["cancelled"] == 1


def test_requests_sent_before_stdin_closes_are_all_answered(kernel, bridge_factory):
    b = bridge_factory(kernel, "lsp")
    ids = [b.chan.request("enqueue", {"type": "remote", "payload": {"n": n}}) for n in range(20)]
    b.close_stdin()
    answers = b.chan.read_until_eof(10)
    assert sorted(a["id"] for a in answers) == ids
    assert all("result" in a for a in answers), answers
    assert b.wait_exit(10) == 0
    assert kernel.client().call("stats", {})["jobs"]["pending"] == 20


def test_no_attach_refuses_and_names_the_owner(kernel):
    p = jk.run_serve(kernel, "--stdio", "--no-attach", "--db", kernel.db)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert f"pid {kernel.pid}" in p.stderr and "owned by a running kernel" in p.stderr, p.stderr
    assert "attached" not in p.stderr


def test_no_attach_without_stdio_is_a_usage_error(kernel):
    p = jk.run_serve(kernel, "--no-attach", "--db", kernel.db)
    assert p.returncode == 2 and "--stdio" in p.stderr, p.stderr


def test_an_owner_serving_no_socket_is_refused(stdio_factory, jobkernel_bin):
    owner = stdio_factory("ndjson")
    owner.call("stats", {})  # it holds the database now
    p = subprocess.run([jobkernel_bin, "serve", "--stdio", "--db", owner.db], cwd=owner.home, env=owner.env(),
                       input="", capture_output=True, text=True, timeout=20)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "serves no socket" in p.stderr and f"pid {owner.pid}" in p.stderr, p.stderr
    assert owner.call("stats", {})["jobs"]["pending"] == 0  # the owner is untouched


def test_the_owners_socket_is_found_from_another_directory(kernel_factory, bridge_factory):
    # the owner serves a socket given as a relative path; the lock file records it absolute
    k = kernel_factory(jk.BASE_CONFIG, extra_args=(), start=False)
    k.sock = "rel.sock"
    with open(k.stderr_path, "ab") as err:
        k.proc = subprocess.Popen([k.binary, "serve", "--socket", "rel.sock", "--db", k.db, "--config", k.config_path],
                                  cwd=k.home, env=k.env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=err)
    k.sock = os.path.join(k.home, "rel.sock")
    k.wait_ready()
    b = bridge_factory(k, "ndjson")
    assert b.chan.call("enqueue", {"type": "remote"})["job"]["id"] == "1"
    wait_attached(b)
    assert os.path.join(k.home, "rel.sock") in b.stderr_text()


def test_bridge_exits_nonzero_when_the_owner_goes_away_and_a_respawn_owns_the_database(kernel, bridge_factory):
    b = bridge_factory(kernel, "lsp")
    job = b.chan.call("enqueue", {"type": "remote"})["job"]
    sub = b.chan.call("subscribe", {"kinds": ["job.created", "job.status"]})
    kernel.stop()
    rc = b.wait_exit(10)
    assert rc == 3, (rc, b.stderr_text())
    assert "closed the connection" in b.stderr_text() and "serve --stdio" in b.stderr_text()

    # the editor respawns it: with no owner left it becomes the owner (stdio only) on the same database
    again = bridge_factory(kernel, "lsp")
    assert again.chan.call("get", {"id": job["id"]})["status"] == "pending"
    assert "attached" not in again.stderr_text()
    # ... and resumes its subscription from the last seq it saw: nothing was missed
    assert again.chan.call("subscribe", {"since": sub["seq"]})["seq"] >= sub["seq"]
    again.close_stdin()
    assert again.wait_exit(15) == 0


def test_a_bridge_follows_the_owner_across_a_restart_by_respawning(kernel, bridge_factory):
    b = bridge_factory(kernel, "ndjson")
    sub = b.chan.call("subscribe", {"kinds": ["job.created"]})
    first = b.chan.call("enqueue", {"type": "remote"})["job"]
    seen = b.chan.next_event()
    assert seen["job_id"] == first["id"]
    kernel.stop()
    assert b.wait_exit(10) == 3
    # while no editor is attached, the shell starts the kernel again and enqueues
    kernel.start()
    second = kernel.client().call("enqueue", {"type": "remote"})["job"]
    # the respawned bridge attaches to the new owner and replays what it missed with `since`
    again = bridge_factory(kernel, "ndjson")
    r = again.chan.call("subscribe", {"kinds": ["job.created"], "since": seen["seq"]})
    ev = again.chan.next_event()
    assert ev["job_id"] == second["id"] and ev["seq"] > seen["seq"] and ev["subscription"] == r["subscription"]
    wait_attached(again)
    assert sub["seq"] <= seen["seq"]


def test_large_messages_cross_the_bridge_both_ways(kernel, bridge_factory):
    b = bridge_factory(kernel, "lsp")
    blob = "x" * 900_000  # under max_payload_bytes (1 MiB)
    ids = [b.chan.request("enqueue", {"type": "remote", "payload": {"blob": blob, "n": n}}) for n in range(3)]
    jobs = [b.chan.unwrap(b.chan.wait_response(i, 20))["job"] for i in ids]
    for n, job in enumerate(jobs):
        got = b.chan.call("get", {"id": job["id"]}, timeout=20)
        assert got["payload"]["blob"] == blob and got["payload"]["n"] == n


def test_sigterm_detaches_the_bridge_and_leaves_the_owner_running(kernel, bridge_factory):
    b = bridge_factory(kernel, "ndjson")
    b.chan.call("stats", {})
    b.proc.send_signal(signal.SIGTERM)
    assert b.wait_exit(10) == 0, b.stderr_text()
    assert "detached" in b.stderr_text()
    assert kernel.client().call("stats", {})["jobs"]["pending"] == 0


def _fake_owner(db, socket_path, serve_after=None, die_after=None):
    """A process that holds <db>.lock like a kernel, naming `socket_path`; it serves an echo on
    that socket after `serve_after` seconds, or exits after `die_after` seconds."""
    code = f"""
import fcntl, os, socket, sys, time
fd = os.open({db + '.lock'!r}, os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0)
os.pwrite(fd, ("pid=%d\\nsocket=%s\\n" % (os.getpid(), {socket_path!r})).encode(), 0)
print("locked", flush=True)
die_after, serve_after = {die_after!r}, {serve_after!r}
if die_after is not None:
    time.sleep(die_after)
    sys.exit(0)
time.sleep(serve_after)
s = socket.socket(socket.AF_UNIX); s.bind({socket_path!r}); s.listen(1)
c, _ = s.accept()
data = b""
while not data.endswith(b"\\n"):
    data += c.recv(4096)
c.sendall(b"echo:" + data)
c.shutdown(socket.SHUT_WR)
time.sleep(5)
"""
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "locked"
    return p


def test_an_owner_still_starting_is_waited_for_and_relayed_byte_for_byte(tmp_home, jobkernel_bin):
    db, sock = os.path.join(tmp_home, "jobs.db"), os.path.join(tmp_home, "late.sock")
    owner = _fake_owner(db, sock, serve_after=1.0)
    try:
        p = subprocess.run([jobkernel_bin, "serve", "--stdio", "--db", db], input="not even json\n",
                           capture_output=True, text=True, timeout=20, cwd=tmp_home,
                           env=dict(os.environ, JOBKERNEL_HOME=tmp_home))
        assert p.returncode == 0, p.stderr
        assert p.stdout == "echo:not even json\n", p.stdout  # what the owner sent, unchanged
        assert f"pid {owner.pid}" in p.stderr and "attached" in p.stderr, p.stderr
    finally:
        owner.kill()
        owner.wait()


def test_an_owner_that_dies_before_it_answers_is_replaced(tmp_home, jobkernel_bin):
    db, sock = os.path.join(tmp_home, "jobs.db"), os.path.join(tmp_home, "never.sock")
    owner = _fake_owner(db, sock, die_after=0.5)
    try:
        p = subprocess.run([jobkernel_bin, "serve", "--stdio", "--db", db],
                           input='{"jsonrpc":"2.0","id":1,"method":"stats","params":{}}\n',
                           capture_output=True, text=True, timeout=30, cwd=tmp_home,
                           env=dict(os.environ, JOBKERNEL_HOME=tmp_home))
        assert p.returncode == 0, p.stderr
        # it took the database and answered itself
        assert json.loads(p.stdout)["result"]["jobs"]["pending"] == 0, p.stdout
        assert "attached" not in p.stderr, p.stderr
    finally:
        owner.kill()
        owner.wait()


def test_a_request_trickling_in_byte_by_byte_is_answered_in_its_framing(kernel, bridge_factory):
    b = bridge_factory(kernel, "lsp")
    body = jk.encode({"jsonrpc": "2.0", "id": "slow", "method": "stats", "params": {}})
    data = jk.frame(body, "lsp")
    for i in range(0, len(data), 7):
        b.chan.send_raw(data[i:i + 7])
        time.sleep(0.002)
    assert b.chan.unwrap(b.chan.wait_response("slow"))["jobs"]["pending"] == 0


def test_kill_9_of_the_owner_ends_the_bridge_with_3(kernel, bridge_factory):
    b = bridge_factory(kernel, "ndjson")
    b.chan.call("subscribe", {})
    kernel.kill9()
    rc = b.wait_exit(10)
    assert rc == 3, (rc, b.stderr_text())
    assert "closed the connection" in b.stderr_text()

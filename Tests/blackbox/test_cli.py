"""docs/promises.md §1: the client CLI (same binary). Output text is not specified by docs/promises.md beyond
"prints the result as JSON" for `call`; elsewhere we only look for the job id / key in stdout."""

import json
import os
import subprocess

import jk


def cli(kernel, *args, **kw):
    return kernel.cli(*args, "--socket", kernel.sock, **kw)


def test_enqueue_prints_the_job_id(kernel):
    p = cli(kernel, "enqueue", "remote", "--payload", '{"a":1}', "--priority", "70")
    assert p.returncode == 0, p.stderr
    jobs = kernel.client().call("list", {})["jobs"]
    assert len(jobs) == 1
    job = jobs[0]
    assert job["id"] in p.stdout  # Open in docs/promises.md: the exact text; we require the id to be printed
    assert job["payload"] == {"a": 1} and job["priority"] == 70 and job["type"] == "remote"


def test_enqueue_with_key_is_idempotent(kernel):
    for _ in range(2):
        p = cli(kernel, "enqueue", "remote", "--payload", "{}", "--key", "once")
        assert p.returncode == 0, p.stderr
    assert len(kernel.client().call("list", {})["jobs"]) == 1


def test_enqueue_unknown_type_exits_1(kernel):
    p = cli(kernel, "enqueue", "no_such_type")
    assert p.returncode == 1
    assert p.stderr.strip() or p.stdout.strip()


def test_status_lists_jobs(kernel):
    c = kernel.client()
    a = jk.enqueue(c)
    b = jk.enqueue(c, "remote2")
    p = cli(kernel, "status")
    assert p.returncode == 0, p.stderr
    assert a["id"] in p.stdout and b["id"] in p.stdout
    p = cli(kernel, "status", b["id"])
    assert p.returncode == 0, p.stderr
    assert b["id"] in p.stdout and "pending" in p.stdout


def test_status_json(kernel):
    # `--json` is not in the synopsis of docs/promises.md §1; we add it (a user of pueue expects it).
    job = jk.enqueue(kernel.client(), payload={"q": 2})
    p = cli(kernel, "status", job["id"], "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    if isinstance(out, dict) and "job" in out:
        out = out["job"]
    assert out["id"] == job["id"] and out["payload"] == {"q": 2}
    p = cli(kernel, "status", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    jobs = out["jobs"] if isinstance(out, dict) else out
    assert [j["id"] for j in jobs] == [job["id"]]


def test_status_unknown_id_exits_1(kernel):
    p = cli(kernel, "status", "999999")
    assert p.returncode == 1


def test_cancel(kernel):
    c = kernel.client()
    job = jk.enqueue(c)
    p = cli(kernel, "cancel", job["id"])
    assert p.returncode == 0, p.stderr
    assert c.call("get", {"id": job["id"]})["status"] == "cancelled"


def test_retry(kernel):
    c = kernel.client()
    job = jk.enqueue(c)
    c.call("cancel", {"id": job["id"]})
    p = cli(kernel, "retry", job["id"])
    assert p.returncode == 0, p.stderr
    assert c.call("get", {"id": job["id"]})["status"] == "pending"
    p = cli(kernel, "retry", job["id"])  # pending: -32004
    assert p.returncode == 1


def test_settings(kernel):
    p = cli(kernel, "settings")
    assert p.returncode == 0, p.stderr
    assert "workflow.publishing" in p.stdout
    p = cli(kernel, "settings", "workflow.publishing", "false")
    assert p.returncode == 0, p.stderr
    c = kernel.client()
    assert c.call("settings.get", {"key": "workflow.publishing"}) == {"workflow.publishing": False}
    p = cli(kernel, "settings", "workflow.publishing")
    assert p.returncode == 0 and "false" in p.stdout.lower()


def test_call_prints_json_result(kernel):
    job = jk.enqueue(kernel.client(), payload={"k": [1, 2]})
    p = cli(kernel, "call", "get", json.dumps({"id": job["id"]}))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["id"] == job["id"] and out["payload"] == {"k": [1, 2]}
    p = cli(kernel, "call", "schedules")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == []


def test_call_kernel_error_exits_1(kernel):
    p = cli(kernel, "call", "get", '{"id":"999"}')
    assert p.returncode == 1
    assert "32001" in p.stderr + p.stdout or "not_found" in p.stderr + p.stdout or "not found" in (p.stderr + p.stdout).lower()


def test_call_bad_params_json_is_usage_error(kernel):
    p = cli(kernel, "call", "get", "{not json")
    assert p.returncode == 2


def test_usage_errors_exit_2(kernel):
    for args in (["enqueue"], ["no-such-subcommand"], ["enqueue", "remote", "--priority", "high"], ["cancel"]):
        p = cli(kernel, *args)
        assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)


def test_no_kernel_exits_3_with_hint(kernel):
    missing = os.path.join(kernel.home, "nobody-here.sock")
    for args in (["status"], ["call", "stats"], ["enqueue", "remote"]):
        p = kernel.cli(*args, "--socket", missing)
        assert p.returncode == 3, (args, p.returncode, p.stderr)
        assert "jobkernel serve" in p.stderr + p.stdout


def test_jobkernel_socket_env_is_respected(kernel):
    job = jk.enqueue(kernel.client())
    p = kernel.cli("status", env={"JOBKERNEL_SOCKET": kernel.sock, "JOBKERNEL_HOME": os.path.join(kernel.home, "empty")})
    assert p.returncode == 0, p.stderr
    assert job["id"] in p.stdout
    p = kernel.cli("call", "get", json.dumps({"id": job["id"]}),
                   env={"JOBKERNEL_SOCKET": os.path.join(kernel.home, "nope.sock"), "JOBKERNEL_HOME": os.path.join(kernel.home, "empty")})
    assert p.returncode == 3


def test_default_socket_under_jobkernel_home(kernel_factory, tmp_home):
    # With neither --socket nor --stdio the kernel serves <state>/kernel.sock; the CLI finds it there.
    k = kernel_factory(jk.BASE_CONFIG, start=False, home=tmp_home)
    k.runs += 1
    with open(k.stderr_path, "ab") as err:
        k.proc = subprocess.Popen([k.binary, "serve", "--db", k.db, "--config", k.config_path],
                                  cwd=k.home, env=k.env(), stdout=subprocess.DEVNULL, stderr=err)
    k.wait_ready()
    p = k.cli("call", "stats")
    assert p.returncode == 0, p.stderr
    assert isinstance(json.loads(p.stdout), dict)


def test_run_command_wait(kernel):
    p = cli(kernel, "run", "--wait", "--", "true")
    assert p.returncode == 0, p.stderr
    p = cli(kernel, "run", "--wait", "--", "false")
    assert p.returncode == 1  # a waited-for job that did not end in success


def test_enqueue_wait(kernel):
    p = cli(kernel, "enqueue", "command", "--payload", json.dumps({"argv": ["true"]}), "--wait")
    assert p.returncode == 0, p.stderr
    assert kernel.client().call("list", {})["jobs"][0]["status"] == "success"


def test_help_prints_usage_and_runs_nothing(kernel):
    # `--help` on any command prints help and runs nothing: `run --help` used to enqueue `--help`.
    for args in (["run", "--help"], ["run", "-h"], ["run", "--wait", "--help"], ["enqueue", "--help"],
                 ["cancel", "--help"], ["retry", "--help"], ["call", "--help"]):
        p = kernel.cli(*args[:1], "--socket", kernel.sock, *args[1:])
        assert p.returncode == 0, (args, p.stdout, p.stderr)
        assert "USAGE" in p.stdout.upper(), (args, p.stdout)
    assert kernel.client().call("list", {})["jobs"] == []


def test_run_after_double_dash_runs_help_as_the_command(kernel):
    p = kernel.cli("run", "--socket", kernel.sock, "--detach", "--", "--help")
    assert p.returncode == 0, p.stderr
    jobs = kernel.client().call("list", {})["jobs"]
    assert len(jobs) == 1 and jobs[0]["payload"]["argv"] == ["--help"]

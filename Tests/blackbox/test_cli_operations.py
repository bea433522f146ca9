"""docs/promises.md §1: the CLI as a pueue user expects it — `run` shows the command's output live and exits
with its code, runs once by default, carries the environment and working directory, takes
--max-attempts, --timeout, --delay, --after, --label; `wait`, `items`, `remove`, `clean`, `pause`,
`resume`; `status` pages through everything and shows label, duration and finish time; `--help`
everywhere; shell completions."""

import json
import re
import os
import subprocess
import time

import pytest

import jk

COMMANDS = ["serve", "enqueue", "run", "status", "watch", "logs", "cancel", "retry", "settings", "call",
            "worker", "wait", "items", "remove", "clean", "pause", "resume"]


def run(kernel, *args, env=None, cwd=None, timeout=30):
    e = kernel.env(env)
    return subprocess.run([kernel.binary, *args], cwd=cwd or kernel.home, env=e, capture_output=True, text=True,
                          timeout=timeout)


def sock(kernel):
    return ["--socket", kernel.sock]


def test_run_prints_the_output_and_exits_with_the_commands_code_carrying_the_environment(kernel):
    p = run(kernel, "run", *sock(kernel), "--", "sh", "-c", 'echo "FOO=$FOO"; echo oops >&2; exit 3', env={"FOO": "bar"})
    assert p.returncode == 3, (p.stdout, p.stderr)
    assert p.stdout == "FOO=bar\n"
    assert "oops" in p.stderr
    job = kernel.client().call("list", {})["jobs"][0]
    assert job["status"] == "failed" and job["attempt"] == 1 and job["max_attempts"] == 1
    assert job["error"]["data"] == {"exit_code": 3}


def test_run_no_env_leaves_the_environment_out_and_status_counts_it(kernel):
    p = run(kernel, "run", *sock(kernel), "--no-env", "--", "sh", "-c", 'echo "FOO=$FOO"', env={"FOO": "bar"})
    assert p.returncode == 0 and p.stdout == "FOO=\n"
    c = kernel.client()
    assert "env" not in c.call("list", {})["jobs"][0]["payload"]
    run(kernel, "run", *sock(kernel), "--", "true", env={"FOO": "bar"})
    job = c.call("list", {})["jobs"][0]
    summary = run(kernel, "status", *sock(kernel), job["id"]).stdout
    n = len(job["payload"]["env"])
    assert re.search(rf"environment +{n} variables", summary) and "FOO" not in summary, summary


def test_run_with_wait_also_shows_the_output(kernel):
    p = run(kernel, "run", *sock(kernel), "--wait", "--", "echo", "hello")
    assert p.returncode == 0 and p.stdout == "hello\n", (p.stdout, p.stderr)


def test_run_shows_output_as_it_comes(kernel):
    proc = subprocess.Popen([kernel.binary, "run", *sock(kernel), "--", "sh", "-c", "echo first; sleep 3; echo second"],
                            cwd=kernel.home, env=kernel.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.monotonic()
        line = proc.stdout.readline()
        assert line == "first\n"
        assert time.monotonic() - t0 < 2.5, "the first line came only at the end"
        assert proc.wait(10) == 0
        assert proc.stdout.read() == "second\n"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_ctrl_c_stops_watching_not_the_job(kernel):
    import signal
    proc = subprocess.Popen([kernel.binary, "run", *sock(kernel), "--", "sh", "-c", "echo started; sleep 2; echo finished"],
                            cwd=kernel.home, env=kernel.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "started\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 130
        job = kernel.client().call("list", {})["jobs"][0]
        err = proc.stderr.read()
        assert f"job {job['id']} keeps running" in err and f"jobkernel cancel {job['id']}" in err, err
        assert jk.wait_status(kernel.client(), job["id"], "success", timeout=10)["status"] == "success"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_run_keeps_the_working_directory(kernel, tmp_path):
    d = tmp_path / "here"
    d.mkdir()
    p = run(kernel, "run", *sock(kernel), "--", "pwd", cwd=str(d))
    assert p.returncode == 0 and p.stdout.strip() == os.path.realpath(str(d))


def test_run_runs_once_unless_max_attempts_says_otherwise(kernel):
    p = run(kernel, "run", *sock(kernel), "--", "false")
    assert p.returncode == 1
    c = kernel.client()
    assert c.call("list", {})["jobs"][0]["attempt"] == 1
    p = run(kernel, "run", *sock(kernel), "--max-attempts", "2", "--", "false")
    assert p.returncode == 1
    job = c.call("list", {})["jobs"][0]
    assert job["attempt"] == 2 and job["max_attempts"] == 2


def test_run_timeout_stops_the_command(kernel):
    t0 = time.monotonic()
    p = run(kernel, "run", *sock(kernel), "--timeout", "1s", "--", "sleep", "30")
    assert time.monotonic() - t0 < 15
    assert p.returncode == 124, (p.stdout, p.stderr)  # as timeout(1) exits
    assert "timed out after 1.0s" in p.stderr
    job = kernel.client().call("list", {})["jobs"][0]
    assert job["status"] == "failed" and job["error"]["data"] == {"timeout_s": 1.0}


def test_run_exits_128_plus_n_when_a_signal_n_ended_the_command(kernel):
    p = run(kernel, "run", *sock(kernel), "--", "sh", "-c", "kill -TERM $$")
    assert p.returncode == 128 + 15, (p.stdout, p.stderr)
    p = run(kernel, "run", *sock(kernel), "--", "sh", "-c", "kill -KILL $$")
    assert p.returncode == 128 + 9, (p.stdout, p.stderr)


def test_run_exits_with_the_code_of_its_last_attempt_and_1_when_cancelled(kernel):
    p = run(kernel, "run", *sock(kernel), "--", "sh", "-c", "exit 7")
    assert p.returncode == 7
    p = run(kernel, "run", *sock(kernel), "--max-attempts", "2", "--timeout", "1s", "--",
            "sh", "-c", '[ "$JOBKERNEL_ATTEMPT" = 1 ] && sleep 30; exit 5')
    assert p.returncode == 5, (p.stdout, p.stderr)  # the first attempt timed out, the last one exited 5
    a = run(kernel, "run", *sock(kernel), "-d", "--", "sleep", "30").stdout.strip()
    follower = subprocess.Popen([kernel.binary, "run", *sock(kernel), "--after", a, "--", "true"],
                                env=kernel.env(), cwd=kernel.home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    assert run(kernel, "cancel", *sock(kernel), a).returncode == 0
    out, err = follower.communicate(timeout=20)
    assert follower.returncode == 1, err  # skipped: its dependency was cancelled


def test_logs_mark_where_each_attempt_and_a_retry_begin(kernel):
    # protocol/protocol.md, logs: the kernel logs `── attempt N ──` where a run after the first begins
    p = run(kernel, "run", *sock(kernel), "--max-attempts", "2", "--", "sh", "-c", 'echo "try $JOBKERNEL_ATTEMPT"; exit 1')
    assert p.returncode == 1
    job = kernel.client().call("list", {})["jobs"][0]["id"]
    def messages():
        out = run(kernel, "logs", *sock(kernel), job).stdout.splitlines()
        return [line.split(" ", 2)[2] for line in out]  # `ts level message`
    assert messages() == ["try 1", "── attempt 2 ──", "try 2"]
    assert run(kernel, "retry", *sock(kernel), job).returncode == 0
    assert run(kernel, "wait", *sock(kernel), job).returncode == 1
    assert messages() == ["try 1", "── attempt 2 ──", "try 2", "── retried ──", "try 1", "── attempt 2 ──", "try 2"]


def test_run_delay_and_detach(kernel):
    p = run(kernel, "run", *sock(kernel), "--detach", "--delay", "1h", "--", "true")
    assert p.returncode == 0
    job = kernel.client().call("get", {"id": p.stdout.strip()})
    assert job["status"] == "scheduled" and job["run_at"] is not None


def test_run_after_waits_for_the_dependency_and_is_skipped_when_it_fails(kernel):
    a = run(kernel, "run", *sock(kernel), "-d", "--", "sleep", "1").stdout.strip()
    p = run(kernel, "run", *sock(kernel), "--after", a, "--", "echo", "after")
    assert p.returncode == 0 and p.stdout == "after\n"
    assert kernel.client().call("get", {"id": a})["status"] == "success"
    bad = run(kernel, "run", *sock(kernel), "-d", "--", "false").stdout.strip()
    p = run(kernel, "run", *sock(kernel), "--after", bad, "--", "echo", "never")
    assert p.returncode == 1 and "never" not in p.stdout
    assert f"dependency {bad} ended failed" in p.stderr


def test_run_bad_options_are_usage_errors(kernel):
    for args in (["--timeout", "soon"], ["--max-attempts", "0"], ["--after", "x1"], ["--detach", "--wait"]):
        p = run(kernel, "run", *sock(kernel), *args, "--", "true")
        assert p.returncode == 2, (args, p.stderr)
    assert kernel.client().call("list", {})["jobs"] == []


def test_status_shows_label_duration_and_finish_and_pages_through_everything(kernel):
    run(kernel, "run", *sock(kernel), "--label", "nightly backup", "--", "sh", "-c", "sleep 0.3")
    run(kernel, "run", *sock(kernel), "--", "echo", "two words", "x")
    p = run(kernel, "status", *sock(kernel))
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["ID", "TYPE", "STATUS", "PROGRESS", "ATTEMPT", "AGE", "DURATION", "FINISHED", "LABEL"]
    assert lines[1].endswith("echo 'two words' x"), lines
    assert lines[2].endswith("nightly backup"), lines
    duration = lines[2].split()[6]
    assert duration.endswith("s") and float(duration[:-1]) >= 0.3, lines[2]
    assert lines[2].split()[7] == "0s"
    c = kernel.client()
    for _ in range(23):
        c.call("enqueue", {"type": "remote"})
    p = run(kernel, "status", *sock(kernel))
    assert len(p.stdout.splitlines()) == 21 and "--all" in p.stderr
    p = run(kernel, "status", *sock(kernel), "--all")
    assert len(p.stdout.splitlines()) == 26 and p.stderr == ""
    p = run(kernel, "status", *sock(kernel), "--limit", "3", "--json")
    page = json.loads(p.stdout)
    assert len(page["jobs"]) == 3 and page["next_cursor"] is not None
    p = run(kernel, "status", *sock(kernel), "--limit", "1500", "--json")
    assert len(json.loads(p.stdout)["jobs"]) == 25


def test_wait_items_remove_clean(kernel):
    c = kernel.client()
    ok = run(kernel, "run", *sock(kernel), "-d", "--", "true").stdout.strip()
    bad = run(kernel, "run", *sock(kernel), "-d", "--", "false").stdout.strip()
    p = run(kernel, "wait", *sock(kernel), ok)
    assert p.returncode == 0 and p.stdout == f"{ok} success\n"
    p = run(kernel, "wait", *sock(kernel), ok, bad)
    assert p.returncode == 1 and p.stdout == f"{ok} success\n{bad} failed\n"
    job = c.call("enqueue", {"type": "remote", "items": ["a", "b"]})["job"]
    leases = c.call("fetch", {"types": ["remote"], "max": 2})["leases"]
    c.call("ack", {"lease": leases[0]["lease"], "result": {"n": 1}})
    c.call("nack", {"lease": leases[1]["lease"], "error": "bad item", "retryable": False})
    p = run(kernel, "items", *sock(kernel), job["id"])
    assert p.returncode == 0
    rows = p.stdout.splitlines()
    assert rows[0].split() == ["INDEX", "STATUS", "ATTEMPT", "VALUE", "RESULT"]
    assert rows[1].split()[:4] == ["0", "success", "1", '"a"'] and rows[1].endswith('{"n":1}')
    assert rows[2].split()[:4] == ["1", "failed", "1", '"b"'] and rows[2].endswith("error: bad item")
    p = run(kernel, "items", *sock(kernel), job["id"], "--status", "failed", "--json")
    assert [json.loads(l)["index"] for l in p.stdout.splitlines()] == [1]
    p = run(kernel, "remove", *sock(kernel), ok)
    assert p.returncode == 0 and p.stdout == "removed 1\n"
    p = run(kernel, "remove", *sock(kernel), ok)
    assert p.returncode == 1 and "not found" in p.stderr
    p = run(kernel, "clean", *sock(kernel), "--status", "failed", "--older-than", "1h")
    assert p.returncode == 0 and p.stdout == "removed 0\n"
    p = run(kernel, "clean", *sock(kernel), "--status", "failed")
    assert p.returncode == 0 and p.stdout == "removed 1\n"
    p = run(kernel, "clean", *sock(kernel), "--status", "pending")
    assert p.returncode == 2


def test_pause_and_resume(kernel):
    p = run(kernel, "pause", *sock(kernel), "command")
    assert p.returncode == 0 and "paused.command true" in p.stdout
    job = run(kernel, "run", *sock(kernel), "-d", "--", "true").stdout.strip()
    time.sleep(0.5)
    c = kernel.client()
    assert c.call("get", {"id": job})["status"] == "pending"
    p = run(kernel, "resume", *sock(kernel))
    assert p.returncode == 0 and "paused.command false" in p.stdout
    jk.wait_status(c, job, "success")
    p = run(kernel, "pause", *sock(kernel), "nope")
    assert p.returncode == 1 and "nope" in p.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_that_runs_nothing(kernel, command):
    for flag in ("--help", "-h"):
        p = run(kernel, command, flag, env={"JOBKERNEL_SOCKET": kernel.sock})
        assert p.returncode == 0, (command, p.stderr)
        assert "USAGE:" in p.stdout, (command, p.stdout)
    assert kernel.client().call("list", {})["jobs"] == []
    assert kernel.client().call("settings.get", {}) == {"workflow.auto_publish": False, "workflow.publishing": True}


@pytest.mark.parametrize("shell,marker", [("bash", "-F _jobkernel jobkernel"), ("zsh", "#compdef jobkernel"), ("fish", "complete -c 'jobkernel'")])
def test_shell_completions_are_generated(kernel, shell, marker):
    p = run(kernel, "--generate-completion-script", shell)
    assert p.returncode == 0 and marker in p.stdout
    for command in ("wait", "items", "remove", "clean", "pause", "resume"):
        assert command in p.stdout

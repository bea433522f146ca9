"""docs/promises.md §1: every hint names a real command. The CLI's error paths and every command's
`--help` are run, and each command they name in backticks (`jobkernel status`, `run --follow`) must
be one `jobkernel --help` lists, with options that command has."""

import re
import subprocess

import pytest

import cli_help


def spans(text):
    return re.findall(r"`([^`\n]+)`", text)


def named_commands(text):
    """The command lines a message names: backticked `jobkernel …`, backticked `CMD --option…`,
    and a backticked single word after "with", "run", "use" or "try"."""
    found = []
    for span in spans(text):
        words = cli_help.tokens(span)
        if not words:
            continue
        if words[0] == "jobkernel":
            found.append(words[1:])
        elif len(words) > 1 and words[1].startswith("--") and re.fullmatch(r"[a-z][a-z-]*", words[0]):
            found.append(words)
    for word in re.findall(r"\b(?:with|run|use|try)\s+`([a-z][a-z0-9-]*)`", text, flags=re.I):
        found.append([word])
    return found


def problems_in(what, text):
    out = []
    for words in named_commands(text):
        out += [f"{what}: {p}  (in: {text.strip()[:200]!r})" for p in cli_help.check(words)]
    return out


def cli(kernel, *args, timeout=30):
    return subprocess.run([kernel.binary, *args], env=kernel.env(), cwd=kernel.home, capture_output=True,
                          text=True, timeout=timeout)


ERROR_PATHS = [
    ["status", "99999"], ["cancel", "99999"], ["retry", "99999"], ["logs", "99999"], ["items", "99999"],
    ["wait", "99999"], ["remove", "99999"], ["run", "--after", "99999", "--", "true"],
    ["enqueue", "no_such_type"], ["settings", "workflow.publsihing", "true"], ["settings", "nonsense"],
    ["call", "no.such.method"], ["call", "get", '{"id": "1", "bogus": 1}'], ["run"], ["run", "--detach", "--wait", "--", "true"],
    ["enqueue"], ["nosuchcommand"], ["status", "--bogus"],
]


def test_the_cli_error_paths_name_only_real_commands(kernel):
    problems = []
    seen = 0
    for args in ERROR_PATHS:
        p = cli(kernel, args[0], "--socket", kernel.sock, *args[1:])
        assert p.returncode != 0, (args, p.stdout)
        seen += len(named_commands(p.stderr))
        problems += problems_in("jobkernel " + " ".join(args), p.stderr)
    # without a kernel: the hint says how to start one
    p = cli(kernel, "status", "--socket", kernel.home + "/nothing.sock")
    assert p.returncode == 3 and "`jobkernel serve`" in p.stderr
    problems += problems_in("status (no kernel)", p.stderr)
    assert not problems, "\n".join(problems)
    assert seen >= 8, "the error paths name commands to check"


def test_a_missing_job_is_answered_with_a_command_that_lists_jobs(kernel):
    p = cli(kernel, "status", "--socket", kernel.sock, "99999")
    assert p.returncode == 1
    assert "Job 99999 not found; `jobkernel status` lists the jobs there are." in p.stderr
    assert "`list`" not in p.stderr


def test_every_commands_help_names_only_real_commands():
    problems = problems_in("jobkernel --help", cli_help.help_text())
    for command in sorted(cli_help.subcommands()):
        problems += problems_in(f"jobkernel {command} --help", cli_help.help_text(command))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("message, bad", [
    ("Check the id with `list`.", True),
    ("start one with `jobkernel serve`", False),
    ("exit like `run --follow`", False),
    ("see `jobkernel lsit`", True),
    ("`status --jsn` shows them", True),
])
def test_the_hint_checker_tells_a_real_command_from_a_missing_one(message, bad):
    assert bool(problems_in("example", message)) == bad


def test_a_mistyped_toggle_is_refused_with_did_you_mean_and_creates_nothing(kernel):
    # protocol/protocol.md item 26
    p = cli(kernel, "settings", "--socket", kernel.sock, "workflow.publsihing", "false")
    assert p.returncode == 1
    assert "did you mean workflow.publishing?" in p.stderr
    assert "workflow.auto_publish, workflow.publishing" in p.stderr
    p = cli(kernel, "settings", "--socket", kernel.sock)
    assert p.returncode == 0 and "publsihing" not in p.stdout

"""The README's and docs/' command lines (and those of protocol/ and the clients', editors' and
examples' guides) are ones the CLI takes: each `jobkernel …` line in a code block, and each
`jobkernel …` in backticks in the text, names a command that exists (`jobkernel CMD --help` exits
0) and only options that command has, so a doc statement that stops being true fails the suite.
No kernel is needed for that: the checks read the CLI's own help.

Then the README's and docs/' examples run: each `jobkernel …` line of their code blocks, in order
per document, against a kernel started for that document in a temp dir (found by
`$JOBKERNEL_SOCKET`, as the docs say). A synopsis runs in its shortest form: optional `[…]`
groups are left out, the first of `A | B` is taken, and placeholders are filled in (`PLACEHOLDERS`;
an id, written `ID` or as a number like `17`, becomes a job of the kind the command needs, made
just before it). A usage error (exit 2, `Usage:`) or any other non-zero exit fails the test.
Commands that cannot run in a test are left out by `CANNOT_RUN`, each with its reason."""

import os
import re
import shlex
import subprocess

import pytest

import cli_help
import jk
from jk import enqueue, fetch_one, wait_status

REPO = cli_help.REPO


def markdown_in(folder, deep=False):
    out = []
    for root, dirs, files in os.walk(os.path.join(REPO, folder)):
        dirs[:] = sorted(d for d in dirs if deep and d not in ("node_modules", ".build"))
        out += [os.path.relpath(os.path.join(root, f), REPO) for f in sorted(files) if f.endswith(".md")]
    return out


# The README and docs/, and the other guides a user follows: protocol/, the clients', editors' and
# examples' READMEs.
DOCS = ["README.md"] + markdown_in("docs") + markdown_in("protocol") + markdown_in("clients", deep=True) + \
    markdown_in("editors", deep=True) + markdown_in("examples", deep=True)


def commands(doc):
    text = open(os.path.join(REPO, doc), encoding="utf-8").read()
    return cli_help.command_lines(text)


def test_the_docs_have_command_lines_to_check():
    assert sum(len(commands(d)) for d in DOCS) >= 25


@pytest.mark.parametrize("doc", DOCS)
def test_every_jobkernel_command_line_in_the_docs_parses(doc):
    problems = []
    for line, words in commands(doc):
        problems += [f"{doc}:{line}: {p}" for p in cli_help.check(words)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS)
def test_every_jobkernel_command_named_in_the_text_parses(doc):
    text = open(os.path.join(REPO, doc), encoding="utf-8").read()
    problems = []
    for span in re.findall(r"`jobkernel ([^`\n]+)`", text):
        words = cli_help.tokens(span)
        if words and re.fullmatch(r"-.*|[a-z][a-z0-9-]*", words[0]):
            problems += [f"{doc}: `jobkernel {span}`: {p}" for p in cli_help.check(words)]
    assert not problems, "\n".join(problems)


def test_the_checker_catches_a_wrong_command_and_a_wrong_option():
    assert cli_help.check(["lsit"])
    assert cli_help.check(["run", "--detatch", "--", "true"])
    assert not cli_help.check(["run", "--detach", "--", "cargo", "--frobnicate"])
    assert not cli_help.check(["worker", "sync-api"])  # a hidden command


# -- Running the examples

# What a test cannot run, by the command's first word(s), each with why. Nothing else is left out.
CANNOT_RUN = {
    ("serve",): "starts a kernel in the foreground; the test starts its own",
    ("web",): "serves HTTP until stopped; Tests/web runs the gateway",
    ("watch",): "runs until Ctrl-C; test_tty.py and test_cli_waiting_views.py run it under tmux",
}

# What a synopsis's placeholders become. None: the word is left out (`CMD ARGS…` is `true`).
PLACEHOLDERS = {
    "TYPE": "remote", "N": "2", "D": "1s", "METHOD": "stats", "PARAMS_JSON": "{}", "CMD": "true",
    "ARGS…": None, "TEXT": "docs", "KEY": "workflow.publishing", "VALUE": "true",
}

# Commands whose positional words are job ids, and the kind of job each needs (else a success).
ID_COMMANDS = {"status", "wait", "items", "logs", "cancel", "retry", "remove", "restart"}
NEEDS = {"cancel": "pending", "retry": "cancelled"}

RUN_DOCS = ["README.md"] + markdown_in("docs")


def shortest_form(words):
    """The runnable words of a doc's `jobkernel WORDS…`: optional groups dropped, cut at the first
    shell word (`|`, `>`, `#`, …), so `parallel TYPE N | --reset` runs `parallel TYPE N`."""
    text = " ".join(shlex.quote(w) if re.search(r"\s|['\"]", w) else w for w in words)
    while True:
        shorter = re.sub(r"\s*\[(?=[-A-Z])[^\[\]]*\]", "", text)
        if shorter == text:
            break
        text = shorter
    out = []
    for word in cli_help.tokens(text):
        if word in cli_help.SHELL_STOPS or word.startswith("#"):
            break
        out.append(word)
    return out


# The kernel the examples run against: `remote` is the examples' TYPE; the jobs the test makes for
# them are of types of their own, so that no example's job is fetched in their place.
RUN_CONFIG = jk.BASE_CONFIG + """
[types.docs_done]
mode = "async_api"
"""


def make_job(c, kind):
    """A job of `kind` (`success`, `pending`, `cancelled`); returns its id."""
    job = enqueue(c, "remote2" if kind != "success" else "docs_done", label="docs example")["id"]
    if kind == "pending":
        return job
    if kind == "cancelled":
        c.call("cancel", {"id": job})
        return job
    lease = fetch_one(c, ["docs_done"])
    assert lease["job"]["id"] == job, lease
    c.call("ack", {"lease": lease["lease"], "result": {"ok": True}})
    wait_status(c, job, {"success"})
    return job


def filled_in(words, c):
    """`words` with their placeholders and example ids replaced; raises on a placeholder with no
    substitution, so a new one is added to `PLACEHOLDERS` on purpose."""
    out = []
    job = None
    for i, word in enumerate(words):
        if word == "--":
            out += words[i:i + 1] + [PLACEHOLDERS.get(w, w) for w in words[i + 1:] if PLACEHOLDERS.get(w, w)]
            break
        after_option = i > 0 and words[i - 1].startswith("-") and not re.fullmatch(r"-[a-z]", words[i - 1])
        if words[0] in ID_COMMANDS and i > 0 and not after_option and re.fullmatch(r"ID…?|\d+", word):
            job = job or make_job(c, NEEDS.get(words[0], "success"))
            out.append(job)
        elif re.fullmatch(r"[A-Z][A-Z_]*…?", word):
            assert word in PLACEHOLDERS, f"no substitution for the placeholder {word}: add it to PLACEHOLDERS"
            if PLACEHOLDERS[word] is not None:
                out.append(PLACEHOLDERS[word])
        else:
            out.append(word)
    return out


def cannot_run(words):
    return next((why for first, why in CANNOT_RUN.items() if tuple(words[:len(first)]) == first), None)


def says_it_prints_the_id(doc, line):
    """Whether the example's comment says it prints the job's id (docs/editors.md's Helix lines)."""
    text = open(os.path.join(REPO, doc), encoding="utf-8").read().splitlines()[line - 1]
    return re.search(r"#.*prints (the|its|the job's) (job )?id", text) is not None


def run_example(k, c, words, prints_id=False):
    """Runs one example; returns a problem (a string) or None. `prints_id`: its doc says it prints
    the job's id, so its output must be that and nothing else."""
    argv = filled_in(shortest_form(words), c)
    env = k.env({"JOBKERNEL_SOCKET": k.sock})
    try:
        p = subprocess.run([k.binary, *argv], cwd=k.home, env=env, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=60)
    except subprocess.TimeoutExpired:
        return f"`jobkernel {shlex.join(argv)}` did not finish in 60 s"
    if p.returncode == 2 or "Usage:" in p.stderr or "nknown option" in p.stderr:
        return f"`jobkernel {shlex.join(argv)}` is a usage error (exit {p.returncode}): {p.stderr.strip()}"
    if p.returncode != 0:
        return f"`jobkernel {shlex.join(argv)}` exited {p.returncode}: {p.stderr.strip()}"
    if prints_id and not re.fullmatch(r"\d+\n", p.stdout):
        return f"`jobkernel {shlex.join(argv)}` is said to print the job id, but printed {p.stdout!r}"
    return None


@pytest.mark.parametrize("doc", RUN_DOCS)
def test_every_example_in_the_readme_and_docs_runs(doc, kernel_factory):
    examples = commands(doc)
    runnable = [(line, words) for line, words in examples if not cannot_run(words)]
    if not runnable:
        # Every example of this document is one the allowlist names; nothing to run.
        assert all(cannot_run(words) for _, words in examples)
        return
    k = kernel_factory(RUN_CONFIG)
    c = k.client()
    problems = []
    for line, words in runnable:
        problem = run_example(k, c, words, prints_id=says_it_prints_the_id(doc, line))
        if problem:
            problems.append(f"{doc}:{line}: {problem}")
    assert not problems, "\n".join(problems)


def test_the_docs_have_examples_to_run_and_each_exception_is_used():
    examples = [words for doc in RUN_DOCS for _, words in commands(doc)]
    assert sum(1 for words in examples if not cannot_run(words)) >= 20
    for first in CANNOT_RUN:
        assert any(tuple(words[:len(first)]) == first for words in examples), f"CANNOT_RUN has an unused {first}"


def test_the_runner_fills_in_a_synopsis_and_catches_a_usage_error(kernel_factory):
    assert shortest_form(["status", "[ID]", "[--status", "S]", "[--limit", "N", "|", "--all]", "[--json]"]) == ["status"]
    assert shortest_form(["parallel", "TYPE", "N", "|", "--reset"]) == ["parallel", "TYPE", "N"]
    assert shortest_form(["settings", "[KEY", "[VALUE]]"]) == ["settings"]
    assert shortest_form(["logs", "ID", "[-f", "[--timeout", "D]]"]) == ["logs", "ID"]
    k = kernel_factory(RUN_CONFIG)
    c = k.client()
    assert filled_in(["run", "--", "CMD", "ARGS…"], c) == ["run", "--", "true"]
    cancelled = filled_in(["retry", "17"], c)[1]
    assert c.call("get", {"id": cancelled})["status"] == "cancelled"
    assert run_example(k, c, ["retry", "17"]) is None
    assert "usage error" in run_example(k, c, ["status", "--frobnicate"])
    assert "exited 1" in run_example(k, c, ["call", "no.such.method"])
    # docs/editors.md once said `run -- cargo build` prints the job id; only `run --detach` does.
    assert "said to print the job id" in run_example(k, c, ["run", "--", "true"], prints_id=True)
    assert run_example(k, c, ["run", "--detach", "--", "true"], prints_id=True) is None
    assert says_it_prints_the_id("docs/editors.md", next(
        n for n, line in enumerate(open(os.path.join(REPO, "docs/editors.md"), encoding="utf-8"), 1)
        if ":sh jobkernel run --detach -- cargo build" in line))

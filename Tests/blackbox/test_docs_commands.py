"""The README's and docs/'s command lines are ones the CLI takes: each `jobkernel …` line in a code
block names a command that exists (`jobkernel --help` lists it, `jobkernel CMD --help` exits 0)
and only options that command has, so a doc statement that stops being true fails the suite. No
kernel is needed: the checks read the CLI's own help."""

import os

import pytest

import cli_help

REPO = cli_help.REPO
DOCS = ["README.md"] + sorted(os.path.join("docs", f) for f in os.listdir(os.path.join(REPO, "docs")) if f.endswith(".md"))


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


def test_the_checker_catches_a_wrong_command_and_a_wrong_option():
    assert cli_help.check(["lsit"])
    assert cli_help.check(["run", "--detatch", "--", "true"])
    assert not cli_help.check(["run", "--detach", "--", "cargo", "--frobnicate"])

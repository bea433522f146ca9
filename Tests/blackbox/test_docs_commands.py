"""The README's and docs/' command lines (and those of protocol/ and the clients', editors' and
examples' guides) are ones the CLI takes: each `jobkernel …` line in a code block, and each
`jobkernel …` in backticks in the text, names a command that exists (`jobkernel CMD --help` exits
0) and only options that command has, so a doc statement that stops being true fails the suite.
No kernel is needed: the checks read the CLI's own help."""

import os
import re

import pytest

import cli_help

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

"""What the CLI says it has, read from its own `--help`: the commands and each command's options.
Used to check that a command line written in the docs or in a hint is one the CLI takes, with no
kernel running."""

import functools
import os
import re
import shlex
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def binary_path():
    return os.environ.get("JOBKERNEL_BIN") or os.path.join(REPO, ".build", "debug", "jobkernel")

# Words that end a command line's own options in a shell line.
SHELL_STOPS = {"|", "||", "&&", ";", "&", ">", ">>", "2>", "2>&1", "<", "#", ")", "$(", "`"}


@functools.lru_cache(maxsize=None)
def help_text(*words):
    """`jobkernel WORDS… --help`, which must exit 0 and print to stdout."""
    p = subprocess.run([binary_path(), *words, "--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, f"`jobkernel {' '.join(words)} --help` exited {p.returncode}: {p.stderr}"
    return p.stdout


@functools.lru_cache(maxsize=None)
def exists(*words):
    """Whether `jobkernel WORDS… --help` is that command's help (its usage line names it): also
    true of a hidden command (`worker`). An unknown word gets the parent's help."""
    p = subprocess.run([binary_path(), *words, "--help"], capture_output=True, text=True, timeout=30)
    return p.returncode == 0 and f"USAGE: jobkernel {' '.join(words)}" in p.stdout


def subcommands(*words):
    """The subcommands `jobkernel WORDS… --help` lists under SUBCOMMANDS."""
    text = help_text(*words)
    if "SUBCOMMANDS:" not in text:
        return set()
    block = text.split("SUBCOMMANDS:", 1)[1]
    names = set()
    for line in block.splitlines()[1:]:
        if line and not line.startswith(" "):
            break
        m = re.match(r"^  ([a-z][a-z0-9-]*)\b", line)
        if m:
            names.add(m.group(1))
    return names


def options(*words):
    """Every option `jobkernel WORDS… --help` names (long and short), plus --help/-h."""
    text = help_text(*words)
    found = set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", text))
    found |= set(re.findall(r"(?<![\w-])(-[a-zA-Z])\b", text))
    return found | {"--help", "-h"}


def tokens(line):
    try:
        return shlex.split(line, comments=False, posix=True)
    except ValueError:
        return line.split()


def check(words):
    """Problems with `jobkernel WORDS…` (the words after `jobkernel`): the command must exist and
    each option before `--` must be one of its options. Returns a list of problems (empty: fine)."""
    problems = []
    if not words:
        return problems
    path = []
    rest = list(words)
    # The command (and a sub-command such as `worker sync-api`).
    while rest and not rest[0].startswith("-") and (
            rest[0] in subcommands(*path) or (re.fullmatch(r"[a-z][a-z0-9-]*", rest[0]) and
                                               subcommands(*path) and exists(*path, rest[0]))):
        path.append(rest.pop(0))
    if not path and rest and not rest[0].startswith("-"):
        return [f"`{rest[0]}` is not a jobkernel command (have: {', '.join(sorted(subcommands()))})"]
    known = options(*path)
    if not path:
        known |= {"--version", "--generate-completion-script"}
    for word in rest:
        if word == "--" or word in SHELL_STOPS or word.startswith("#"):
            break
        # `--flag=value`, `[--flag`, `--flag]`, `--a|--b`
        for part in re.split(r"[|\[\]]", word):
            part = part.split("=", 1)[0].rstrip(",.…")
            if re.fullmatch(r"--?[A-Za-z][A-Za-z0-9-]*", part) and part not in known:
                problems.append(f"`jobkernel {' '.join(path)}` has no option {part}")
    return problems


def command_lines(text):
    """(line number, the words after `jobkernel`) for each `jobkernel …` command in `text`'s fenced
    code blocks."""
    found = []
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            continue
        code = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        words = tokens(code)
        for i, word in enumerate(words):
            word = word.removeprefix("ExecStart=").removeprefix("$(").removeprefix("`")
            at_start = i == 0 or words[i - 1] in SHELL_STOPS | COMMAND_PREFIXES or words[i].startswith(("ExecStart=", "$(", "`"))
            if (word == "jobkernel" or word.endswith("/jobkernel")) and at_start:
                rest = words[i + 1:]
                # `jobkernel cancel ID / retry ID`: two commands on one synopsis line
                while rest and re.fullmatch(r"-.*|[a-z][a-z0-9-]*", rest[0]):
                    cut = rest.index("/") if "/" in rest else len(rest)
                    found.append((number, rest[:cut]))
                    rest = rest[cut + 1:]
                break
    return found


# Words after which a shell line's next word is a command.
COMMAND_PREFIXES = {"$", ":sh", "sudo", "exec", "time", "command", "nohup", "env", "watch", "do", "then"}

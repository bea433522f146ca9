"""scripts/install puts jobkernel and jobkernel-supervise on PATH under PREFIX, with shell completions
and the man page, and the installed binary works (docs/promises.md §1; the repository is self-contained). The
debug build is installed here (CONFIGURATION=debug) so that the test does not build a release."""

import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_install_puts_binaries_completions_and_man_page_under_prefix(tmp_path):
    prefix = tmp_path / "prefix"
    env = dict(os.environ, PREFIX=str(prefix), CONFIGURATION="debug")
    p = subprocess.run([os.path.join(REPO, "scripts", "install")], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=1200)
    assert p.returncode == 0, p.stdout + p.stderr
    expected = ["bin/jobkernel", "bin/jobkernel-supervise", "bin/jobkernel-web", "share/bash-completion/completions/jobkernel",
                "share/zsh/site-functions/_jobkernel", "share/fish/vendor_completions.d/jobkernel.fish",
                "share/man/man1/jobkernel.1"]
    for rel in expected:
        path = prefix / rel
        assert path.is_file(), (rel, p.stdout, p.stderr)
        assert f"installed {path}" in p.stdout
    assert os.access(prefix / "bin" / "jobkernel", os.X_OK) and os.access(prefix / "bin" / "jobkernel-supervise", os.X_OK)
    assert "not on PATH" in p.stdout
    # The installed binary runs from PATH and finds its supervisor next to it.
    run_env = dict(os.environ, PATH=f"{prefix / 'bin'}:{os.environ['PATH']}", JOBKERNEL_HOME=str(tmp_path / "home"))
    v = subprocess.run(["jobkernel", "--version"], env=run_env, capture_output=True, text=True, timeout=30)
    assert v.returncode == 0 and v.stdout.strip()
    man = (prefix / "share/man/man1/jobkernel.1").read_text()
    assert ".Dt JOBKERNEL 1" in man and "clean" in man and "pause" in man
    assert "complete -o filenames -F _jobkernel jobkernel" in (prefix / "share/bash-completion/completions/jobkernel").read_text()

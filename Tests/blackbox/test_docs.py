"""The repository is self-contained: the README and the guides link only files that exist in it
(never ../shared), and the complete example of docs/configuration.md is a config the kernel
accepts."""

import os
import re

import jk
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DOCS = ["README.md", "docs/configuration.md", "docs/durability.md", "docs/running-as-a-service.md",
        "protocol/protocol.md", "clients/python/README.md", "clients/js/README.md", "clients/shell/README.md"] + \
       [f"examples/{e}/README.md" for e in sorted(os.listdir(os.path.join(REPO, "examples")))
        if os.path.isfile(os.path.join(REPO, "examples", e, "README.md"))]


def links(path):
    text = open(os.path.join(REPO, path), encoding="utf-8").read()
    return re.findall(r"\]\(([^)\s]+)\)", text)


def test_docs_link_only_files_in_the_repository():
    problems = []
    for doc in DOCS:
        for target in links(doc):
            if re.match(r"^[a-z]+://", target) or target.startswith("#") or target.startswith("mailto:"):
                continue
            rel = target.split("#")[0]
            resolved = os.path.normpath(os.path.join(REPO, os.path.dirname(doc), rel))
            if not resolved.startswith(REPO + os.sep) and resolved != REPO:
                problems.append(f"{doc}: {target} points outside the repository")
            elif not os.path.exists(resolved):
                problems.append(f"{doc}: {target} does not exist")
    assert not problems, "\n".join(problems)


def test_readme_lists_every_runnable_example_and_each_has_a_readme():
    readme = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    for example in ("maintenance", "media-pipeline", "uploads", "swift-client", "editor", "shell", "nats-worker", "systemd"):
        assert f"examples/{example}" in readme, example
    for example in ("maintenance", "media-pipeline", "uploads", "swift-client", "editor", "shell", "nats-worker"):
        assert os.path.isfile(os.path.join(REPO, "examples", example, "README.md")), example
    assert os.path.isfile(os.path.join(REPO, "LICENSE")) and "MIT License" in open(os.path.join(REPO, "LICENSE")).read()
    assert "docs/configuration.md" in readme and "scripts/install" in readme and "--generate-completion-script" in readme


def test_the_complete_example_of_the_configuration_reference_starts_a_kernel(kernel_factory):
    text = open(os.path.join(REPO, "docs", "configuration.md"), encoding="utf-8").read()
    example = text.split("## A complete example", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    k = kernel_factory(example)
    c = k.client()
    names = {s["name"]: s for s in c.call("schedules")}
    assert names["nightly_manifest"]["cron"] == "30 3 * * *" and names["nightly_manifest"]["timezone"] == "Europe/Berlin"
    assert set(c.call("stats")["types"]) >= {"thumbnail", "embed", "detect", "detect_remote", "enrich", "publish", "command"}

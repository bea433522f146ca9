"""The dashboard's files as the gateway serves them (docs/web.md, "The dashboard" and "Security"):
the bytes of Sources/JobKernelWeb/Dashboard (embedded by scripts/embed-dashboard), each with its
Content-Type and the headers every answer carries."""

import os

import pytest

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Sources", "JobKernelWeb", "Dashboard")
FILES = [
    ("/", "index.html", "text/html; charset=utf-8"),
    ("/style.css", "style.css", "text/css; charset=utf-8"),
    ("/app.js", "app.js", "text/javascript; charset=utf-8"),
]


@pytest.mark.parametrize("path,name,content_type", FILES)
def test_each_file_is_served_as_it_is_in_the_source_tree(gateway, path, name, content_type):
    status, headers, body = gateway.request("GET", path)
    assert status == 200
    assert headers["content-type"] == content_type
    with open(os.path.join(FOLDER, name), "rb") as f:
        assert body == f.read(), f"the binary serves another {name}: run scripts/embed-dashboard and rebuild"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    policy = headers["content-security-policy"]
    # The page's script and style are files of the gateway's own, so nothing inline is allowed.
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy


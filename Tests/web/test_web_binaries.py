"""The kernel stays free of HTTP (docs/web.md): `jobkernel` links no SwiftNIO, and `jobkernel web`
runs the gateway binary that sits next to it."""

import os
import re
import subprocess

import web

NIO_MODULES = re.compile(rb"(7NIOCore|8NIOPosix|11Hummingbird|5NIOHTTP1)")


def linked_modules(path):
    out = subprocess.run(["nm", path], capture_output=True, timeout=120, check=True).stdout
    return set(m.decode() for m in NIO_MODULES.findall(out))


def test_the_kernel_binary_links_no_swiftnio_and_the_gateway_does():
    assert linked_modules(web.kernel_bin()) == set(), "jobkernel must not carry SwiftNIO or Hummingbird"
    assert {"7NIOCore", "11Hummingbird"} <= linked_modules(web.web_bin()), "the check can see NIO where it is"


def test_the_package_keeps_hummingbird_out_of_the_kernel_targets():
    manifest = open(os.path.join(web.REPO, "Package.swift")).read()
    for target in ("JobKernelCore", "JobKernelStore", "JobKernelIO", "JobKernelServer", "JobKernelClient"):
        block = re.search(r'\.target\(name: "' + target + r'"[^)]*(\)|\]\))', manifest, re.S)
        assert block, target
        assert "hummingbird" not in block.group(0).lower() and "swift-nio" not in block.group(0), target


def test_jobkernel_web_runs_the_gateway_next_to_it(kernel, home):
    proc = subprocess.Popen([web.kernel_bin(), "web", "--listen", "127.0.0.1:0", "--heartbeat", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, JOBKERNEL_SOCKET=kernel.socket))
    try:
        line = proc.stdout.readline()
        assert re.match(r"jobkernel web: http://127\.0\.0\.1:\d+/\?login=[0-9a-f]{64}$", line.strip()), line
        assert re.match(r"jobkernel web: token [0-9a-f]{64} ", proc.stdout.readline())
        assert kernel.socket in proc.stdout.readline(), "the socket came from $JOBKERNEL_SOCKET"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert proc.returncode == 0, "SIGTERM stops the gateway cleanly"
    helped = subprocess.run([web.kernel_bin(), "web", "--help"], capture_output=True, text=True, timeout=30)
    assert helped.returncode == 0 and "--listen" in helped.stdout

"""The gateway's door (SPEC §14): the token, the Host, the Origin, loopback by default."""

import re
import subprocess

import pytest

import web

ENDPOINTS = [("GET", "/"), ("GET", "/app.js"), ("GET", "/events"), ("GET", "/metrics"), ("POST", "/rpc"), ("GET", "/ws")]
STATS = b'{"jsonrpc":"2.0","id":1,"method":"stats"}'


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_every_endpoint_refuses_a_request_without_the_token(gateway, method, path):
    status, headers, body = gateway.request(method, path, STATS if method == "POST" else None, token=False)
    assert status == 401 and b"token" in body
    for leak in (b"app.js", b"addEventListener", b'"result"', b"# TYPE", b"id: "):
        assert leak not in body, "no dashboard, no data"
    assert headers["cache-control"] == "no-store"


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_every_endpoint_refuses_a_wrong_bearer_token(gateway, method, path):
    wrong = "0" * 64
    status, _, body = gateway.request(method, path, STATS if method == "POST" else None, token=False,
                                      headers={"Authorization": f"Bearer {wrong}"})
    assert status == 401 and b"Authorization" in body


def test_a_wrong_token_in_the_url_or_cookie_is_refused(gateway):
    status, headers, _ = gateway.request("GET", "/?token=" + "1" * 64, token=False)
    assert status == 401 and "set-cookie" not in headers
    status, _, _ = gateway.request("GET", "/metrics", token=False, headers={"Cookie": f"jobkernel_token_{gateway.port}={'2' * 64}"})
    assert status == 401


def test_the_url_token_becomes_an_httponly_strict_cookie_and_leaves_the_url(gateway):
    status, headers, _ = gateway.request("GET", f"/?view=x&token={gateway.token}", token=False)
    assert status == 303 and headers["location"] == "/?view=x"
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"jobkernel_token_{gateway.port}={gateway.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    jar = cookie.split(";")[0]
    status, headers, body = gateway.request("GET", "/", token=False, headers={"Cookie": jar})
    assert status == 200 and b"<title>jobkernel</title>" in body
    assert "frame-ancestors 'none'" in headers["content-security-policy"] and headers["referrer-policy"] == "no-referrer"
    status, _, body = gateway.request("POST", "/rpc", STATS, token=False,
                                      headers={"Cookie": jar, "Content-Type": "application/json", "Origin": gateway.base})
    assert status == 200 and b'"seq"' in body


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "localhost.evil.example:{port}"])
def test_a_foreign_host_is_refused_even_with_the_token(gateway, host):
    status, _, body = gateway.request("GET", "/metrics", headers={"Host": host.format(port=gateway.port)})
    assert status == 421 and b"Host" in body


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "localhost"])
def test_the_listen_address_and_localhost_are_accepted(gateway, host):
    status, _, _ = gateway.request("GET", "/metrics", headers={"Host": host.format(port=gateway.port)})
    assert status == 200


def test_a_foreign_origin_cannot_change_state(gateway, kernel):
    before = kernel.call("stats")["jobs"]["pending"] + kernel.call("stats")["jobs"]["success"]
    enqueue = b'{"jsonrpc":"2.0","id":1,"method":"enqueue","params":{"type":"command","payload":{"argv":["true"]}}}'
    for origin in ["http://evil.example", f"http://evil.example:{gateway.port}", "null", f"http://127.0.0.1:{gateway.port + 1}"]:
        status, _, body = gateway.request("POST", "/rpc", enqueue, headers={"Origin": origin, "Content-Type": "application/json"})
        assert status == 403 and b"Origin" in body, origin
    status, _, _ = gateway.request("POST", "/rpc", enqueue, headers={"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"})
    assert status == 403
    after = kernel.call("stats")["jobs"]
    assert after["pending"] + after["success"] + after["running"] == before, "nothing was enqueued"
    # The gateway's own page, and a client that sends no Origin (curl, scripts), may.
    for headers in ({"Origin": gateway.base}, {"Origin": f"http://localhost:{gateway.port}"}, {}):
        status, _, _ = gateway.request("POST", "/rpc", enqueue, headers={**headers, "Content-Type": "application/json"})
        assert status == 200


def test_a_foreign_origin_cannot_open_the_websocket(gateway):
    import websockets.sync.client as ws
    with pytest.raises(Exception) as refused:
        ws.connect(f"ws://127.0.0.1:{gateway.port}/ws", additional_headers=gateway.auth(), origin="http://evil.example",
                   open_timeout=5)
    # The guard refuses the upgrade; Hummingbird answers a refused upgrade 400 (or 403).
    assert "HTTP 400" in str(refused.value) or "HTTP 403" in str(refused.value), refused.value
    with ws.connect(f"ws://127.0.0.1:{gateway.port}/ws", additional_headers=gateway.auth(), origin=gateway.base,
                    open_timeout=5) as accepted:
        accepted.send('{"jsonrpc":"2.0","id":1,"method":"stats"}')
        assert '"seq"' in accepted.recv(timeout=5)


def test_a_fresh_token_per_start(home, kernel):
    first = web.Gateway(home, kernel.socket)
    second = web.Gateway(home, kernel.socket)
    try:
        assert first.token != second.token
        status, _, _ = second.request("GET", "/metrics", headers={"Authorization": f"Bearer {first.token}"}, token=False)
        assert status == 401
    finally:
        first.stop()
        second.stop()


def test_a_non_loopback_listen_needs_allow_remote_and_warns(home, kernel):
    refused = subprocess.run([web.web_bin(), "--listen", "0.0.0.0:0", "--socket", kernel.socket],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "--allow-remote" in refused.stderr, "a usage error exits 2"
    proc = subprocess.Popen([web.web_bin(), "--listen", "0.0.0.0:0", "--allow-remote", "--socket", kernel.socket],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert re.match(r"jobkernel web: http://0\.0\.0\.0:\d+/\?token=[0-9a-f]{64}", line), line
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "WARNING" in err and "not loopback" in err

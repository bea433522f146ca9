"""The gateway's door (docs/web.md, "Security"): the token, the session cookie, the Host, the Origin,
loopback by default."""

import os
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


def test_a_wrong_login_code_or_cookie_is_refused(gateway):
    status, headers, _ = gateway.request("GET", "/?login=" + "1" * 64, token=False)
    assert status == 401 and "set-cookie" not in headers
    status, _, _ = gateway.request("GET", "/metrics", token=False, headers={"Cookie": f"jobkernel_session_{gateway.port}={'2' * 64}"})
    assert status == 401


def test_the_token_is_not_taken_in_a_url(gateway):
    status, headers, body = gateway.request("GET", f"/?token={gateway.token}", token=False)
    assert status == 401 and "set-cookie" not in headers and b"history" in body
    assert b'<form method="post" action="/login">' in body, "the page offers the form instead"


def login(gateway, path="/?view=x&login={code}", expect_location="/?view=x"):
    """Opens the login link once; returns the session cookie pair (name=value)."""
    status, headers, _ = gateway.request("GET", path.format(code=gateway.login_code), token=False)
    assert status == 303 and headers["location"] == expect_location, (status, headers)
    return headers["set-cookie"].split(";")[0]


def test_the_login_link_gives_an_httponly_strict_session_cookie_that_is_not_the_token(gateway):
    status, headers, _ = gateway.request("GET", f"/?view=x&login={gateway.login_code}", token=False)
    assert status == 303 and headers["location"] == "/?view=x"
    cookie = headers["set-cookie"]
    name, value = cookie.split(";")[0].split("=", 1)
    assert name == f"jobkernel_session_{gateway.port}", "the cookie's name carries the port"
    assert re.fullmatch(r"[0-9a-f]{64}", value) and value != gateway.token and gateway.token not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie and "Max-Age=43200" in cookie
    jar = f"{name}={value}"
    status, headers, body = gateway.request("GET", "/", token=False, headers={"Cookie": jar})
    assert status == 200 and b"<title>jobkernel</title>" in body
    assert "frame-ancestors 'none'" in headers["content-security-policy"] and headers["referrer-policy"] == "no-referrer"
    status, _, body = gateway.request("POST", "/rpc", STATS, token=False,
                                      headers={"Cookie": jar, "Content-Type": "application/json", "Origin": gateway.base})
    assert status == 200 and b'"seq"' in body
    # The session is not a token, and the link works once.
    status, _, _ = gateway.request("GET", "/metrics", token=False, headers={"Authorization": f"Bearer {value}"})
    assert status == 401
    status, headers, body = gateway.request("GET", f"/?login={gateway.login_code}", token=False)
    assert status == 401 and "set-cookie" not in headers and b"used already" in body


def test_the_login_form_takes_the_token_in_a_post(gateway):
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": gateway.base}
    status, headers, body = gateway.request("POST", "/login", b"token=" + b"0" * 64, token=False, headers=form)
    assert status == 401 and "set-cookie" not in headers and b"not this gateway's token" in body
    status, headers, _ = gateway.request("POST", "/login", f"token={gateway.token}".encode(), token=False,
                                         headers={**form, "Origin": "http://127.0.0.1"})
    assert status == 403 and "set-cookie" not in headers, "a login from another page (login CSRF) is refused"
    status, headers, _ = gateway.request("POST", "/login", f"token={gateway.token}".encode(), token=False, headers=form)
    assert status == 303 and headers["location"] == "/"
    jar = headers["set-cookie"].split(";")[0]
    assert gateway.token not in headers["set-cookie"]
    assert gateway.request("GET", "/metrics", token=False, headers={"Cookie": jar})[0] == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "localhost.evil.example:{port}"])
def test_a_foreign_host_is_refused_even_with_the_token(gateway, host):
    status, _, body = gateway.request("GET", "/metrics", headers={"Host": host.format(port=gateway.port)})
    assert status == 421 and b"Host" in body


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "localhost"])
def test_the_listen_address_and_localhost_are_accepted(gateway, host):
    status, _, _ = gateway.request("GET", "/metrics", headers={"Host": host.format(port=gateway.port)})
    assert status == 200


ENQUEUE = b'{"jsonrpc":"2.0","id":1,"method":"enqueue","params":{"type":"command","payload":{"argv":["touch","pwned"]}}}'


def jobs_count(kernel):
    return sum(kernel.call("stats")["jobs"].values())


@pytest.mark.parametrize("origin", [
    # Hole 1 of the first gateway: an Origin without a port is the server on 80 or 443, not this one.
    "http://127.0.0.1", "http://localhost", "https://localhost", "http://[::1]", "https://127.0.0.1:{port}",
    "http://evil.example", "http://evil.example:{port}", "null", "http://127.0.0.1:{other}",
])
@pytest.mark.parametrize("credential", ["bearer", "cookie"])
def test_an_origin_that_is_not_exactly_the_gateways_cannot_change_state(gateway, kernel, origin, credential):
    origin = origin.format(port=gateway.port, other=gateway.port + 1)
    before = jobs_count(kernel)
    headers = {"Origin": origin, "Content-Type": "text/plain"}
    if credential == "cookie":
        headers["Cookie"] = login(gateway, "/?login={code}", "/")
    status, response_headers, body = gateway.request("POST", "/rpc", ENQUEUE, token=credential == "bearer", headers=headers)
    assert status == 403 and b"Origin" in body, (origin, status, body)
    assert response_headers["x-content-type-options"] == "nosniff", "a refusal carries the security headers"
    assert jobs_count(kernel) == before, "nothing was enqueued"


def test_without_an_origin_a_cookie_request_from_another_site_is_refused(gateway, kernel):
    jar = login(gateway, "/?login={code}", "/")
    before = jobs_count(kernel)
    refused = [
        {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},  # another port of the host is same-site
        {"Referer": "http://127.0.0.1/attack.html"}, {"Referer": f"http://127.0.0.1:{gateway.port + 1}/"},
        {"Referer": "http://localhost/"},
    ]
    for extra in refused:
        status, _, body = gateway.request("POST", "/rpc", ENQUEUE, token=False,
                                          headers={"Cookie": jar, "Content-Type": "text/plain", **extra})
        assert status == 403, (extra, status, body)
        status, _, _ = gateway.request("GET", "/metrics", token=False, headers={"Cookie": jar, **extra})
        assert status == 403, ("GET", extra, status)
    assert jobs_count(kernel) == before
    # The gateway's own page, and a client that sends no Origin (curl, scripts), may.
    for extra in ({"Origin": gateway.base}, {"Origin": f"http://localhost:{gateway.port}"}, {"Sec-Fetch-Site": "same-origin"},
                  {"Referer": f"{gateway.base}/#/jobs"}, {}):
        status, _, body = gateway.request("POST", "/rpc", STATS, token=False,
                                          headers={"Cookie": jar, "Content-Type": "application/json", **extra})
        assert status == 200, (extra, status, body)


def raw_handshake(gateway, headers, path="/ws"):
    """A WebSocket handshake on a raw socket; returns (status, headers dict lowercased, body)."""
    import base64
    import socket
    key = base64.b64encode(os.urandom(16)).decode()
    headers = {"Host": gateway.host, **headers}
    lines = [f"GET {path} HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"] + [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((gateway.listen_host, gateway.port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk, f"closed before an answer: {data!r}"
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        status_line, *fields = head.decode().split("\r\n")
        parsed = {k.lower(): v.strip() for k, v in (f.split(":", 1) for f in fields)}
        length = int(parsed.get("content-length", "0"))
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return int(status_line.split()[1]), parsed, rest


@pytest.mark.parametrize("headers,status,reason", [
    ({"Origin": "http://127.0.0.1"}, 403, b"Origin"),
    ({"Origin": "https://localhost"}, 403, b"Origin"),
    ({"Origin": "null"}, 403, b"Origin"),
    ({"Origin": "http://evil.example"}, 403, b"Origin"),
    ({"Host": "evil.example"}, 421, b"Host"),
    ({"Authorization": "Bearer " + "0" * 64}, 401, b"token"),
    ({"NoCredential": "x"}, 401, b"token"),
])
def test_a_refused_websocket_handshake_gets_the_documented_status_and_headers(gateway, headers, status, reason):
    headers = dict(headers)
    if "Authorization" not in headers and "NoCredential" not in headers:
        headers["Authorization"] = f"Bearer {gateway.token}"
    headers.pop("NoCredential", None)
    got, response_headers, body = raw_handshake(gateway, headers)
    assert got == status and reason in body, (got, body)
    assert response_headers["x-content-type-options"] == "nosniff" and "frame-ancestors 'none'" in response_headers["content-security-policy"]


def raw_exchange(gateway, data):
    """Sends `data` on a fresh connection and reads until the gateway closes it."""
    import socket
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as s:
        s.sendall(data)
        answer = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return answer
            answer += chunk


def test_a_malformed_handshake_or_first_request_gets_a_400_with_a_reason_not_silence(gateway):
    base = f"Host: {gateway.host}\r\nAuthorization: Bearer {gateway.token}\r\nOrigin: {gateway.base}\r\n"
    no_key = f"GET /ws HTTP/1.1\r\n{base}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"
    answer = raw_exchange(gateway, no_key.encode())
    assert answer.startswith(b"HTTP/1.1 400") and b"Sec-WebSocket-Key" in answer and b"nosniff" in answer, answer
    elsewhere = (f"GET /events HTTP/1.1\r\n{base}Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    answer = raw_exchange(gateway, elsewhere.encode())
    assert answer.startswith(b"HTTP/1.1 404") and b"/ws" in answer and b"nosniff" in answer, answer
    answer = raw_exchange(gateway, b"NOT HTTP AT ALL\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and b"nosniff" in answer, answer


def test_the_websocket_takes_only_the_gateways_own_origin(gateway):
    import websockets.sync.client as ws
    with pytest.raises(Exception) as refused:
        ws.connect(f"ws://127.0.0.1:{gateway.port}/ws", additional_headers=gateway.auth(), origin="http://127.0.0.1", open_timeout=5)
    assert "HTTP 403" in str(refused.value), refused.value
    with ws.connect(f"ws://127.0.0.1:{gateway.port}/ws", additional_headers=gateway.auth(), origin=gateway.base,
                    open_timeout=5) as accepted:
        accepted.send('{"jsonrpc":"2.0","id":1,"method":"stats"}')
        assert '"seq"' in accepted.recv(timeout=5)


@pytest.mark.parametrize("method,path", [("GET", "/nothing-here"), ("GET", "/"), ("POST", "/rpc"), ("GET", "/metrics")])
@pytest.mark.parametrize("auth", [True, False])
def test_every_answer_carries_the_security_headers(gateway, method, path, auth):
    status, headers, _ = gateway.request(method, path, STATS if method == "POST" else None, token=auth)
    assert status in ((404,) if path == "/nothing-here" and auth else (200, 401)), status
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    # The login page says same-origin, so that its form post carries its Origin (not "null").
    login_page = path == "/" and not auth
    assert headers["referrer-policy"] == ("same-origin" if login_page else "no-referrer")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "default-src 'self'" in headers["content-security-policy"]


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
        assert re.match(r"jobkernel web: http://0\.0\.0\.0:\d+/\?login=[0-9a-f]{64}", line), line
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "WARNING" in err and "not loopback" in err


@pytest.mark.parametrize("listen", ["127.evil.example:0", "127.0.0.1.nip.io:0", "localhost.evil.example:0", "127.1:0",
                                    "[::ffff:127.0.0.1]:0", "10.0.0.1:0"])
def test_only_an_exact_loopback_address_listens_without_allow_remote(kernel, listen):
    refused = subprocess.run([web.web_bin(), "--listen", listen, "--socket", kernel.socket],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "not a loopback address" in refused.stderr, (listen, refused.stderr)


@pytest.mark.parametrize("listen_host", ["127.0.0.1", "127.45.67.89", "localhost"])
def test_loopback_addresses_listen(home, kernel, listen_host):
    gateway = web.Gateway(home, kernel.socket, listen_host=listen_host)
    try:
        assert gateway.request("GET", "/metrics")[0] == 200
    finally:
        gateway.stop()


def test_a_token_file_is_created_0600_and_then_kept(home, kernel):
    path = os.path.join(home, "web.token")
    first = web.Gateway(home, kernel.socket, extra=["--token-file", path])
    try:
        assert first.token is None and path in first.token_line, "the token stays in the file, off stdout"
        assert os.stat(path).st_mode & 0o777 == 0o600
        token = open(path).read().strip()
        assert re.fullmatch(r"[0-9a-f]{64}", token)
        first.token = token
        assert first.request("GET", "/metrics")[0] == 200
    finally:
        first.stop()
    second = web.Gateway(home, kernel.socket, extra=["--token-file", path])
    try:
        second.token = token
        assert second.request("GET", "/metrics")[0] == 200, "the same token across restarts"
    finally:
        second.stop()
    # A file of its own making, e.g. Prometheus' credentials_file, is taken as it is.
    with open(path, "w") as f:
        f.write("my-own-token-of-some-length\n")
    third = web.Gateway(home, kernel.socket, extra=["--token-file", path])
    try:
        third.token = "my-own-token-of-some-length"
        assert third.request("GET", "/metrics")[0] == 200
    finally:
        third.stop()


def test_a_token_file_others_may_read_is_refused(home, kernel):
    path = os.path.join(home, "loose.token")
    with open(path, "w") as f:
        f.write("a" * 64 + "\n")
    os.chmod(path, 0o644)
    run = subprocess.run([web.web_bin(), "--listen", "127.0.0.1:0", "--socket", kernel.socket, "--token-file", path],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 1 and "chmod 600" in run.stderr, run.stderr

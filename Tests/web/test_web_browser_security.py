"""The gateway's door in a real browser (docs/web.md, "Security"): headless Chromium, a real kernel
and gateway, and attacker servers on other ports of the same loopback address.

- A page on the default port of the gateway's own host (the first gateway let it in: its Origin has
  no port) cannot run a command with a no-cors fetch, a text/plain form post, or a WebSocket.
- A server on another port of the host receives the browser's cookie, and what it receives is not
  the token, and dies with this gateway.
- The token never reaches the browser's profile: its History database, nor any other file.
"""

import http.server
import os
import random
import re
import shutil
import sqlite3
import tempfile
import threading

import pytest
from selenium.webdriver.common.by import By

import chromium as browser
import web
from chromium import wait

ARTIFACTS = os.environ.get("JOBKERNEL_WEB_ARTIFACTS", "/tmp/jobkernel-web-artifacts")


class Chromium:
    """Headless Chromium on a profile directory of its own, which the test can read afterwards."""

    def __init__(self, profile):
        self.driver = browser.start(window="1200,800", profile=profile)

    def quit(self, name=None):
        if self.driver is None:
            return
        if name:
            os.makedirs(ARTIFACTS, exist_ok=True)
            self.driver.save_screenshot(os.path.join(ARTIFACTS, f"{name}.png"))
        self.driver.quit()  # Chromium writes its History database out as it closes
        self.driver = None


@pytest.fixture
def profile():
    d = tempfile.mkdtemp(prefix="jkweb-chromium-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def chromium(profile, request):
    browser = Chromium(profile)
    yield browser
    browser.quit(request.node.name)


def open_dashboard(driver, url):
    driver.get(url)
    wait(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-stream") == "live", what="the live dashboard")


class Recorder(http.server.ThreadingHTTPServer):
    """An HTTP server on `host:port` that serves `page` and records the headers of every request."""

    daemon_threads = True

    def __init__(self, host, port, page=b"<!doctype html><title>elsewhere</title>elsewhere"):
        self.page = page
        self.seen = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                recorder.seen.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(recorder.page)))
                self.end_headers()
                self.wfile.write(recorder.page)

        super().__init__((host, port), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self):
        self.shutdown()
        self.server_close()


ATTACK = """<!doctype html><title>attack</title>
<iframe name="sink" id="sink"></iframe>
<script>
const target = "http://HOST:PORT";
const dir = "DIR";
const enqueue = (name) => JSON.stringify({jsonrpc: "2.0", id: 1, method: "enqueue",
  params: {type: "command", payload: {argv: ["touch", dir + "/" + name]}}});
window.report = {};
// 1. A no-cors fetch: the browser sends it with the cookie; the page cannot read the answer, but
//    the command would run.
fetch(target + "/rpc", {method: "POST", mode: "no-cors", credentials: "include",
  headers: {"Content-Type": "text/plain"}, body: enqueue("fetch")})
  .then(() => { report.fetch = "sent"; }, () => { report.fetch = "failed"; });
// 2. A text/plain form post, whose body is name=value: JSON with a padding field.
const form = document.createElement("form");
form.method = "POST"; form.action = target + "/rpc"; form.enctype = "text/plain"; form.target = "sink";
const field = document.createElement("input");
const body = enqueue("form");
field.name = body.slice(0, -1) + ',"pad":"'; field.value = '"}';
form.appendChild(field); document.body.appendChild(form);
document.getElementById("sink").addEventListener("load", () => { report.form = "loaded"; });
form.submit();
// 3. A WebSocket, which could read the replies too.
const ws = new WebSocket("ws://HOST:PORT/ws");
ws.onopen = () => { report.wsOpened = true; ws.send(enqueue("ws")); };
ws.onmessage = (m) => { report.wsReply = String(m.data); };
ws.onerror = () => { report.wsError = true; };
ws.onclose = (e) => { report.wsClosed = e.code; };
</script>"""


def test_a_page_on_the_default_port_of_the_same_host_cannot_run_a_command(home, kernel, chromium):
    """Hole 1 of the first gateway: a page on http://HOST (port 80) passed its Origin check, and its
    no-cors fetch, text/plain form post and WebSocket each ran a command with the user's cookie."""
    host = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
    gateway = web.Gateway(home, kernel.socket, listen_host=host)
    attacker = None
    try:
        driver = chromium.driver
        open_dashboard(driver, gateway.browser_url())  # the user is signed in: the browser holds the cookie
        try:
            attacker = Recorder(host, 80, ATTACK.replace("HOST", host).replace("PORT", str(gateway.port))
                                .replace("DIR", home).encode())
        except PermissionError:
            pytest.fail("the attacker's page needs port 80 (run as root, or lower net.ipv4.ip_unprivileged_port_start)")
        before = sum(kernel.call("stats")["jobs"].values())
        driver.get(f"http://{host}/attack.html")
        report = wait(driver, lambda d: (lambda r: r if r.get("fetch") and "wsClosed" in r and r.get("form") else None)(
            d.execute_script("return window.report")), timeout=20, what="the attack's three requests to finish")
        assert attacker.seen, "the attack page was served"
        assert not report.get("wsOpened") and "wsReply" not in report, f"the WebSocket opened: {report}"
        # Three requests reached the gateway and were refused; nothing was enqueued, nothing ran.
        web.wait_for(lambda: sum(kernel.call("stats")["jobs"].values()) == before, timeout=2, what="no new job")
        for name in ("fetch", "form", "ws"):
            assert not os.path.exists(os.path.join(home, name)), f"the {name} request ran its command"
        assert sum(kernel.call("stats")["jobs"].values()) == before, "nothing was enqueued"
        # The same page, from the gateway itself, could: the check is the origin, not the method.
        status, _, _ = gateway.request("POST", "/rpc", {"jsonrpc": "2.0", "id": 1, "method": "stats"},
                                       headers={"Origin": gateway.base})
        assert status == 200
    finally:
        if attacker:
            attacker.close()
        gateway.stop()


def test_a_server_on_another_port_gets_a_cookie_that_is_not_the_token_and_dies_with_the_gateway(home, kernel, chromium):
    """Hole 2 of the first gateway: its cookie was the token, which a server on another port of the
    host received with every visit and could use as a Bearer token."""
    token_file = os.path.join(home, "web.token")
    gateway = web.Gateway(home, kernel.socket, extra=["--token-file", token_file])
    token = open(token_file).read().strip()
    gateway.token = token
    elsewhere = Recorder("127.0.0.1", 0)
    try:
        driver = chromium.driver
        open_dashboard(driver, gateway.browser_url())
        driver.get(f"http://127.0.0.1:{elsewhere.server_address[1]}/")
        wait(driver, lambda d: d.title == "elsewhere", what="the other server's page")
        cookies = [seen.get("cookie", "") for seen in elsewhere.seen]
        assert any(f"jobkernel_session_{gateway.port}=" in c for c in cookies), \
            f"browsers send every cookie of the host to every port; the test must see it: {cookies}"
        assert not any(token in c for c in cookies), "the token itself reached the other server"
        value = re.search(rf"jobkernel_session_{gateway.port}=([0-9a-f]+)", " ".join(cookies)).group(1)
        # What it received is no token: not as a Bearer, not in the URL.
        assert gateway.request("GET", "/metrics", token=False, headers={"Authorization": f"Bearer {value}"})[0] == 401
        jar = {"Cookie": f"jobkernel_session_{gateway.port}={value}"}
        # As docs/web.md says, a process that captured the cookie can replay it to this gateway,
        # from outside a browser, until the session expires or the gateway stops...
        assert gateway.request("GET", "/metrics", token=False, headers=jar)[0] == 200
        port = gateway.port
        gateway.stop()
        # ...and not a moment longer: the same token (the file), the same port, a new start.
        again = web.Gateway(home, kernel.socket, extra=["--token-file", token_file, "--listen", f"127.0.0.1:{port}"])
        try:
            again.token = token
            assert again.port == port
            assert again.request("GET", "/metrics", token=False, headers=jar)[0] == 401
            assert again.request("GET", "/metrics")[0] == 200, "the token itself still works"
        finally:
            again.stop()
    finally:
        elsewhere.close()
        gateway.stop()


def profile_files_holding(profile, secret):
    found = []
    for root, _, files in os.walk(profile):
        for name in files:
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as f:
                    if secret.encode() in f.read():
                        found.append(os.path.relpath(path, profile))
            except OSError:
                continue
    return found


def test_the_token_never_reaches_the_browsers_history_or_profile(home, kernel, chromium, profile):
    """The first gateway's ?token= URL stayed in Chromium's History database (as the first URL of
    a redirect chain; a #token= fragment does too). The login link carries a one-time code instead,
    and the login form posts the token."""
    first = web.Gateway(home, kernel.socket)
    second = web.Gateway(home, kernel.socket)
    try:
        driver = chromium.driver
        open_dashboard(driver, first.browser_url("#/types"))
        assert driver.current_url == f"{first.base}/#/types", "the address bar lost the code"
        # The second gateway by its form: paste the token, submit.
        driver.get(f"{second.base}/")
        field = wait(driver, lambda d: d.find_elements(By.ID, "token"), what="the login form")[0]
        field.send_keys(second.token)
        driver.find_element(By.CSS_SELECTOR, "form button").click()
        wait(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-stream") == "live",
             what="the dashboard after the form")
        assert driver.current_url == f"{second.base}/"
        chromium.quit("test_the_token_never_reaches_the_browsers_history")
        history = sqlite3.connect(f"file:{os.path.join(profile, 'Default', 'History')}?mode=ro", uri=True)
        try:
            urls = [row[0] for row in history.execute("SELECT url FROM urls")]
        finally:
            history.close()
        assert first.login_url + "#/types" in urls or first.login_url in urls, \
            f"the test reads the right database: the login link is in it: {urls}"
        for gateway in (first, second):
            assert not [u for u in urls if gateway.token in u], urls
            assert profile_files_holding(profile, gateway.token) == [], "the token sits in the browser's profile"
        # The link that stays in the history is spent.
        status, headers, body = first.request("GET", f"/?login={first.login_code}", token=False)
        assert status == 401 and "set-cookie" not in headers and b"used already" in body
    finally:
        first.stop()
        second.stop()

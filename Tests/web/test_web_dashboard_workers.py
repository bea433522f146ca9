"""The dashboard's workers view (each local pool's workers, the leases of external workers), the
Types charts (axes, the kernel's history, live) and the connection state when the gateway itself
stops, in headless Chromium against a real kernel and gateway (docs/web.md, "The dashboard").

With $JOBKERNEL_WEB_DOCS_SHOTS set to a folder (`docs`), the tests also save the pictures that
docs/web.md shows: dashboard-workers.png, dashboard-types.png, dashboard-gateway-down.png."""

import datetime
import json
import os
import re
import sys
import time

from selenium.webdriver.common.by import By

import web
from test_web_dashboard import body, browser, open_dashboard, wait  # noqa: F401  (browser is a fixture)
from test_web_dashboard_jobs import SHOTS, js, shot, text, visible

WORKER = os.path.join(web.REPO, "Tests", "blackbox", "workers", "echo_worker.py")


def full_shot(driver, name):
    """A docs picture of the whole page, not only the window's first screen."""
    if not SHOTS:
        return
    size = driver.get_window_size()
    height = js(driver, "return document.documentElement.scrollHeight")
    driver.set_window_size(size["width"], min(2400, height + 140))
    shot(driver, name)
    driver.set_window_size(size["width"], size["height"])


def worker_rows(driver, pool):
    """The rows of a pool's workers table, read in one script call (the view redraws every 2 s)."""
    return js(driver, """
        return [...document.querySelectorAll(`#pools [data-pool-type="${arguments[0]}"] tbody tr`)].map(r => {
          const a = r.querySelector('a.job-link'), since = r.querySelector('time.since');
          return {pid: r.dataset.pid, state: r.dataset.state, text: r.textContent,
                  link: a ? a.getAttribute('href') : null, since: since ? since.textContent : null};
        });""", pool)


def lease_row(driver, lease):
    return js(driver, """
        const r = document.querySelector(`#leases tr[data-lease="${arguments[0]}"]`);
        if (!r) return null;
        const t = r.querySelector('time.expires');
        return {text: r.textContent, link: r.querySelector('a.job-link').getAttribute('href'), worker: r.children[2].textContent,
                expires: t.textContent, left: Number(t.dataset.left), soon: t.classList.contains('soon'),
                color: getComputedStyle(t).color, plain: getComputedStyle(r.children[2]).color};""", lease)


def fetch_as(kernel, name, types, lease_s):
    """A raw `fetch` on the kernel's socket by a client that calls itself `name`; the connection is
    kept (a lease ends with it). Returns (connection, lease)."""
    s = kernel._connect(10)
    kernel._request(s, "initialize", {"client": {"name": name}})
    answer = kernel._request(s, "fetch", {"types": types, "wait_s": 5, "lease_s": lease_s})
    leases = answer["result"]["leases"]
    assert leases, f"no {types} unit was offered: {answer}"
    return s, leases[0]


def test_the_workers_view_shows_busy_and_idle_workers_with_their_jobs_and_a_lease_counting_down(browser, home):
    config = f"""
[types.thumbnail]
mode = "internal"
worker = [{json.dumps(sys.executable)}, {json.dumps(WORKER)}]
concurrency = 2

[types.render]
mode = "async_api"
"""
    kernel = web.Kernel(home, config).start()
    gateway = web.Gateway(home, kernel.socket)
    held = None
    try:
        quick = kernel.call("enqueue", {"type": "thumbnail", "payload": {"sleep": 0.2}, "label": "resize b.png"})["job"]
        slow = kernel.call("enqueue", {"type": "thumbnail", "payload": {"sleep": 120}, "label": "resize a.png"})["job"]
        sleeper = kernel.call("enqueue", {"type": "command", "payload": {"argv": ["sleep", "120"]}, "label": "sync mirror"})["job"]
        web.wait_for(lambda: kernel.call("get", {"id": quick["id"]})["status"] == "success"
                     and kernel.call("get", {"id": slow["id"]})["status"] == "running"
                     and kernel.call("get", {"id": sleeper["id"]})["status"] == "running", timeout=30, what="one done, two running")
        open_dashboard(browser, gateway, "#/workers")
        # The persistent pool: a busy worker with the job it runs (a link to its page, its label) and for how long.
        busy = wait(browser, lambda d: [r for r in worker_rows(d, "thumbnail") if r["state"] == "busy"], timeout=20,
                    what="the busy thumbnail worker")[0]
        assert busy["link"] == f"#/job/{slow['id']}" and "resize a.png" in busy["text"], busy
        assert re.fullmatch(r"for \d+ s", busy["since"]), busy["since"]
        pool = text(browser, '#pools [data-pool-type="thumbnail"] h4')
        assert "concurrency 2" in pool and "persistent" in pool, pool
        # An exec handler's process shows as a worker of the command pool while its job runs.
        command = wait(browser, lambda d: worker_rows(d, "command"), what="the command pool's worker")
        assert command[0]["state"] == "busy" and command[0]["link"] == f"#/job/{sleeper['id']}", command
        assert "sync mirror" in command[0]["text"]
        # A lease taken by a raw fetch on the kernel's socket, with its worker's name and a countdown.
        render = kernel.call("enqueue", {"type": "render", "payload": {"scene": "a"}, "label": "render scene a"})["job"]
        held, lease = fetch_as(kernel, "gpu-host-1", ["render"], lease_s=12)
        row = wait(browser, lambda d: lease_row(d, lease["lease"]), what="the lease")
        assert row["link"] == f"#/job/{render['id']}" and "render scene a" in row["text"], row
        assert row["worker"] == "gpu-host-1"
        assert re.fullmatch(r"expires in \d+ s", row["expires"]) and 0 < row["left"] <= 12, row
        first = row["left"]
        # Counting down in the page, between two answers of `workers`.
        wait(browser, lambda d: (lease_row(d, lease["lease"]) or {}).get("left", 99) < first, what="the countdown to tick")
        full_shot(browser, "dashboard-workers.png")
        late = wait(browser, lambda d: (lambda r: r if r and r["left"] < 5 else None)(lease_row(d, lease["lease"])), timeout=15,
                    what="under 5 s left")
        assert late["soon"] and late["color"] != late["plain"], f"red under 5 s: {late}"
        # The lease runs out (nobody extends it): its row goes, and the empty state says what it means.
        wait(browser, lambda d: lease_row(d, lease["lease"]) is None, timeout=20, what="the expired lease to go")
        wait(browser, lambda d: visible(d, "#leases-empty"), what="the empty state")
        assert text(browser, "#leases-empty") == "No external worker holds a lease."
        # The slow job cancelled: the same worker process is idle, with no job.
        kernel.call("cancel", {"id": slow["id"]})
        idle = wait(browser, lambda d: [r for r in worker_rows(d, "thumbnail") if r["pid"] == busy["pid"] and r["state"] == "idle"],
                    timeout=20, what="the worker to be idle")[0]
        assert idle["link"] is None and "resize a.png" not in idle["text"], idle
        browser.find_element(By.CSS_SELECTOR, f'#pools [data-pool-type="command"] a[href="#/job/{sleeper["id"]}"]').click()
        wait(browser, lambda d: text(d, "#job-title") and text(d, "#job-title").startswith(f"Job {sleeper['id']} "), what="the job's page")
    finally:
        if held:
            held.close()
        gateway.stop()
        kernel.stop()


def test_the_workers_view_says_what_an_empty_pool_means(browser, gateway, kernel):
    open_dashboard(browser, gateway, "#/workers")
    wait(browser, lambda d: visible(d, "#pools-empty"), what="the empty state")
    assert text(browser, "#pools-empty").startswith("No local pool has workers yet")
    assert "command (concurrency" in text(browser, "#pools .idle-pools"), "each pool with its concurrency"
    assert visible(browser, "#leases-empty")


def iso_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def chart(driver, type_):
    return js(driver, """
        const svg = document.querySelector(`#type-cards svg.chart[data-type="${arguments[0]}"]`);
        if (!svg) return null;
        const all = (s) => [...svg.querySelectorAll(s)];
        const legend = svg.closest('.card').querySelector('.legend');
        return {x: all('text.x-tick').map(e => e.textContent), y: all('text.y-tick').map(e => e.textContent),
                samples: all('rect.sample').map(e => e.dataset.t), titles: all('rect.sample title').map(e => e.textContent),
                points: all('circle.point title').map(e => e.textContent),
                succeeded: all('rect.bar.succeeded').length, failed: all('rect.bar.failed').length,
                lines: all('polyline.line').map(e => e.getAttribute('class')),
                legend: Object.fromEntries([...legend.querySelectorAll('li')].map(li => [li.dataset.series, li.querySelector('.value').textContent]))};""",
              type_)


def test_the_types_view_opens_with_charts_filled_from_the_kernels_history_then_follows_it(browser, home, monkeypatch):
    monkeypatch.setenv("JOBKERNEL_STATS_INTERVAL_MS", "300")
    kernel = web.Kernel(home, '[types.thumbnail]\nmode = "internal"\ncommand = ["sleep", "0.2"]\nconcurrency = 2\n').start()
    gateway = web.Gateway(home, kernel.socket)
    try:
        for i in range(10):
            kernel.call("enqueue", {"type": "thumbnail", "payload": {"image": f"{i}.png"}})
        for i in range(12):
            kernel.call("enqueue", {"type": "command", "payload": {"argv": ["sleep", "0.3"]}, "label": f"step {i}"})
        for _ in range(3):
            kernel.call("enqueue", {"type": "command", "payload": {"argv": ["false"]}, "max_attempts": 1})

        def ended():
            samples = kernel.call("stats.history")["samples"]
            totals = {(t, k): sum(s["types"].get(t, {}).get(k, 0) for s in samples)
                      for t in ("command", "thumbnail") for k in ("succeeded", "failed")}
            return totals == {("command", "succeeded"): 12, ("command", "failed"): 3,
                              ("thumbnail", "succeeded"): 10, ("thumbnail", "failed"): 0}
        web.wait_for(ended, timeout=60, what="the kernel's history to hold the 25 jobs' ends")
        opened = iso_now()
        open_dashboard(browser, gateway, "#/types")
        # Filled at once from stats.history: samples from before the page opened.
        c = wait(browser, lambda d: chart(d, "command"), what="the command chart")
        assert any(t < opened for t in c["samples"]), f"samples from the kernel's history, before {opened}: {c['samples'][:3]}"
        assert c["succeeded"] >= 1 and c["failed"] >= 1, c
        # Axes: time ticks (HH:MM:SS over a short span), values from 0.
        assert len(c["x"]) >= 2 and all(re.fullmatch(r"\d\d:\d\d(:\d\d)?", t) for t in c["x"]), c["x"]
        assert c["y"][0] == "0" and all(v.isdigit() for v in c["y"]) and int(c["y"][-1]) >= 3, c["y"]
        assert {"line pending", "line running"} <= set(c["lines"]), c["lines"]
        # The bars add up to the jobs that ended, per the kernel.
        totals = js(browser, """
            return [...document.querySelectorAll('#type-cards svg.chart[data-type="command"] rect.sample title')]
              .map(t => t.textContent.match(/(\\d+) succeeded, (\\d+) failed/)).filter(Boolean)
              .reduce((a, m) => [a[0] + Number(m[1]), a[1] + Number(m[2])], [0, 0]);""")
        assert totals == [12, 3], totals
        # Hover: each sample and point has a <title> with its values; the legend prints the latest.
        assert "pending" in c["titles"][-1] and "running" in c["titles"][-1], c["titles"][-1]
        assert set(c["legend"]) >= {"pending", "running", "succeeded", "failed"} and all(v.isdigit() for v in c["legend"].values()), c["legend"]
        # Live: samples after the last one arrive without a reload.
        last = c["samples"][-1]
        browser.execute_script("window.__notReloaded = true")
        kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}})
        wait(browser, lambda d: (chart(d, "command") or {"samples": [""]})["samples"][-1] > last, timeout=10, what="a newer sample")
        wait(browser, lambda d: sum(int(m) for m in re.findall(r"(\d+) succeeded", " ".join((chart(d, "command") or {"titles": []})["titles"]))) == 13,
             timeout=10, what="the new job's end in the chart")
        assert browser.execute_script("return window.__notReloaded === true")
        shot(browser, "dashboard-types.png")
    finally:
        gateway.stop()
        kernel.stop()


def test_a_stopped_gateway_is_said_within_2_s_and_a_restarted_one_asks_to_log_in_then_the_page_is_live(browser, gateway, kernel):
    open_dashboard(browser, gateway)
    kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}})
    wait(browser, lambda d: int(body(d, "last-seq")) >= kernel.seq(), what="the events so far")
    port = gateway.port
    gateway.stop()
    stopped = time.monotonic()
    wait(browser, lambda d: body(d, "stream") == "gateway-down", timeout=5, what="the page to say the gateway is down")
    took = time.monotonic() - stopped
    assert took < 2.0, f"the gateway-down state took {took:.1f}s"
    assert text(browser, "#stream-text") == "gateway down, reconnecting…"
    banner = browser.find_element(By.ID, "conn-banner")
    assert banner.is_displayed() and "jobkernel web" in banner.text and f"127.0.0.1:{port}" in banner.text, banner.text
    assert "kernel" not in text(browser, "#stream-text"), "not the kernel-down sentence"
    shot(browser, "dashboard-gateway-down.png")
    # Meanwhile the kernel goes on; nothing of it is lost.
    done = kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}, "label": "while the gateway was away"})["job"]
    # A new gateway on the same port has sessions of its own: the page says to log in again, and how.
    again = web.Gateway(gateway.home, kernel.socket, extra=["--listen", f"127.0.0.1:{port}"])
    try:
        assert again.port == port
        wait(browser, lambda d: body(d, "stream") == "closed", timeout=10, what="the page to ask for a new login")
        assert text(browser, "#stream-text") == "logged out: log in again"
        banner = browser.find_element(By.ID, "conn-banner")
        assert "Log in again" in banner.text and "login link" in banner.text, banner.text
        assert browser.find_element(By.ID, "login-again").get_attribute("href") == f"{again.base}/"
        # Logged in in another tab (the new login link): this page carries on by itself.
        page = browser.current_window_handle
        browser.switch_to.new_window("tab")
        browser.get(again.login_url)
        wait(browser, lambda d: body(d, "stream") == "live", what="the new tab to be live")
        browser.close()
        browser.switch_to.window(page)
        wait(browser, lambda d: body(d, "stream") == "live", timeout=10, what="the first page to be live again")
        assert not visible(browser, "#conn-banner")
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'#jobs tr[data-job-id="{done["id"]}"]'), what="the job enqueued meanwhile")
        latest = kernel.seq()
        wait(browser, lambda d: int(body(d, "last-seq")) >= latest, what="every event")
        assert body(browser, "gaps") == "0", "the stream resumed from the last seq it had"
    finally:
        again.stop()

"""The dashboard's connection state, job detail, list (tabs, search, URL) and bulk actions in headless
Chromium against a real kernel and gateway (docs/web.md, "The dashboard").

With $JOBKERNEL_WEB_DOCS_SHOTS set to a folder (`docs`), the tests also save the pictures that
docs/web.md shows: dashboard-list.png, dashboard-job.png, dashboard-down.png (test_web_dashboard_workers.py saves
the workers view's, the Types view's and the gateway-down pictures)."""

import os
import time

from selenium.webdriver.common.by import By

import web
from test_web_dashboard import body, browser, open_dashboard, wait  # noqa: F401  (browser is a fixture)

SHOTS = os.environ.get("JOBKERNEL_WEB_DOCS_SHOTS")


def shot(driver, name):
    if SHOTS:
        driver.save_screenshot(os.path.join(SHOTS, name))


def js(driver, script, *args):
    return driver.execute_script(script, *args)


def text(driver, selector):
    return js(driver, "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", selector)


def visible(driver, selector):
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return bool(found) and found[0].is_displayed()


def test_the_page_says_kernel_down_within_2_s_and_live_again_when_it_is_back(browser, gateway, kernel):
    kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"], "label": "rotate logs"}})
    kernel.call("enqueue", {"type": "command", "payload": {"argv": ["sleep", "60"], "label": "sync mirror"}})
    open_dashboard(browser, gateway)
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")) == 2, what="two rows")
    assert text(browser, "#stream-text") == "live"
    assert not visible(browser, "#conn-banner")
    kernel.stop()
    stopped = time.monotonic()
    wait(browser, lambda d: body(d, "stream") == "down", timeout=3, what="the page to say the kernel is down")
    took = time.monotonic() - stopped
    assert took < 2.5, f"the down state took {took:.1f}s"
    assert "kernel down" in text(browser, "#stream-text")
    banner = browser.find_element(By.ID, "conn-banner")
    assert banner.is_displayed() and "jobkernel serve" in banner.text, banner.text
    shot(browser, "dashboard-down.png")
    # An action while it is down says so in a sentence, never as raw JSON.
    browser.get(gateway.base + "/#/job/1")
    wait(browser, lambda d: body(d, "stream") == "down", timeout=3, what="the down state after a reload")
    page = browser.find_element(By.TAG_NAME, "main").text + browser.find_element(By.ID, "conn-banner").text
    assert "{" not in page and "errno" not in page, page
    kernel.start()
    wait(browser, lambda d: body(d, "stream") == "live", timeout=5, what="the page to be live again")
    assert not visible(browser, "#conn-banner")
    job = kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}})["job"]
    wait(browser, lambda d: int(body(d, "last-seq") or 0) >= kernel.seq(), what="events after the restart")
    assert job


def test_errors_read_as_sentences(browser, gateway, kernel):
    done = kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}})["job"]
    web.wait_for(lambda: kernel.call("get", {"id": done["id"]})["status"] == "success", what="the job to finish")
    open_dashboard(browser, gateway, "#/job/99999")
    notice = wait(browser, lambda d: d.find_element(By.ID, "notice").text, what="the notice")
    assert "Job 99999 does not exist" in notice and "{" not in notice, notice
    # An action the job's status refuses, explained.
    message = js(browser, """
        const finish = arguments[arguments.length - 1];
        return fetch('/rpc', {method: 'POST', headers: {'Content-Type': 'application/json'},
          body: JSON.stringify({jsonrpc: '2.0', id: 1, method: 'retry', params: {id: arguments[0]}})})
          .then(r => r.json()).then(a => a.error);
    """, done["id"])
    assert message["code"] == -32004
    browser.find_element(By.CSS_SELECTOR, "header h1 a").click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'#jobs tr[data-job-id="{done["id"]}"]'), what="the row")
    assert not browser.find_element(By.ID, "notice").is_displayed(), "leaving the page clears its notice"


def test_a_command_jobs_page_shows_label_command_directory_env_names_attempts_and_timeline(browser, gateway, kernel):
    payload = {"argv": ["sh", "-c", "echo it's $GREETING; exit 3"], "cwd": "/tmp", "env": {"GREETING": "s3cret-value"},
               "label": "nightly build"}
    job = kernel.call("enqueue", {"type": "command", "payload": payload, "max_attempts": 2})["job"]
    web.wait_for(lambda: kernel.call("get", {"id": job["id"]})["status"] == "failed", timeout=20, what="two failed attempts")
    open_dashboard(browser, gateway, f"#/job/{job['id']}")
    wait(browser, lambda d: text(d, "#job-command"), what="the command line")
    assert text(browser, "#job-command") == "sh -c 'echo it'\\''s $GREETING; exit 3'"
    assert text(browser, "#job-label") == "nightly build"
    assert "nightly build" in browser.find_element(By.ID, "job-title").text
    assert text(browser, "#job-cwd") == "/tmp"
    env = browser.find_element(By.ID, "job-env")
    assert "GREETING" in env.text and "s3cret-value" not in env.text, "values hidden until asked"
    browser.find_element(By.ID, "env-toggle").click()
    assert "s3cret-value" in env.text
    browser.find_element(By.ID, "env-toggle").click()
    assert "s3cret-value" not in env.text
    # Attempts and the timeline, from the kernel's events.
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#job-attempts tbody tr")) == 2, what="two attempts")
    outcomes = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#job-attempts td.outcome")]
    assert outcomes[0].startswith("failed, retried") and outcomes[1].startswith("failed: "), outcomes
    changes = [e.get_attribute("data-to") for e in browser.find_elements(By.CSS_SELECTOR, "#job-timeline li")]
    assert changes[0] == "pending" and changes.count("running") == 2 and changes[-1] == "failed", changes
    shot(browser, "dashboard-job.png")
    assert text(browser, "#job-error").startswith("the handler exited with status"), "the error's message first, not JSON"
    # No items for a job without them.
    assert not visible(browser, "#job-items-section")
    # Live: a retry appears in the timeline without a reload.
    kernel.call("retry", {"id": job["id"]})
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#job-timeline li")) > len(changes), what="the retry in the timeline")


def test_an_itemized_jobs_page_shows_its_items_and_another_types_payload_as_json(browser, home):
    kernel = web.Kernel(home, '[types.resize]\nmode = "async_api"\n').start()
    gateway = web.Gateway(home, kernel.socket)
    try:
        job = kernel.call("enqueue", {"type": "resize", "payload": {"size": {"w": 640, "h": 480}, "label": "thumbs"},
                                      "items": ["a.jpg", "b.jpg", "c.jpg"]})["job"]
        open_dashboard(browser, gateway, f"#/job/{job['id']}")
        wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#job-items tbody tr")) == 3, what="three items")
        assert visible(browser, "#job-items-section")
        tree = browser.find_element(By.ID, "job-payload")
        assert "640" in tree.text and "w:" in tree.text
        assert browser.find_element(By.CSS_SELECTOR, "#job-payload details").get_attribute("open") is not None
        browser.find_element(By.CSS_SELECTOR, "#job-payload summary").click()
        assert "640" not in tree.text, "the JSON collapses"
        assert text(browser, "#job-label") == "thumbs"
        assert not browser.find_elements(By.ID, "job-command")
    finally:
        gateway.stop()
        kernel.stop()


def ids_shown(driver):
    return js(driver, "return [...document.querySelectorAll('#jobs tbody tr:not([hidden])')].map(r => r.dataset.jobId)")


def enqueue_labelled(kernel, params, label):
    """With the job's own `label` where the kernel takes one, else the payload's (the page reads both)."""
    methods = {m["name"]: [p["name"] for p in m.get("params", [])] for m in kernel.call("rpc.discover")["methods"]}
    if "label" in methods["enqueue"]:
        return kernel.call("enqueue", {**params, "label": label})["job"]
    return kernel.call("enqueue", {**params, "payload": {**params.get("payload", {}), "label": label}})["job"]


def test_status_tabs_search_and_filters_live_in_the_url(browser, gateway, kernel):
    ok = enqueue_labelled(kernel, {"type": "command", "payload": {"argv": ["true"]}}, "alpha report")
    bad = kernel.call("enqueue", {"type": "command", "payload": {"argv": ["false"]}, "max_attempts": 1})["job"]
    web.wait_for(lambda: kernel.call("stats")["jobs"]["failed"] == 1 and kernel.call("stats")["jobs"]["success"] == 1,
                 what="one success and one failure")
    slow = kernel.call("enqueue", {"type": "command", "payload": {"argv": ["sleep", "30"]}})["job"]
    open_dashboard(browser, gateway)
    wait(browser, lambda d: set(ids_shown(d)) == {ok["id"], bad["id"], slow["id"]}, what="three rows")
    # Counts per status, as tabs.
    tab = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '#status-tabs a[data-status="failed"]'), what="the tabs")[0]
    assert tab.find_element(By.CLASS_NAME, "count").text == "1"
    tab.click()
    wait(browser, lambda d: ids_shown(d) == [bad["id"]], what="only the failed job")
    assert "status=failed" in browser.current_url
    # The running job's started and duration cells.
    browser.back()
    wait(browser, lambda d: len(ids_shown(d)) == 3, what="back to all jobs")
    started = browser.find_element(By.CSS_SELECTOR, f'#jobs tr[data-job-id="{slow["id"]}"] td.started').text
    assert "ago" in started or started == "just now", started
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, f'#jobs tr[data-job-id="{slow["id"]}"] td.duration').text.endswith("s"),
         what="a duration")
    # Search by label, by command, by id.
    search = browser.find_element(By.ID, "f-q")
    search.send_keys("alpha")
    wait(browser, lambda d: ids_shown(d) == [ok["id"]], what="the label to match")
    search.clear()
    search.send_keys("sleep 30")
    wait(browser, lambda d: ids_shown(d) == [slow["id"]], what="the command to match")
    wait(browser, lambda d: "q=sleep" in d.current_url, what="the search in the URL")
    # A link opens the same view.
    link = browser.current_url
    browser.get(gateway.base + "/#/types")
    browser.get(link)
    wait(browser, lambda d: ids_shown(d) == [slow["id"]] and d.find_element(By.ID, "f-q").get_attribute("value") == "sleep 30",
         what="the same view from the link")
    browser.get(gateway.base + f"/#/?status=failed&q=false")
    wait(browser, lambda d: ids_shown(d) == [bad["id"]], what="filters from the URL")
    assert browser.find_element(By.ID, "f-status").get_attribute("value") == "failed"
    assert browser.find_element(By.CSS_SELECTOR, '#status-tabs a[aria-current]').get_attribute("data-status") == "failed"
    kernel.call("cancel", {"id": slow["id"]})


def test_pages_are_in_the_url_and_back_returns(browser, gateway, kernel):
    for i in range(30):
        kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}, "run_at": "2099-01-01T00:00:00Z"})
    open_dashboard(browser, gateway, "#/?limit=25")
    wait(browser, lambda d: len(ids_shown(d)) == 25, what="25 rows")
    first = ids_shown(browser)
    browser.find_element(By.ID, "page-older").click()
    wait(browser, lambda d: len(ids_shown(d)) == 5, what="the second page")
    assert "after=" in browser.current_url and text(browser, "#page-label") == "page 2"
    browser.refresh()
    wait(browser, lambda d: len(ids_shown(d)) == 5 and text(d, "#page-label") == "page 2", what="page 2 after a reload")
    browser.back()
    wait(browser, lambda d: ids_shown(d) == first, what="page 1 again")


def test_bulk_cancel_with_confirmation_and_select_all_matching(browser, gateway, kernel):
    later = [kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}, "delay_s": 3600})["job"] for _ in range(30)]
    open_dashboard(browser, gateway, "#/?status=scheduled&limit=25")
    wait(browser, lambda d: len(ids_shown(d)) == 25, what="a page of scheduled jobs")
    # Two ticked, then Back in the dialog changes nothing.
    for job in later[-2:]:
        browser.find_element(By.CSS_SELECTOR, f'#jobs tr[data-job-id="{job["id"]}"] input.pick').click()
    assert browser.find_element(By.ID, "bulk-count").text == "2 selected"
    browser.find_element(By.ID, "bulk-cancel").click()
    dialog = browser.find_element(By.ID, "confirm")
    wait(browser, lambda d: dialog.is_displayed(), what="the confirmation")
    assert "Cancel 2 jobs" in dialog.text
    browser.find_element(By.ID, "confirm-no").click()
    assert kernel.call("stats")["jobs"]["cancelled"] == 0
    # Every job that matches, across pages.
    browser.find_element(By.ID, "select-page").click()
    browser.find_element(By.ID, "select-matching").click()
    wait(browser, lambda d: d.find_element(By.ID, "bulk-count").text.startswith("30 selected"), what="all 30 selected")
    browser.find_element(By.ID, "bulk-cancel").click()
    wait(browser, lambda d: dialog.is_displayed(), what="the confirmation")
    assert "Cancel 30 jobs" in dialog.text
    browser.find_element(By.ID, "confirm-yes").click()
    web.wait_for(lambda: kernel.call("stats")["jobs"]["cancelled"] == 30, timeout=20, what="30 cancelled jobs")
    notice = wait(browser, lambda d: d.find_element(By.ID, "notice").text, what="the summary")
    assert "Cancelled 30 jobs" in notice, notice
    # Retry them all from the cancelled tab (they run `true` and succeed), then remove them.
    browser.get(gateway.base + "/#/?status=cancelled&limit=100")
    wait(browser, lambda d: len(ids_shown(d)) == 30, what="30 cancelled rows")
    browser.find_element(By.ID, "select-page").click()
    browser.find_element(By.ID, "bulk-retry").click()
    wait(browser, lambda d: dialog.is_displayed(), what="the confirmation")
    assert "Retry 30 jobs" in dialog.text
    browser.find_element(By.ID, "confirm-yes").click()
    web.wait_for(lambda: kernel.call("stats")["jobs"]["success"] == 30, timeout=30, what="30 retried jobs to succeed")
    browser.get(gateway.base + "/#/?limit=100")
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, '#jobs tbody tr[data-status="success"]')) == 30, what="30 successes")
    browser.find_element(By.ID, "select-page").click()
    browser.find_element(By.ID, "bulk-remove").click()
    wait(browser, lambda d: dialog.is_displayed(), what="the confirmation")
    browser.find_element(By.ID, "confirm-yes").click()
    web.wait_for(lambda: sum(kernel.call("stats")["jobs"].values()) == 0, timeout=20, what="every job removed")


def test_the_workers_view_shows_pools_busy_of_total_leases_and_what_runs(browser, home):
    kernel = web.Kernel(home, '[types.detect]\nmode = "async_api"\n').start()
    gateway = web.Gateway(home, kernel.socket)
    held = None
    try:
        running = kernel.call("enqueue", {"type": "command", "payload": {"argv": web.progress_argv(total=600, step=0.1, phase="encode"),
                                                                           "label": "encode trailer"}})["job"]
        kernel.call("enqueue", {"type": "command", "payload": {"argv": ["make", "-C", "/srv/site", "docs"], "label": "build docs"},
                                "delay_s": 600})
        kernel.call("enqueue", {"type": "command", "payload": {"argv": ["false"], "label": "nightly backup"}, "max_attempts": 1})
        kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"], "label": "rotate logs"}})
        leased = kernel.call("enqueue", {"type": "detect", "payload": {"image": "cat.jpg", "label": "find cats"}})["job"]
        held, lease = kernel.hold_lease(["detect"])
        web.wait_for(lambda: kernel.call("stats")["jobs"]["failed"] == 1 and kernel.call("stats")["jobs"]["running"] == 2,
                     what="a failure and two running jobs")
        open_dashboard(browser, gateway)
        wait(browser, lambda d: len(ids_shown(d)) == 5, what="five rows")
        wait(browser, lambda d: "ETA" in (text(d, f'#jobs tr[data-job-id="{running["id"]}"] .progress-text') or ""), what="progress")
        labels = js(browser, "return [...document.querySelectorAll('#jobs td.what .label')].map(e => e.textContent)")
        assert {"encode trailer", "build docs", "nightly backup", "find cats"} <= set(labels), labels
        shot(browser, "dashboard-list.png")
        browser.find_element(By.CSS_SELECTOR, 'header nav a[href="#/workers"]').click()
        # The cards are redrawn as `stats` changes (connections come and go): read them in one go.
        card = wait(browser, lambda d: text(d, '#worker-cards [data-pool="pool internal"]'), what="the pools")
        assert "1 / " in card and "busy" in card, card
        assert text(browser, "#lease-count") == "1 lease"
        rows = wait(browser, lambda d: (lambda r: r if len(r) == 2 else None)(js(d,
                    "return Object.fromEntries([...document.querySelectorAll('#running-jobs tbody tr')].map(r => [r.dataset.jobId, r.textContent]))")),
                    what="two running jobs")
        assert "leased to an external worker" in rows[leased["id"]] and "pool internal" in rows[running["id"]], rows
        held.close()
        held = None
        wait(browser, lambda d: text(d, "#lease-count") == "0 leases", what="the lease to end")
    finally:
        if held:
            held.close()
        gateway.stop()
        kernel.stop()

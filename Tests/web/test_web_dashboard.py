"""The dashboard in a real browser (Debian's chromium and chromium-driver, driven by Selenium),
against a real kernel and gateway. Each test saves a screenshot under $JOBKERNEL_WEB_ARTIFACTS
(default /tmp/jobkernel-web-artifacts)."""

import os

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

import chromium
import web
from chromium import wait

ARTIFACTS = os.environ.get("JOBKERNEL_WEB_ARTIFACTS", "/tmp/jobkernel-web-artifacts")


@pytest.fixture
def browser(request):
    driver = chromium.start()
    yield driver
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, f"{request.node.name}.png")
    driver.save_screenshot(shot)
    print(f"\nscreenshot: {shot}")
    driver.quit()


def body(driver, name):
    return driver.find_element(By.TAG_NAME, "body").get_attribute(f"data-{name}")


def open_dashboard(driver, gateway, fragment=""):
    driver.get(gateway.browser_url(fragment))
    wait(driver, lambda d: body(d, "stream") == "live" and body(d, "last-seq") != "", what="the live event stream")


def progress_of(driver, job_id):
    """(current, text) of a job's progress cell, read in one go (live updates redraw the cell)."""
    found = driver.execute_script(
        "const c = document.querySelector(`#jobs tr[data-job-id=\"${arguments[0]}\"] .progress-cell`);"
        "return c ? [c.dataset.current, c.textContent] : null;", job_id)
    if not found:
        return None
    return (int(found[0]) if found[0] else None), found[1]


def row_status(driver, job_id):
    return driver.execute_script(
        "const r = document.querySelector(`#jobs tr[data-job-id=\"${arguments[0]}\"]`); return r ? r.dataset.status : null;", job_id)


def test_a_jobs_progress_advances_live(browser, gateway, kernel):
    for _ in range(3):
        kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}})
    open_dashboard(browser, gateway)
    browser.execute_script("window.__notReloaded = true")
    job = kernel.call("enqueue", {"type": "command", "payload": {"argv": web.progress_argv(total=40, step=0.15, phase="resize")}})["job"]
    first = wait(browser, lambda d: (lambda p: p if p and p[0] is not None and p[0] >= 2 else None)(progress_of(d, job["id"])),
                 what="the new job's first progress")
    later = wait(browser, lambda d: (lambda p: p if p and p[0] is not None and p[0] >= first[0] + 5 else None)(progress_of(d, job["id"])),
                 what="progress to advance")
    assert "resize" in later[1] and "/40" in later[1], later[1]
    assert "/s" in later[1] and "ETA" in later[1], f"rate and ETA are shown: {later[1]}"
    assert browser.execute_script("return window.__notReloaded === true"), "updates came live, not by reloading"
    wait(browser, lambda d: row_status(d, job["id"]) == "success", timeout=30, what="the job to succeed on the page")
    assert kernel.call("get", {"id": job["id"]})["status"] == "success"


def test_a_click_on_cancel_cancels_the_job_in_the_kernel(browser, gateway, kernel):
    job = kernel.call("enqueue", {"type": "command", "payload": {"argv": web.progress_argv(total=1000, step=0.2)}})["job"]
    web.wait_for(lambda: kernel.call("get", {"id": job["id"]})["status"] == "running", what="the job to run")
    open_dashboard(browser, gateway)
    button = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'#jobs tr[data-job-id="{job["id"]}"] button[data-action="cancel"]'),
                  what="the Cancel button")[0]
    assert button.get_attribute("aria-label") == f"Cancel job {job['id']}"
    button.click()
    web.wait_for(lambda: kernel.call("get", {"id": job["id"]})["status"] == "cancelled", timeout=20, what="the kernel to cancel it")
    wait(browser, lambda d: row_status(d, job["id"]) == "cancelled", what="the row to say cancelled")
    retry = browser.find_element(By.CSS_SELECTOR, f'#jobs tr[data-job-id="{job["id"]}"] button[data-action="retry"]')
    assert retry.is_displayed()


def test_the_event_stream_resumes_after_a_kernel_restart_with_no_gap(browser, gateway, kernel):
    open_dashboard(browser, gateway)
    start = int(body(browser, "last-seq"))
    for _ in range(3):
        kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}})
    web.wait_for(lambda: kernel.call("stats")["jobs"]["success"] == 3, what="three jobs")
    kernel.stop()
    kernel.start()
    for _ in range(3):
        kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}})
    web.wait_for(lambda: kernel.call("stats")["jobs"]["success"] == 6, what="three more jobs")
    latest = kernel.seq()
    wait(browser, lambda d: body(d, "last-seq") == str(latest), timeout=20, what=f"the page to reach seq {latest}")
    assert body(browser, "gaps") == "0"
    assert int(body(browser, "event-count")) == latest - start, "every event once: none missed, none repeated"
    assert body(browser, "stream") == "live"
    rows = browser.find_elements(By.CSS_SELECTOR, '#jobs tbody tr[data-status="success"]')
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, '#jobs tbody tr[data-status="success"]')) == 6,
         what="six finished jobs in the table")
    assert rows is not None


def test_the_page_refuses_to_load_without_the_token(browser, gateway):
    browser.get(f"{gateway.base}/")
    assert "Access refused" in browser.title or browser.find_element(By.ID, "refused")
    assert "login link" in browser.find_element(By.ID, "refused").text
    assert not browser.find_elements(By.ID, "jobs"), "no dashboard without the token"
    browser.get(f"{gateway.base}/?login={'0' * 64}")
    assert browser.find_elements(By.ID, "refused") and not browser.find_elements(By.ID, "jobs")
    # With the login link, the page loads, the URL loses the code, and scripts cannot read the cookie.
    open_dashboard(browser, gateway)
    assert "login=" not in browser.current_url
    assert browser.execute_script("return document.cookie") == ""


def test_the_job_page_shows_the_live_log_and_hides_what_the_kernel_lacks(browser, gateway, kernel):
    parent = kernel.call("enqueue", {"type": "command", "payload": {"argv": web.progress_argv(total=30, step=0.15)}})["job"]
    kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}, "parent_id": parent["id"]})
    open_dashboard(browser, gateway, f"#/job/{parent['id']}")
    log = lambda: browser.execute_script("return document.getElementById('job-log').textContent")
    wait(browser, lambda d: "step 3" in log(), what="log lines")
    wait(browser, lambda d: "step 10" in log(), what="more log lines, live")
    lines = [l for l in log().splitlines() if "step" in l]
    assert len(lines) == len(set(lines)), "no line twice"
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#job-children tbody tr"), what="the child job")
    try:
        kernel.call("items", {"id": parent["id"]})
        has_items = True
    except RuntimeError as error:
        assert error.args[0]["code"] == -32601
        has_items = False
    if not has_items:
        assert not browser.find_element(By.ID, "job-items-section").is_displayed()
    wait(browser, lambda d: d.execute_script("return document.getElementById('job-fields').dataset.status") == "success",
         timeout=30, what="the job to finish")
    wait(browser, lambda d: '"steps": 30' in d.execute_script("return document.getElementById('job-result').textContent"),
         what="the result")


def test_the_keyboard_alone_reaches_and_presses_cancel(browser, gateway, kernel):
    job = kernel.call("enqueue", {"type": "command", "payload": {"argv": web.progress_argv(total=1000, step=0.2)}})["job"]
    web.wait_for(lambda: kernel.call("get", {"id": job["id"]})["status"] == "running", what="the job to run")
    open_dashboard(browser, gateway)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'#jobs tr[data-job-id="{job["id"]}"] button[data-action="cancel"]'),
         what="the Cancel button")
    labels = []
    for _ in range(40):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        active = browser.switch_to.active_element
        labels.append(active.get_attribute("aria-label") or active.text or active.get_attribute("name"))
        if active.get_attribute("data-action") == "cancel":
            break
    else:
        raise AssertionError(f"Tab never reached Cancel; it went through {labels}")
    # Every control on the way has a name a screen reader can say.
    assert all(labels), labels
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    web.wait_for(lambda: kernel.call("get", {"id": job["id"]})["status"] == "cancelled", timeout=20, what="the kernel to cancel it")


def test_the_page_loads_nothing_from_elsewhere_and_follows_the_dark_preference(browser, gateway):
    open_dashboard(browser, gateway)
    origins = browser.execute_script(
        "return [location.origin, ...performance.getEntriesByType('resource').map(e => new URL(e.name).origin)]")
    assert set(origins) == {gateway.base}, f"everything comes from the gateway itself (works offline): {origins}"
    light = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    dark = browser.execute_script("return getComputedStyle(document.body).backgroundColor")

    def brightness(rgb):
        r, g, b = (int(x) for x in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3])
        return (r + g + b) / 3

    assert brightness(light) > 200 and brightness(dark) < 60, (light, dark)


def test_workflow_toggles_change_the_kernels_settings_and_follow_them_live(browser, home):
    kernel = web.Kernel(home, "[workflow]\npublishing = true\nauto_publish = false\n").start()
    gateway = web.Gateway(home, kernel.socket)
    try:
        open_dashboard(browser, gateway, "#/settings")
        checked = lambda name: browser.execute_script(
            "const b = document.getElementById(arguments[0]); return b ? b.checked : null;", f"toggle-workflow_{name}")
        wait(browser, lambda d: checked("publishing") is True and checked("auto_publish") is False, what="the toggles")
        label = browser.find_element(By.CSS_SELECTOR, 'label[for="toggle-workflow_publishing"]')
        assert label.text == "publishing"
        label.click()  # the label toggles its switch
        web.wait_for(lambda: kernel.call("settings.get", {"key": "workflow.publishing"})["workflow.publishing"] is False,
                     what="the kernel's toggle to turn off")
        kernel.call("settings.set", {"key": "workflow.auto_publish", "value": True})
        wait(browser, lambda d: checked("auto_publish") is True, what="the page to follow a change made elsewhere")
    finally:
        gateway.stop()
        kernel.stop()


def kernel_methods(kernel):
    return {m["name"] for m in kernel.call("rpc.discover")["methods"]}


def test_remove_and_pause_appear_exactly_when_the_kernel_has_them(browser, gateway, kernel):
    """Issue #10 adds `remove`, `pause` and `resume`; the page offers them only on a kernel that has them."""
    methods = kernel_methods(kernel)
    done = kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}})["job"]
    web.wait_for(lambda: kernel.call("get", {"id": done["id"]})["status"] == "success", what="the job to finish")
    open_dashboard(browser, gateway)
    remove = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'#jobs tr[data-job-id="{done["id"]}"]'), what="the row") and \
        browser.find_elements(By.CSS_SELECTOR, f'#jobs tr[data-job-id="{done["id"]}"] button[data-action="remove"]')
    if "remove" in methods:
        browser.execute_script("window.confirm = () => true")
        remove[0].click()
        def gone():
            try:
                kernel.call("get", {"id": done["id"]})
                return False
            except RuntimeError as error:
                return error.args[0]["code"] == -32001
        web.wait_for(gone, what="the kernel to remove the job")
    else:
        assert remove == [], "no Remove button on a kernel without `remove`"
    browser.get(gateway.base + "/#/types")
    card = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '#type-cards .card[data-type="command"]'), what="the command type")[0]
    pause = card.find_elements(By.TAG_NAME, "button")
    if {"pause", "resume"} <= methods:
        assert pause and pause[0].text == "Pause"
        pause[0].click()
        web.wait_for(lambda: kernel.call("settings.get").get("paused.command") is True, what="the type to pause")
    else:
        assert pause == [], "no Pause button on a kernel without `pause`"
        assert not browser.find_element(By.ID, "pause-all").is_displayed()


SHOWCASE = """
[workflow]
publishing = true
auto_publish = false

[types.thumbnail]
mode = "internal"
command = {thumb}

[types.transcode]
mode = "internal"
command = {transcode}

[types.publish]
mode = "internal"
command = ["true"]
"""


def test_the_dashboard_screenshot_for_the_readme(browser, home):
    """A page with some of everything; saved as $JOBKERNEL_WEB_SCREENSHOT too when that is set."""
    import json
    config = SHOWCASE.format(thumb=json.dumps(web.progress_argv(total=400, step=0.05, phase="resize")),
                             transcode=json.dumps(web.progress_argv(total=90, step=0.2, phase="encode")))
    kernel = web.Kernel(home, config).start()
    gateway = web.Gateway(home, kernel.socket)
    try:
        kernel.call("enqueue", {"type": "publish"})
        kernel.call("enqueue", {"type": "command", "payload": {"argv": ["false"]}, "max_attempts": 1})
        kernel.call("enqueue", {"type": "publish", "delay_s": 600})
        parent = kernel.call("enqueue", {"type": "transcode", "priority": 90})["job"]
        kernel.call("enqueue", {"type": "thumbnail", "parent_id": parent["id"]})
        kernel.call("enqueue", {"type": "thumbnail"})
        open_dashboard(browser, gateway)
        wait(browser, lambda d: all("ETA" in ((progress_of(d, j) or (None, ""))[1]) for j in (parent["id"],)),
             what="running jobs with their rate and ETA")
        wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")) == 6, what="six jobs")
        statuses = {row.get_attribute("data-status") for row in browser.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")}
        assert {"running", "failed", "scheduled"} <= statuses, statuses
        target = os.environ.get("JOBKERNEL_WEB_SCREENSHOT")
        if target:
            browser.save_screenshot(target)
        # The types view draws a chart per type, with its axes' ticks.
        browser.get(gateway.base + "/#/types")
        wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#type-cards .card svg.chart")) >= 4, timeout=20,
             what="a chart per type")
        assert browser.find_elements(By.CSS_SELECTOR, "#type-cards svg.chart text.x-tick"), "time ticks on the x axis"
        if target:
            browser.save_screenshot(target.replace(".png", "-types.png"))
    finally:
        gateway.stop()
        kernel.stop()

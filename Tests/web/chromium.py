"""Headless Chromium for the browser tests (Debian's chromium and chromium-driver, driven by
Selenium), and one way to wait on a page."""

import shutil

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait


def start(window="1400,900", profile=None):
    """A headless Chromium; with `profile`, on that user-data directory, which the test can read."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver_path, "chromium and chromium-driver are missing: apt-get install chromium chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    flags = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={window}"]
    if profile:
        flags.append(f"--user-data-dir={profile}")
    for flag in flags:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    return driver


def wait(driver, condition, timeout=15, what="the page"):
    """`condition(driver)` once it is truthy. An element that a navigation or a redraw replaced
    between finding it and reading it counts as not yet, not as a failure."""
    return WebDriverWait(driver, timeout, poll_frequency=0.05,
                         ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)) \
        .until(lambda d: condition(d), message=f"waiting for {what}")

"""The manager's dashboard in Chromium: log in, see a department's numbers, download a CSV."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from tests import factories
from tests.browser.conftest import ARTIFACTS, LiveServer, screenshot, wait_for
from tests.browser.scene import complete_module, login, make_store


def test_a_manager_logs_in_sees_the_numbers_and_downloads_a_csv(
    live_server: LiveServer, browser: Any, browser_data: Session
) -> None:
    from selenium.webdriver.common.by import By

    scene = make_store(browser_data)
    kari = scene.learners[0]
    complete_module(live_server.base_url, browser_data, scene.module, login(
        live_server.base_url, scene.org, kari))  # fmt: skip

    browser.get(live_server.url("/dashboard/"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Logg inn"
    browser.find_element(By.ID, "organization").send_keys(scene.org.slug)
    browser.find_element(By.ID, "username").send_keys(scene.manager.username)
    browser.find_element(By.ID, "password").send_keys(factories.PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(lambda: browser.find_elements(By.ID, "summary"))
    assert "token" not in browser.current_url
    assert browser.find_element(By.TAG_NAME, "h1").text == scene.store.name
    assert browser.find_element(By.ID, "figure-members").text == "3"
    assert browser.find_element(By.ID, "figure-path").text == "33 %"  # Kari of the three
    assert int(browser.find_element(By.ID, "figure-points").text) > 0
    screenshot(browser, "dashboard-1-department-1920x1080")
    browser.set_window_size(1366, 768)
    screenshot(browser, "dashboard-2-department-1366x768")
    browser.set_window_size(1920, 1080)

    # No script can read the login: the cookies are HttpOnly.
    assert "nl_dashboard" not in browser.execute_script("return document.cookie;")

    downloads = ARTIFACTS / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    for old in downloads.glob("members*.csv"):
        old.unlink()
    browser.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    browser.find_element(By.ID, "download-members-csv").click()
    found: Path = wait_for(lambda: next(iter(downloads.glob("members*.csv")), None))
    time.sleep(0.5)  # let Chromium finish writing
    text = found.read_text(encoding="utf-8-sig")
    dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;")  # ";" for Excel in nb
    rows = list(csv.reader(io.StringIO(text), dialect))
    assert len(rows) == 1 + 3  # a header and the three people
    assert any("Kari Nordmann" in row for row in rows)

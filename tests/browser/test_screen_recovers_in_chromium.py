"""The store screen in Chromium through a night of trouble: the network swallows its requests,
the server goes away and comes back on the same address, and the TV picks up what changed
meanwhile by itself, without a reload and without anyone touching it."""

from __future__ import annotations

import time
from typing import Any

import requests
from sqlalchemy.orm import Session

from tests.browser.conftest import LiveServer, RestartableServer, screenshot, wait_for
from tests.browser.scene import complete_module, login, make_store


def text_of(browser: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(browser.find_element(By.ID, element_id).text)


def status_shown(browser: Any) -> str:
    from selenium.webdriver.common.by import By

    status = browser.find_element(By.ID, "status")
    return str(status.text) if status.is_displayed() else ""


def test_the_tv_waits_out_a_dropped_network_and_a_restart_and_catches_up(
    live_server: LiveServer,
    restartable_server: RestartableServer,
    browser: Any,
    browser_data: Session,
) -> None:
    scene = make_store(browser_data)
    manager = login(live_server.base_url, scene.org, scene.manager)
    made = requests.post(
        restartable_server.url("/api/v1/screens"),
        json={"department_id": scene.store.id, "name": "Pauserommet"},
        headers=manager,
    )
    assert made.status_code == 201, made.text
    screen_url = made.json()["url"]
    assert screen_url.startswith(restartable_server.base_url)

    browser.get(screen_url)
    assert text_of(browser, "department") == "Butikk Torget"
    browser.execute_script("window.sameDocument = 'yes';")  # gone if the page reloads
    kari, ola = scene.learners[0], scene.learners[1]
    complete_module(live_server.base_url, browser_data, scene.module, login(
        live_server.base_url, scene.org, kari))  # fmt: skip
    wait_for(lambda: "Kari Nordmann" in text_of(browser, "board"))
    assert status_shown(browser) == ""

    # The network swallows the requests: the server accepts connections and answers nothing.
    # The TV gives up on the hanging request and says it is reconnecting, since when.
    restartable_server.freeze()
    shown = wait_for(lambda: status_shown(browser), timeout=60)
    assert "Mister kontakt med serveren" in shown and "Sist kontakt " in shown, shown
    assert "Kari Nordmann" in text_of(browser, "board")  # the last board stays up, dimmed
    screenshot(browser, "screen-5-reconnecting")

    # The server goes away altogether (a restart, a crash); meanwhile Ola finishes a module.
    restartable_server.stop()
    complete_module(live_server.base_url, browser_data, scene.module, login(
        live_server.base_url, scene.org, ola))  # fmt: skip
    time.sleep(3)  # a few failed tries against the closed port
    assert "Mister kontakt" in status_shown(browser)
    assert "Ola" not in text_of(browser, "board")

    # Back on the same address: the TV finds it by itself and shows what it missed.
    restartable_server.start()
    wait_for(lambda: "Ola <b>Hansen</b>" in text_of(browser, "board-rows"), timeout=90)
    wait_for(lambda: "2 av 3 har gjort" in text_of(browser, "path"))
    wait_for(lambda: status_shown(browser) == "")
    # And on its event stream again, not polling.
    wait_for(
        lambda: browser.find_element("id", "screen").get_attribute("data-transport") == "stream"
    )
    assert browser.execute_script("return window.sameDocument;") == "yes"  # never reloaded
    screenshot(browser, "screen-6-back-after-a-restart")
    assert browser.get_log("browser") == [] or all(
        "Content Security Policy" not in entry["message"] for entry in browser.get_log("browser")
    )

"""The store screen in Chromium: it changes by itself, over its event stream, when someone
finishes a module, and stops when the manager revokes it."""

from __future__ import annotations

from typing import Any

import requests
from sqlalchemy.orm import Session

from tests.browser.conftest import LiveServer, screenshot, wait_for
from tests.browser.scene import complete_module, login, make_store

# How many requests the page made to /live (the stream's fallback).
LIVE_REQUESTS = (
    "return performance.getEntriesByType('resource')"
    ".filter(function (e) { return /\\/live$/.test(e.name); }).length;"
)


def text_of(browser: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(browser.find_element(By.ID, element_id).text)


def test_the_tv_follows_the_store_and_stops_when_revoked(
    live_server: LiveServer, browser: Any, browser_data: Session
) -> None:
    scene = make_store(browser_data)
    manager = login(live_server.base_url, scene.org, scene.manager)
    made = requests.post(
        live_server.url("/api/v1/screens"),
        json={"department_id": scene.store.id, "name": "Pauserommet"},
        headers=manager,
    )
    assert made.status_code == 201, made.text
    screen = made.json()

    browser.get(screen["url"])
    assert text_of(browser, "department") == "Butikk Torget"
    assert "0 av 3 har gjort ukens læringssti" in text_of(browser, "path")
    assert not browser.find_element("id", "board").is_displayed()  # nobody has points yet
    browser.execute_script("window.sameDocument = 'yes';")  # gone if the page reloads
    screenshot(browser, "screen-1-empty")

    kari, ola = scene.learners[0], scene.learners[1]
    complete_module(live_server.base_url, browser_data, scene.module, login(
        live_server.base_url, scene.org, kari))  # fmt: skip
    wait_for(lambda: "Kari Nordmann" in text_of(browser, "board"))
    wait_for(lambda: "1 av 3 har gjort" in text_of(browser, "path"))
    assert browser.execute_script("return window.sameDocument;") == "yes"  # no reload
    # Over the stream: the page asked /live for nothing.
    assert browser.find_element("id", "screen").get_attribute("data-transport") == "stream"
    assert browser.execute_script(LIVE_REQUESTS) == 0
    screenshot(browser, "screen-2-after-a-module")

    complete_module(live_server.base_url, browser_data, scene.module, login(
        live_server.base_url, scene.org, ola))  # fmt: skip
    rows = wait_for(lambda: len(text_of(browser, "board-rows").splitlines()) == 2
                    and text_of(browser, "board-rows"))  # fmt: skip
    assert "Ola <b>Hansen</b>" in rows  # shown as text, not markup
    assert "Per Bryggen" not in rows  # another store's learner
    assert "kari" not in rows and kari.id not in browser.page_source
    wait_for(lambda: "2 av 3 har gjort" in text_of(browser, "path"))
    browser.set_window_size(1366, 768)
    screenshot(browser, "screen-3-two-learners-1366x768")
    browser.set_window_size(1920, 1080)

    gone = requests.delete(live_server.url(f"/api/v1/screens/{screen['id']}"), headers=manager)
    assert gone.status_code == 204
    wait_for(lambda: "slått av" in text_of(browser, "status"))
    assert not browser.find_element("id", "board").is_displayed()
    assert not browser.find_element("id", "department").is_displayed()
    assert "Kari Nordmann" not in browser.find_element("tag name", "body").text
    screenshot(browser, "screen-4-revoked")
    assert requests.get(screen["url"]).status_code == 404
    assert browser.get_log("browser") == [] or all(
        "Content Security Policy" not in entry["message"] for entry in browser.get_log("browser")
    )


def test_a_tv_whose_stream_is_refused_polls_and_still_follows_the_store(
    live_server: LiveServer, full_server: LiveServer, browser: Any, browser_data: Session
) -> None:
    scene = make_store(browser_data)
    manager = login(live_server.base_url, scene.org, scene.manager)
    made = requests.post(
        full_server.url("/api/v1/screens"),
        json={"department_id": scene.store.id, "name": "Pauserommet"},
        headers=manager,
    )
    assert made.status_code == 201, made.text
    assert requests.get(made.json()["url"] + "/events").status_code == 503  # the cap

    browser.get(made.json()["url"])
    browser.execute_script("window.sameDocument = 'yes';")
    screen = browser.find_element("id", "screen")
    wait_for(lambda: screen.get_attribute("data-transport") == "polling")
    complete_module(live_server.base_url, browser_data, scene.module, login(
        live_server.base_url, scene.org, scene.learners[0]))  # fmt: skip
    wait_for(lambda: "Kari Nordmann" in text_of(browser, "board"))
    assert browser.execute_script(LIVE_REQUESTS) > 0  # by polling /live
    assert browser.execute_script("return window.sameDocument;") == "yes"
    assert text_of(browser, "status") == ""  # refused is not offline

"""One access line per request: method, path (never the query), status, time, caller."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def access_log_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "ACCESS_LOG", True)  # the suite runs with it off


def test_each_request_logs_one_line_with_its_caller(client, as_learner, learner, caplog):
    caplog.set_level(logging.INFO, logger="nanolearn.access")
    response = client.get(
        "/api/v1/paths/current?token=secret", headers={**as_learner, "X-Request-ID": "r-1"}
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "r-1"
    [line] = [r for r in caplog.records if r.name == "nanolearn.access"]
    assert (line.method, line.path, line.status) == ("GET", "/api/v1/paths/current", 200)
    assert line.user_id == learner.id
    assert line.request_id == "r-1"
    assert "secret" not in line.getMessage()


def test_an_anonymous_request_logs_no_caller(client, caplog):
    caplog.set_level(logging.INFO, logger="nanolearn.access")
    assert client.get("/healthz").status_code == 200
    [line] = [r for r in caplog.records if r.name == "nanolearn.access"]
    assert line.user_id is None and line.status == 200


def test_other_loggers_formats_still_get_the_process_and_thread(app):
    # gunicorn formats its own lines (a worker exiting, say) with `[%(process)d]`.
    record = logging.getLogger("gunicorn.error").makeRecord(
        "gunicorn.error", logging.INFO, __file__, 1, "Worker exiting (pid: %s)", (42,), None
    )
    line = logging.Formatter("[%(process)d] [%(thread)d] %(message)s").format(record)
    assert line.endswith("] Worker exiting (pid: 42)")

"""Prometheus metrics: who may read them, what they count, and the sum over gunicorn workers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from app.notifications.models import Notification
from tests.gamification.play import play

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def scrape(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)

    def read() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        assert response.content_type.startswith("text/plain")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples
        }

    return read


def test_metrics_are_hidden_without_the_token(app, client, monkeypatch):
    assert client.get("/metrics").status_code == 404  # no token configured: no endpoint
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    assert client.get("/metrics").status_code == 404
    wrong = client.get("/metrics", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 404
    assert wrong.mimetype == "application/problem+json"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_counted_per_endpoint_and_status(client, as_learner, scrape):
    before = sample(
        "nanolearn_http_requests_total", endpoint="/api/v1/me", method="GET", status="200"
    )
    for _ in range(3):
        assert client.get("/api/v1/me", headers=as_learner).status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    metrics = scrape()
    key = (
        "nanolearn_http_requests_total",
        (("endpoint", "/api/v1/me"), ("method", "GET"), ("status", "200")),
    )
    assert metrics[key] == before + 3
    assert (
        metrics[
            (
                "nanolearn_http_requests_total",
                (("endpoint", "/api/v1/me"), ("method", "GET"), ("status", "401")),
            )
        ]
        >= 1
    )
    assert (
        metrics[
            (
                "nanolearn_http_request_duration_seconds_count",
                (("endpoint", "/api/v1/me"), ("method", "GET")),
            )
        ]
        >= 4
    )


def test_answers_and_completions_are_counted_once_committed(client, session, module, as_learner):
    answers = sample("nanolearn_answers_total", source="online")
    completions = sample("nanolearn_completions_total", source="online")
    done = play(client, session, module, as_learner)
    assert sample("nanolearn_answers_total", source="online") == answers + len(
        done["answer_points"]
    )
    assert sample("nanolearn_completions_total", source="online") == completions + 1
    again = client.post(f"/api/v1/attempts/{done['attempt_id']}/complete", headers=as_learner)
    assert again.status_code == 200  # a replayed completion is not a second one
    assert sample("nanolearn_completions_total", source="online") == completions + 1


def test_the_push_outbox_depth_and_age_are_read_at_scrape_time(
    session, learner, frozen_clock, scrape
):
    for minutes in (10, 5):
        session.add(
            Notification(
                org_id=learner.org_id,
                user_id=learner.id,
                type="nudge",
                title="t",
                body="b",
                locale="nb",
                created_at=frozen_clock(),
                deliver_after=frozen_clock(),
                expires_at=frozen_clock().replace(year=2030),
            )
        )
        frozen_clock.advance(minutes=minutes)
    session.flush()
    metrics = scrape()
    assert metrics[("nanolearn_outbox_pending", (("channel", "push"),))] == 2
    # The first was made 15 minutes before now (the app's clock).
    assert metrics[("nanolearn_outbox_oldest_pending_seconds", (("channel", "push"),))] == 900


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_gunicorn_workers_add_up_in_one_scrape(app, tmp_path: Path):
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": str(app.extensions["engine"].url.render_as_string(hide_password=False)),
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": "x" * 40,
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "LOG_JSON": "false",
        "RATE_LIMIT_DEFAULT": "",
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "2"]
    server = subprocess.Popen(
        [*command, "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # still booting
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        for _ in range(40):  # new connections: both workers take some
            response = requests.get(f"{base}/readyz", timeout=5)
            assert response.status_code == 200
        for _ in range(5):
            scraped = requests.get(
                f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
            )
            assert scraped.status_code == 200
            counted = {
                tuple(sorted(s.labels.items())): s.value
                for family in text_string_to_metric_families(scraped.text)
                for s in family.samples
                if s.name == "nanolearn_http_requests_total"
            }
            key = (("endpoint", "/readyz"), ("method", "GET"), ("status", "200"))
            assert counted[key] == 40  # every worker's requests, whichever worker answers
        assert len(list(tmp_path.glob("counter_*.db"))) >= 2  # two workers wrote counters
    finally:
        server.terminate()
        server.wait(timeout=30)

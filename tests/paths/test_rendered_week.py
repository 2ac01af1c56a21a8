"""Week bodies are rendered once and reused while what they were rendered from is unchanged;
anything that changes the week, the clock passing a deadline included, renders it anew."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

from app.paths import service
from tests.paths.conftest import finish
from tests.paths.test_requirements_http import require
from tests.paths.test_week_cache import cached_week, week
from tests.spies import count_calls


def test_an_unchanged_week_is_rendered_once_per_language(
    client, session, frozen_clock, modules, as_admin, as_learner, monkeypatch
):
    require(client, as_admin, modules[0])
    cached_week(client, session, as_learner)
    renderings = count_calls(monkeypatch, service, "render_learner_week")
    first, again = week(client, as_learner), week(client, as_learner)
    assert first == again and renderings == []
    gzip_client = client.get(
        "/api/v1/paths/current", headers={**as_learner, "Accept-Encoding": "gzip"}
    )
    assert gzip_client.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(gzip_client.data)) == first and renderings == []
    english = week(client, {**as_learner, "Accept-Language": "en"})
    assert english["paths"][0]["title"] == "Required training" and renderings == [1]


def test_a_requirement_starting_to_expire_shows_with_no_write_in_between(
    client, session, frozen_clock, modules, as_admin, as_learner
):
    frozen_clock.set(datetime(2025, 11, 1, 12, tzinfo=UTC))
    finish(client, session, as_learner, modules[1])
    require(client, as_admin, modules[1], validity_months=12)  # valid until 2026-11-01 12:00
    frozen_clock.set(datetime(2026, 9, 30, 11, tzinfo=UTC))  # a Wednesday of week 40
    assert cached_week(client, session, as_learner)["paths"] == []
    frozen_clock.set(datetime(2026, 10, 2, 13, tzinfo=UTC))  # Friday: inside 30 days
    [required] = week(client, as_learner)["paths"]
    assert required["id"] == "required"
    assert [m["id"] for m in required["modules"]] == [modules[1].id]


def test_the_learners_own_progress_renders_the_week_anew(
    client, session, frozen_clock, modules, as_admin, as_learner
):
    require(client, as_admin, modules[0])
    before = cached_week(client, session, as_learner)
    assert [m["status"] for m in before["paths"][0]["modules"]] == ["available"]
    finish(client, session, as_learner, modules[0])
    after = week(client, as_learner)
    assert [m["status"] for m in after["paths"][0]["modules"]] == ["completed"]

"""Dates, periods and integers just inside what the parser takes but beyond what Python's
dates or the database hold: a 422 keyed by the field, never a 500."""

from __future__ import annotations

import pytest

from tests.api.test_errors import assert_problem


@pytest.mark.parametrize("board", ["users", "departments"])
@pytest.mark.parametrize(
    "query",
    [
        "period=9999-W52",
        "period=0001-W01",
        "window=week&period=1969-W01",
        "window=month&period=0001-01",
        "window=month&period=9999-12",
    ],
)
def test_a_board_period_out_of_range_is_422(client, as_learner, board, query):
    response = client.get(f"/api/v1/leaderboards/{board}?{query}", headers=as_learner)
    assert list(assert_problem(response, 422)["errors"]) == ["period"]


def test_a_board_of_a_period_in_range_still_answers(client, as_learner):
    response = client.get("/api/v1/leaderboards/users?period=1970-W02", headers=as_learner)
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("week", ["9999-W52", "0001-W01"])
def test_a_paths_week_out_of_range_is_422(client, as_learner, week):
    response = client.get(f"/api/v1/paths?week={week}", headers=as_learner)
    assert list(assert_problem(response, 422)["errors"]) == ["week"]


@pytest.mark.parametrize(
    "starts_at, ends_at, field",
    [
        ("0001-01-01T00:00:00+14:00", "2026-12-31T00:00:00+00:00", "starts_at"),
        ("2026-12-01T00:00:00+00:00", "9999-12-31T23:59:59-14:00", "ends_at"),
    ],
)
def test_a_competition_beyond_the_calendar_is_422(client, as_admin, starts_at, ends_at, field):
    body = {"title": "Jul", "starts_at": starts_at, "ends_at": ends_at, "metric": "total"}
    response = client.post("/api/v1/competitions", json=body, headers=as_admin)
    assert list(assert_problem(response, 422)["errors"]) == [field]


def test_an_offline_module_version_beyond_the_database_is_rejected(client, as_learner, module):
    event = {
        "client_id": "6f1c8f5e-3f0e-4d6e-9b8a-1c2d3e4f5a6b",
        "type": "attempt",
        "module_id": module.id,
        "module_version": 2147483648,
        "started_at": "2026-11-20T10:00:00+00:00",
        "completed_at": "2026-11-20T10:05:00+00:00",
        "answers": [],
    }
    response = client.post("/api/v1/sync", json={"events": [event]}, headers=as_learner)
    assert response.status_code == 200, response.get_json()
    [result] = response.get_json()["results"]
    assert result["status"] == "rejected"
    assert "module_version" in str(result["reason"])


def test_an_editors_stats_version_beyond_the_database_is_422(client, as_editor, module):
    response = client.get(
        f"/api/v1/editor/modules/{module.id}/stats?version=2147483648", headers=as_editor
    )
    assert list(assert_problem(response, 422)["errors"]) == ["version"]


def test_a_day_beyond_the_calendar_is_422(client, as_learner):
    response = client.patch("/api/v1/me", json={"away_until": "0001-01-01"}, headers=as_learner)
    assert list(assert_problem(response, 422)["errors"]) == ["away_until"]


def test_a_first_working_day_beyond_the_calendar_is_422(client, as_admin, learner):
    response = client.patch(
        f"/api/v1/admin/users/{learner.id}", json={"started_on": "9999-12-31"}, headers=as_admin
    )
    assert list(assert_problem(response, 422)["errors"]) == ["started_on"]


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_a_rostered_first_working_day_beyond_the_calendar_is_a_row_error(client, as_admin, day):
    text = f"username,display_name,department,roles,started_on\nkari,Kari,,learner,{day}\n"
    response = client.post(
        "/api/v1/admin/users/import", data=text.encode(), headers=as_admin, content_type="text/csv"
    )
    problem = assert_problem(response, 422)
    assert [(p["row"], p["field"]) for p in problem["problems"]] == [(2, "started_on")]

"""Badges: declared as data, earned once per period, shown by `GET /me/badges`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.gamification import badges
from app.gamification import service as gamification
from app.gamification.models import EarnedBadge
from tests import factories
from tests.gamification.play import play


@pytest.mark.parametrize(
    ("facts", "codes"),
    [
        (badges.Facts(0, 0, 0, 0), []),
        (badges.Facts(1, 0, 3, 1), ["first_module"]),
        (badges.Facts(1, 1, 3, 1), ["first_module", "perfect_score"]),
        (badges.Facts(5, 0, 99, 6), ["first_module"]),
        (badges.Facts(5, 0, 100, 7), ["first_module", "streak_7", "correct_100"]),
        (
            badges.Facts(40, 2, 150, 30),
            ["first_module", "perfect_score", "streak_7", "streak_30", "correct_100"],
        ),
    ],
)
def test_counter_criteria(facts, codes):
    assert badges.counter_badges_due(facts) == codes


def test_every_badge_has_a_known_kind_and_both_languages():
    kinds = {
        *badges.COUNTER_KINDS,
        "weekly_path_completed",
        "department_path_completed",
        "competition_won",
    }
    assert {b.kind for b in badges.BADGES} <= kinds
    assert len(badges.BY_CODE) == len(badges.BADGES)
    for badge in badges.BADGES:
        assert badge.title.keys() >= {"en", "nb"} and badge.description.keys() >= {"en", "nb"}


def test_my_badges_lists_earned_and_available(client, session, module, as_learner, frozen_clock):
    before = client.get("/api/v1/me/badges", headers=as_learner)
    assert before.status_code == 200
    assert before.json["earned"] == []
    assert {b["code"] for b in before.json["available"]} == set(badges.BY_CODE)
    done = play(client, session, module, as_learner)
    assert [b["code"] for b in done["new_badges"]] == ["first_module", "perfect_score"]
    assert done["new_badges"][0]["title"] == "Første modul"  # the organisation's language
    after = client.get("/api/v1/me/badges", headers=as_learner).json
    assert {b["code"] for b in after["earned"]} == {"first_module", "perfect_score"}
    assert after["earned"][0]["earned_at"].startswith("2026-11-25T10:00:00")
    assert "first_module" not in {b["code"] for b in after["available"]}
    assert all(b["description"] for b in after["available"])


def test_badge_titles_follow_the_callers_language(
    client, session, learner, module, as_learner, frozen_clock
):
    english = {**as_learner, "Accept-Language": "en-GB,en;q=0.9"}
    done = play(client, session, module, english)
    assert done["new_badges"][0]["title"] == "First module"
    earned = client.get("/api/v1/me/badges", headers=english).json["earned"]
    assert {b["title"] for b in earned} >= {"First module"}
    norwegian = client.get("/api/v1/me/badges", headers={**as_learner, "Accept-Language": "no"})
    assert {b["title"] for b in norwegian.json["earned"]} >= {"Første modul"}
    # The learner's own setting comes before the phone's.
    learner.locale = "nb"
    session.flush()
    own = client.get("/api/v1/me/badges", headers=english).json["earned"]
    assert {b["title"] for b in own} >= {"Første modul"}


def test_my_badges_needs_a_login(client):
    assert client.get("/api/v1/me/badges").status_code == 401


def test_a_badge_is_earned_once(client, session, module, learner, as_learner, frozen_clock):
    play(client, session, module, as_learner)
    frozen_clock.advance(days=1)
    again = play(client, session, module, as_learner)
    assert again["new_badges"] == []
    assert session.query(EarnedBadge).filter_by(user_id=learner.id).count() == 2


def test_path_badges_from_the_weeks_mandatory_modules(
    client, session, org, module, learner, colleague, as_learner, frozen_clock
):
    now = datetime(2026, 11, 25, 10, tzinfo=UTC)
    second = factories.publish_module(session, org, factories.module_document(title="To"))
    path = {module.id, second.id}
    play(client, session, module, as_learner)
    assert (
        gamification.check_path_badges(session, user=learner, path_module_ids=path, now=now) == []
    )
    play(client, session, second, as_learner)
    earned = gamification.check_path_badges(session, user=learner, path_module_ids=path, now=now)
    assert [b["code"] for b in earned] == ["weekly_path"]  # the colleague has not finished
    # Calling again earns nothing twice.
    assert (
        gamification.check_path_badges(session, user=learner, path_module_ids=path, now=now) == []
    )
    from tests.conftest import auth_headers

    as_colleague = auth_headers(session, colleague)
    play(client, session, module, as_colleague)
    play(client, session, second, as_colleague)
    earned = gamification.check_path_badges(session, user=colleague, path_module_ids=path, now=now)
    assert [b["code"] for b in earned] == ["weekly_path", "department_weekly_path"]
    team = session.query(EarnedBadge).filter_by(code="department_weekly_path", period="2026-W48")
    assert {b.user_id for b in team} == {learner.id, colleague.id}  # celebrated together


def test_inactive_members_do_not_hold_the_department_back(
    client, session, org, module, learner, colleague, as_learner, frozen_clock
):
    colleague.active = False
    session.flush()
    play(client, session, module, as_learner)
    now = datetime(2026, 11, 25, 10, tzinfo=UTC)
    earned = gamification.check_path_badges(
        session, user=learner, path_module_ids={module.id}, now=now
    )
    assert [b["code"] for b in earned] == ["weekly_path", "department_weekly_path"]


def test_leaderboard_visibility_is_a_setting_of_mine(client, as_learner):
    changed = client.patch(
        "/api/v1/me", json={"leaderboard_visibility": "department"}, headers=as_learner
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["leaderboard_visibility"] == "department"
    assert (
        client.get("/api/v1/me", headers=as_learner).json["leaderboard_visibility"] == "department"
    )
    bad = client.patch("/api/v1/me", json={"leaderboard_visibility": "nobody"}, headers=as_learner)
    assert bad.status_code == 422
    assert "leaderboard_visibility" in bad.json["errors"]

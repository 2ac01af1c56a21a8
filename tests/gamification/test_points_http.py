"""Points rules through the API: bonuses, no farming, daily cap, org overrides, offline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from app.gamification.models import PointAward
from tests import factories
from tests.gamification.play import offline_event, play


def ledger(session, user):
    return session.execute(
        select(PointAward.points, PointAward.reason)
        .where(PointAward.user_id == user.id)
        .order_by(PointAward.id)
    ).all()


def test_a_perfect_first_attempt_pays_every_bonus(
    client, session, module, learner, as_learner, frozen_clock
):
    done = play(client, session, module, as_learner)
    assert done["answer_points"] == [15, 15, 15]  # 10 per correct answer + 5 first try
    assert done["points_awarded"] == 35  # completion 20 + perfect score 15
    assert done["points_total"] == 80
    assert done["level"] == {"number": 1, "points_to_next": 20}
    assert done["streak"] == {"current": 1, "longest": 1, "freezes": 0}
    assert {b["code"] for b in done["new_badges"]} == {"first_module", "perfect_score"}
    reasons = [reason for _, reason in ledger(session, learner)]
    assert sorted(set(reasons)) == [
        "Correct answer",
        "First-try bonus",
        "Module completed",
        "Perfect score",
    ]
    page = client.get("/api/v1/me/points", headers=as_learner).json
    assert sum(item["points"] for item in page["items"]) == 80
    assert {item["module_id"] for item in page["items"]} == {module.id}


def test_repeating_a_module_pays_only_for_improvement(
    client, session, module, learner, as_learner, frozen_clock
):
    first = play(client, session, module, as_learner, wrong=2)
    assert first["answer_points"] == [0, 0, 15]
    assert first["points_awarded"] == 20  # completion, no perfect score
    frozen_clock.advance(hours=1)
    second = play(client, session, module, as_learner)
    # The first correct answer was already paid; answers 2 and 3 beat the best; no first try.
    assert second["answer_points"] == [0, 10, 10]
    assert second["points_awarded"] == 15  # perfect score once; completion already paid
    assert second["points_total"] == 15 + 20 + 20 + 15
    frozen_clock.advance(hours=1)
    third = play(client, session, module, as_learner)
    assert third["answer_points"] == [0, 0, 0]
    assert third["points_awarded"] == 0
    assert third["points_total"] == second["points_total"]
    assert third["new_badges"] == []


def test_calling_complete_again_pays_nothing_more(
    client, session, module, as_learner, frozen_clock
):
    done = play(client, session, module, as_learner)
    attempt_id = done["attempt_id"]
    again = client.post(f"/api/v1/attempts/{attempt_id}/complete", headers=as_learner)
    assert again.status_code == 200
    assert again.json["points_total"] == done["points_total"]
    assert again.json["new_badges"] == done["new_badges"]


def test_the_organisation_sets_its_own_rules(
    client, session, org, module, as_learner, frozen_clock
):
    org.settings = {
        "points": {
            "per_correct_answer": 3,
            "first_try_bonus": 0,
            "completion_bonus": 7,
            "perfect_score_bonus": 1,
        }
    }
    flag_modified(org, "settings")
    session.flush()
    done = play(client, session, module, as_learner)
    assert done["answer_points"] == [3, 3, 3]
    assert done["points_awarded"] == 8
    assert done["points_total"] == 17


def test_the_daily_cap_stops_paying_until_tomorrow(
    client, session, org, module, learner, as_learner, frozen_clock
):
    org.settings = {"points": {"daily_cap": 40}}
    flag_modified(org, "settings")
    session.flush()
    done = play(client, session, module, as_learner, wrong=0)
    assert done["answer_points"] == [15, 15, 10]  # the third answer hits the cap
    assert done["points_awarded"] == 0
    assert done["points_total"] == 40
    # Capped sources were not paid, so a later attempt on another day may still earn them
    # (the first-try bonus of question 3 is gone: it is no longer a first try).
    frozen_clock.advance(days=1)
    again = play(client, session, module, as_learner)
    assert again["answer_points"] == [0, 0, 0]
    assert again["points_awarded"] == 35  # completion and perfect score, under the new day's cap
    assert sum(p for p, _ in ledger(session, learner)) == 40 + 35


def test_offline_attempts_count_when_they_were_done(
    client, session, module, learner, as_learner, frozen_clock
):
    frozen_clock.advance(days=2)  # the module was published before the phone went offline
    done_at = frozen_clock.current - timedelta(days=1, hours=3)
    synced = client.post(
        "/api/v1/sync",
        json={"events": [offline_event(session, module, done_at)]},
        headers=as_learner,
    )
    assert synced.status_code == 200, synced.json
    assert synced.json["results"][0]["status"] == "applied"
    assert synced.json["results"][0]["points_awarded"] == 80
    earned = set(
        session.scalars(select(PointAward.earned_at).where(PointAward.user_id == learner.id))
    )
    assert earned == {done_at}
    me = client.get("/api/v1/me", headers=as_learner).json
    # Done yesterday, nothing today yet: still a one-day streak (today is open).
    assert me["streak"] == {"current": 1, "longest": 1, "freezes": 0}
    other = factories.publish_module(
        session, module_org(session, module), factories.module_document(title="Hygiene")
    )
    play(client, session, other, as_learner)
    me = client.get("/api/v1/me", headers=as_learner).json
    assert me["streak"]["current"] == 2
    assert me["points"] == {"total": 160, "this_week": 160}


def module_org(session, module):
    from app.orgs.models import Organization

    return session.get(Organization, module.org_id)


def test_streak_days_are_the_users_own_days(
    client, session, org, module, learner, as_learner, frozen_clock
):
    second = factories.publish_module(session, org, factories.module_document(title="To"))
    # 03:00 and 22:00 UTC on 25 November: one day in Oslo, two days in New York.
    frozen_clock.set(datetime(2026, 11, 25, 3, 0, tzinfo=UTC))
    play(client, session, module, as_learner)
    frozen_clock.set(datetime(2026, 11, 25, 22, 0, tzinfo=UTC))
    play(client, session, second, as_learner)
    assert client.get("/api/v1/me", headers=as_learner).json["streak"]["current"] == 1
    learner.timezone = "America/New_York"
    session.flush()
    session.execute(
        PointAward.__table__.delete().where(PointAward.user_id == learner.id)  # start afresh
    )
    from app.gamification.models import LearningDay

    session.execute(LearningDay.__table__.delete().where(LearningDay.user_id == learner.id))
    third = factories.publish_module(session, org, factories.module_document(title="Tre"))
    fourth = factories.publish_module(session, org, factories.module_document(title="Fire"))
    frozen_clock.set(datetime(2026, 11, 26, 3, 0, tzinfo=UTC))  # 25 Nov, 22:00 in New York
    play(client, session, third, as_learner)
    frozen_clock.set(datetime(2026, 11, 26, 22, 0, tzinfo=UTC))  # 26 Nov, 17:00 in New York
    me_done = play(client, session, fourth, as_learner)
    assert me_done["streak"]["current"] == 2


def test_streaks_survive_the_switch_to_summer_time(
    client, session, org, module, as_learner, frozen_clock
):
    second = factories.publish_module(session, org, factories.module_document(title="To"))
    # 00:30 local on 28 March (CET, +1) and 00:30 local on 29 March (CEST, +2): two days.
    frozen_clock.set(datetime(2027, 3, 27, 23, 30, tzinfo=UTC))
    play(client, session, module, as_learner)
    frozen_clock.set(datetime(2027, 3, 28, 22, 30, tzinfo=UTC))
    done = play(client, session, second, as_learner)
    assert done["streak"]["current"] == 2


def test_me_shows_level_and_streak(client, session, module, as_learner, frozen_clock):
    empty = client.get("/api/v1/me", headers=as_learner).json
    assert empty["level"] == {"number": 1, "points_to_next": 100}
    assert empty["streak"] == {"current": 0, "longest": 0, "freezes": 0}
    assert empty["leaderboard_visibility"] == "everyone"
    play(client, session, module, as_learner)
    me = client.get("/api/v1/me", headers=as_learner).json
    assert me["points"]["total"] == 80
    assert me["level"] == {"number": 1, "points_to_next": 20}
    assert me["streak"]["current"] == 1


def test_a_review_day_counts_for_the_streak(
    client, session, module, learner, as_learner, frozen_clock
):
    """The reviews domain calls `record_learning_day` after a review; twice a day is one day."""
    from app.gamification import service as gamification

    yesterday = frozen_clock.current - timedelta(days=1)
    gamification.record_learning_day(session, user=learner, at=yesterday)
    gamification.record_learning_day(session, user=learner, at=yesterday + timedelta(minutes=5))
    assert gamification.learning_days(session, learner.id) == [yesterday.date()]
    done = play(client, session, module, as_learner)
    assert done["streak"] == {"current": 2, "longest": 2, "freezes": 0}


def test_rest_days_come_from_the_organisation(
    client, session, org, module, learner, as_learner, frozen_clock
):
    from app.gamification import service as gamification

    # Learned Monday 16 and Tuesday 17 November, then nothing until Wednesday 25.
    for day in (16, 17):
        gamification.record_learning_day(
            session, user=learner, at=datetime(2026, 11, day, 12, tzinfo=UTC)
        )
    assert client.get("/api/v1/me", headers=as_learner).json["streak"]["current"] == 0
    org.settings = {"streak": {"rest_days_per_week": 5}}
    flag_modified(org, "settings")
    session.flush()
    # 18–22 November are five rest days of week 47; 23 and 24 two of week 48.
    assert client.get("/api/v1/me", headers=as_learner).json["streak"]["current"] == 2

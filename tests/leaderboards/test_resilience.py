"""Redis can fail: an outage with a real, test-owned redis-server; rebuild; archive."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.gamification.models import PointAward
from app.leaderboards import store
from app.leaderboards.models import ArchivedPeriod, ArchivedStanding, BoardRepair
from tests import factories
from tests.conftest import auth_headers
from tests.gamification.play import offline_event, play
from tests.leaderboards.test_board_property import (
    brute_force,
    department_parents,
    redis_boards,
)
from tests.own_redis import OwnRedis

USERS = "/api/v1/leaderboards/users"


@pytest.fixture(params=[False, True], ids=["data-lost", "data-kept"])
def own_redis(request, app, tmp_path, monkeypatch) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path, persistent=request.param)
    server.start()
    monkeypatch.setitem(app.extensions, "redis", server.client)
    yield server
    if server.process is not None:
        server.stop()


def ledger_rows(session, org_id):
    return [
        tuple(row)
        for row in session.execute(
            select(
                PointAward.user_id,
                PointAward.department_id,
                PointAward.points,
                PointAward.earned_at,
            ).where(PointAward.org_id == org_id)
        )
    ]


def test_learning_goes_on_while_redis_is_down(
    client, session, org, module, learner, colleague, as_learner, own_redis, frozen_clock
):
    play(client, session, module, as_learner)
    first = client.get(USERS, headers=as_learner).json
    assert [e["score"] for e in first["entries"]] == [80]

    own_redis.stop()
    frozen_clock.advance(minutes=5)
    as_colleague = auth_headers(session, colleague)
    done = play(client, session, module, as_colleague)  # answering and completing still work
    assert done["points_total"] == 80
    assert session.get(BoardRepair, org.id) is not None  # the boards are marked stale
    during = client.get(USERS, headers=as_colleague)  # boards come from the ledger meanwhile
    assert during.status_code == 200
    assert [(e["user"]["display_name"], e["score"]) for e in during.json["entries"]] == [
        ("Learner", 80),
        ("Colleague", 80),
    ]

    own_redis.start()
    after = client.get(USERS, headers=as_colleague).json  # repaired on this read
    assert [(e["user"]["display_name"], e["score"]) for e in after["entries"]] == [
        ("Learner", 80),
        ("Colleague", 80),
    ]
    assert after["me"] == {"rank": 2, "score": 80}
    assert session.get(BoardRepair, org.id) is None
    assert redis_boards(own_redis.client, org.id) == brute_force(
        ledger_rows(session, org.id), org.timezone, department_parents(session, org.id)
    )


def test_rebuild_from_the_ledger_swaps_in_every_board(
    app,
    client,
    session,
    org,
    other_org,
    module,
    learner,
    colleague,
    as_learner,
    frozen_clock,
    redis_client,
):
    play(client, session, module, as_learner)
    frozen_clock.advance(days=8)
    play(client, session, module, auth_headers(session, colleague), wrong=1)
    rival_module = factories.publish_module(session, other_org, factories.module_document())
    rival = factories.make_user(session, other_org, "rival")
    play(client, session, rival_module, auth_headers(session, rival))
    # Damage: a wrong score, a board that should not exist, a lost board.
    redis_client.zadd(store.key(org.id, "users:org", "all_time", "all"), {learner.id: 5})
    redis_client.zadd(store.key(org.id, "users:org", "week", "2026-W40"), {"ghost": 1e6})
    redis_client.delete(store.key(org.id, "depts", "month", "2026-12"))

    result = app.test_cli_runner().invoke(args=["leaderboards", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "Rebuilt" in result.output
    for each in (org, other_org):
        expected = brute_force(
            ledger_rows(session, each.id), each.timezone, department_parents(session, each.id)
        )
        assert redis_boards(redis_client, each.id) == expected
        assert redis_client.get(store.built_key(each.id))  # complete, with this rebuild's token
    assert not list(redis_client.scan_iter(match="nl:*:tmp:*"))
    # Each rebuild marks the boards with a new token: readers holding a board see it changed.
    token = redis_client.get(store.built_key(org.id))
    assert app.test_cli_runner().invoke(args=["leaderboards", "rebuild"]).exit_code == 0
    assert redis_client.get(store.built_key(org.id)) not in (None, token)


def test_finished_periods_are_archived_and_stay_readable(
    app, client, session, org, module, learner, colleague, as_learner, frozen_clock, redis_client
):
    other = factories.publish_module(session, org, factories.module_document(title="Sent"))
    play(client, session, module, as_learner)
    frozen_clock.advance(hours=1)
    play(client, session, module, auth_headers(session, colleague), wrong=2)
    assert client.get(USERS, headers=as_learner).status_code == 200  # boards built
    week_key = store.key(org.id, f"users:dept:{learner.department_id}", "week", "2026-W48")

    frozen_clock.advance(days=7)  # now 2026-W49 and December
    result = app.test_cli_runner().invoke(args=["leaderboards", "archive"])
    assert result.exit_code == 0, result.output
    assert "Archived 2 period(s)" in result.output  # 2026-W48 and 2026-11
    assert {(p.window, p.period) for p in session.scalars(select(ArchivedPeriod))} == {
        ("week", "2026-W48"),
        ("month", "2026-11"),
    }
    assert 0 < redis_client.ttl(week_key) <= store.ARCHIVED_KEY_GRACE_SECONDS
    again = app.test_cli_runner().invoke(args=["leaderboards", "archive"])
    assert "Archived 0 period(s)" in again.output

    redis_client.delete(week_key)  # the key expired
    past = client.get(f"{USERS}?period=2026-W48", headers=as_learner).json
    assert [(e["rank"], e["user"]["display_name"], e["score"]) for e in past["entries"]] == [
        (1, "Learner", 80),
        (2, "Colleague", 35),
    ]
    assert past["me"] == {"rank": 1, "score": 80}
    rows = session.scalars(
        select(ArchivedStanding).where(
            ArchivedStanding.board == "depts", ArchivedStanding.window == "month"
        )
    ).all()
    # Kasse, and the store above it counting everything earned below it.
    kasse, store_above = learner.department_id, learner.department.parent_id
    assert sorted((r.member_id, r.points) for r in rows) == sorted(
        [(kasse, 115), (store_above, 115)]
    )
    assert sorted(r.rank for r in rows) == [1, 2]

    # A late offline attempt done in the archived week makes it stale; the next read recounts.
    late = offline_event(session, other, datetime(2026, 11, 27, 9, tzinfo=UTC))  # in W48
    synced = client.post(
        "/api/v1/sync", json={"events": [late]}, headers=auth_headers(session, colleague)
    )
    assert synced.json["results"][0]["status"] == "applied"
    assert session.get(ArchivedPeriod, (org.id, "week", "2026-W48")).stale is True
    recounted = client.get(f"{USERS}?period=2026-W48", headers=as_learner).json
    assert [(e["user"]["display_name"], e["score"]) for e in recounted["entries"]] == [
        ("Colleague", 115),
        ("Learner", 80),
    ]
    assert session.get(ArchivedPeriod, (org.id, "week", "2026-W48")).stale is False


def test_a_rolled_back_savepoint_leaves_the_boards_exact(
    session, org, learner, frozen_clock, redis_client
):
    from app.gamification import service as gamification

    now = frozen_clock.current
    gamification.award_points(
        session, user=learner, points=5, reason="Test", source_key="a", earned_at=now, now=now
    )
    try:
        with session.begin_nested():
            gamification.award_points(
                session,
                user=learner,
                points=7,
                reason="Test",
                source_key="b",
                earned_at=now,
                now=now,
            )
            raise RuntimeError("one offline event fails")
    except RuntimeError:
        pass
    session.commit()
    # The award before the savepoint counts; the one rolled back with it does not.
    assert session.get(BoardRepair, org.id) is None
    boards = redis_boards(redis_client, org.id)
    assert boards == brute_force(
        ledger_rows(session, org.id), org.timezone, department_parents(session, org.id)
    )
    assert boards[("all_time", "all", "users:org")] == [(learner.id, 5)]


def test_a_clean_commit_needs_no_repair(session, org, learner, frozen_clock, redis_client):
    from app.gamification import service as gamification

    now = frozen_clock.current
    gamification.award_points(
        session, user=learner, points=5, reason="Test", source_key="a", earned_at=now, now=now
    )
    session.commit()
    assert session.get(BoardRepair, org.id) is None
    assert redis_client.zscore(store.key(org.id, "users:org", "all_time", "all"), learner.id)

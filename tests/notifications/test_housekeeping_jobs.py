"""The worker's housekeeping jobs for other domains: each commits its work, twice is harmless."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.competitions.models import Competition
from app.gamification import service as gamification
from app.gamification.models import EarnedBadge
from app.idempotency.models import IdempotentResponse
from app.leaderboards.models import ArchivedPeriod
from app.notifications import jobs


def test_finish_competitions_job_freezes_standings_once(
    session: Any,
    org: Any,
    store: Any,
    warehouse: Any,
    manager: Any,
    frozen_clock: Any,
) -> None:
    now = frozen_clock.current
    ended = Competition(
        org_id=org.id,
        title="Novemberkampen",
        starts_at=now - timedelta(days=7),
        ends_at=now - timedelta(minutes=3),
        metric="total",
        department_ids=[store.id, warehouse.id],
    )
    running = Competition(
        org_id=org.id,
        title="Desember",
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=7),
        metric="total",
        department_ids=[store.id, warehouse.id],
    )
    session.add_all([ended, running])
    gamification.award_points(
        session,
        user=manager,
        points=30,
        reason="Correct answer",
        source_key="test:1",
        earned_at=now - timedelta(days=2),
        now=now,
    )
    session.commit()

    assert jobs.finish_competitions() == 1
    assert jobs.finish_competitions() == 0  # the next run (5 min later) finds nothing

    session.expire_all()
    assert ended.finished_at == now
    assert ended.winner_department_id == store.id
    assert ended.results is not None and ended.results[0]["points"] == 30
    assert running.finished_at is None
    won = session.scalars(
        select(EarnedBadge.user_id).where(EarnedBadge.code == "competition_won")
    ).all()
    assert won == [manager.id]


def test_archive_leaderboards_job_archives_each_finished_week_once(
    session: Any, learner: Any, frozen_clock: Any
) -> None:
    now = frozen_clock.current  # Wednesday of 2026-W48
    gamification.award_points(
        session,
        user=learner,
        points=40,
        reason="Correct answer",
        source_key="test:last-week",
        earned_at=now - timedelta(days=7),
        now=now - timedelta(days=7),
    )
    session.commit()

    assert jobs.archive_leaderboards() == 1
    assert jobs.archive_leaderboards() == 0

    archived = session.execute(
        select(ArchivedPeriod.window, ArchivedPeriod.period, ArchivedPeriod.stale).where(
            ArchivedPeriod.org_id == learner.org_id
        )
    ).all()
    assert archived == [("week", "2026-W47", False)]  # November is not over yet


def test_purge_idempotency_records_job_drops_only_expired_ones(
    app: Any, session: Any, learner: Any, frozen_clock: Any
) -> None:
    now = frozen_clock.current
    hours = app.config["IDEMPOTENCY_HOURS"]

    def stored(key: str, age: timedelta) -> IdempotentResponse:
        return IdempotentResponse(
            user_id=learner.id,
            scope="POST /api/v1/attempts/x/complete",
            key=key,
            request_hash="0" * 64,
            status_code=200,
            body={},
            created_at=now - age,
        )

    session.add_all(
        [stored("old", timedelta(hours=hours + 1)), stored("fresh", timedelta(hours=1))]
    )
    session.commit()

    assert jobs.purge_idempotency_records() == 1
    assert jobs.purge_idempotency_records() == 0
    assert session.scalars(select(IdempotentResponse.key)).all() == ["fresh"]

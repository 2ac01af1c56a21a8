"""The learner's journey and the boards on a Sentinel-managed primary and replica; a failover
in the middle of a run of answers loses no answer and no point, and the boards heal."""

from __future__ import annotations

from sqlalchemy import func, select

from app import clock
from app.gamification.models import PointAward
from app.leaderboards import service
from app.learning.models import Answer
from tests import factories
from tests.conftest import auth_headers
from tests.gamification.play import play
from tests.leaderboards.test_board_property import (
    brute_force,
    department_parents,
    redis_boards,
)
from tests.leaderboards.test_resilience import ledger_rows
from tests.redis_deployments.conftest import use_redis_url

USERS = "/api/v1/leaderboards/users"


def test_the_learners_journey_and_the_boards_behind_a_sentinel(
    app, client, session, org, module, learner, monkeypatch, sentinel_pair
):
    redis_client = use_redis_url(app, monkeypatch, sentinel_pair.url)
    login = client.post(
        "/api/v1/auth/login",
        json={
            "organization": org.slug,
            "username": learner.username,
            "password": factories.PASSWORD,
        },
    )
    assert login.status_code == 200
    as_learner = {"Authorization": f"Bearer {login.json['access_token']}"}
    assert client.get("/api/v1/paths/current", headers=as_learner).status_code == 200
    done = play(client, session, module, as_learner)
    board = client.get(USERS, headers=as_learner).json
    assert board["me"] == {"rank": 1, "score": done["points_total"]}
    assert redis_boards(redis_client, org.id) == brute_force(
        ledger_rows(session, org.id), org.timezone, department_parents(session, org.id)
    )


def test_a_failover_in_a_run_of_answers_loses_no_answer_and_no_point(
    app, client, session, org, module, monkeypatch, sentinel_pair, checkout
):
    redis_client = use_redis_url(app, monkeypatch, sentinel_pair.url)
    questions = len(factories.correct_choices(factories.current_version(session, module)))
    people = [
        factories.make_user(session, org, f"shift-{n}", department=checkout) for n in range(4)
    ]
    totals = {}
    primary_before = sentinel_pair.primary_port()
    for index, person in enumerate(people):
        if index == 2:  # half-way through the shift start
            assert sentinel_pair.fail_over() != primary_before
        done = play(client, session, module, auth_headers(session, person))
        totals[person.display_name] = done["points_total"]

    answers = session.scalar(select(func.count()).select_from(Answer))
    assert answers == questions * len(people)
    ledger = session.scalar(select(func.sum(PointAward.points)).where(PointAward.org_id == org.id))
    assert ledger == sum(totals.values())
    # Boards: an update that failed during the switch marked the organisation for repair and a
    # read repairs it; an update the old primary took in its last moment and never handed over
    # (replication is asynchronous) is restored by `leaderboards rebuild`, as the README says.
    service.rebuild_all(session, now=clock.now(), client=redis_client)
    board = client.get(USERS, headers=auth_headers(session, people[0])).json
    assert {e["user"]["display_name"]: e["score"] for e in board["entries"]} == totals
    assert redis_boards(redis_client, org.id) == brute_force(
        ledger_rows(session, org.id), org.timezone, department_parents(session, org.id)
    )

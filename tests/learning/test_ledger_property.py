"""Property: whatever mix of answers, retries, replayed offline events and repeated completions
the phone sends, every award is paid exactly once."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.gamification.models import PointAward
from tests import factories
from tests.conftest import auth_headers
from tests.learning.conftest import Learner
from tests.learning.test_sync import offline_event

_users = itertools.count()

keys = st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3"]))
actions = st.lists(
    st.one_of(
        st.tuples(st.just("start"), keys),
        st.tuples(st.just("answer"), st.integers(0, 2), st.booleans(), keys),
        st.tuples(st.just("complete"), keys),
        st.tuples(st.just("sync"), st.integers(0, 1), keys),
    ),
    max_size=14,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=actions)
def test_the_ledger_pays_each_award_once(
    client, session, org, checkout, module, frozen_clock, script
):
    version = factories.current_version(session, module)
    learner = factories.make_user(session, org, f"prop{next(_users)}", department=checkout)
    phone = Learner(client, auth_headers(session, learner))
    questions = list(factories.correct_choices(version))
    events = [
        offline_event(
            version, completed_at=frozen_clock() - timedelta(hours=h), client_id=str(uuid.uuid4())
        )
        for h in (1, 2)
    ]

    expected: set[str] = set()  # source keys of the awards that should exist
    attempts: list[str] = []
    answered: set[tuple[str, str]] = set()
    completed: set[str] = set()

    for action in script:
        kind, key = action[0], action[-1]
        headers = {"Idempotency-Key": key} if key else {}
        if kind == "start":
            response = phone.start(module.id, **headers)
            assert response.status_code in (201, 422)
            if response.status_code == 201 and response.json["id"] not in attempts:
                attempts.append(response.json["id"])
        elif kind == "answer" and attempts:
            attempt_id = attempts[-1]
            question_id = questions[action[1]]
            choices = (
                factories.correct_choices(version)[question_id]
                if action[2]
                else factories.wrong_choice(version, question_id)
            )
            response = phone.answer(attempt_id, question_id, choices, **headers)
            assert response.status_code in (201, 409, 422)
            if response.status_code == 201 and "Idempotent-Replayed" not in response.headers:
                assert (attempt_id, question_id) not in answered
                assert attempt_id not in completed
                answered.add((attempt_id, question_id))
                if action[2]:
                    expected.add(f"answer:{attempt_id}:{question_id}")
        elif kind == "complete" and attempts:
            response = phone.complete(attempts[-1], **headers)
            assert response.status_code in (200, 422)
            if response.status_code == 200:
                completed.add(attempts[-1])
                expected.add(f"module-complete:{module.id}")
        elif kind == "sync":
            response = phone.sync([events[action[1]]], **headers)
            assert response.status_code in (200, 422)
            if response.status_code == 200:
                [result] = response.json["results"]
                assert result["status"] in ("applied", "duplicate")
                if result["status"] == "applied":
                    expected.update(f"answer:{result['attempt_id']}:{q}" for q in questions)
                    expected.add(f"module-complete:{module.id}")

    rows = session.execute(
        select(
            func.count(),
            func.count(func.distinct(PointAward.source_key)),
            func.coalesce(func.sum(PointAward.points), 0),
        ).where(PointAward.user_id == learner.id)
    ).one()
    count, distinct, total = rows
    assert count == distinct == len(expected)
    paid = set(
        session.scalars(select(PointAward.source_key).where(PointAward.user_id == learner.id))
    )
    assert paid == expected
    assert phone.points_total() == total

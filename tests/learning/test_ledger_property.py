"""Property: whatever mix of answers, retries, replayed offline events and repeated completions
the phone sends, every award is paid exactly once, and the ledger total is the sum of the
awards the API reported (each counted once)."""

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

    paid_by_responses = 0  # what the API said it paid, counting each award once
    attempts: list[str] = []
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
            question_id = questions[action[1]]
            choices = (
                factories.correct_choices(version)[question_id]
                if action[2]
                else factories.wrong_choice(version, question_id)
            )
            response = phone.answer(attempts[-1], question_id, choices, **headers)
            assert response.status_code in (201, 409, 422)
            if response.status_code == 201 and "Idempotent-Replayed" not in response.headers:
                paid_by_responses += response.json["points_awarded"]
        elif kind == "complete" and attempts:
            response = phone.complete(attempts[-1], **headers)
            assert response.status_code in (200, 422)
            # A repeated completion returns the first result: its points were paid once.
            if response.status_code == 200 and attempts[-1] not in completed:
                completed.add(attempts[-1])
                paid_by_responses += response.json["points_awarded"]
        elif kind == "sync":
            response = phone.sync([events[action[1]]], **headers)
            assert response.status_code in (200, 422)
            if response.status_code == 200 and "Idempotent-Replayed" not in response.headers:
                [result] = response.json["results"]
                assert result["status"] in ("applied", "duplicate")
                if result["status"] == "duplicate":
                    assert result["points_awarded"] == 0
                paid_by_responses += result["points_awarded"]

    count, distinct, total = session.execute(
        select(
            func.count(),
            func.count(func.distinct(PointAward.source_key)),
            func.coalesce(func.sum(PointAward.points), 0),
        ).where(PointAward.user_id == learner.id)
    ).one()
    assert count == distinct  # no source ever paid twice
    assert total == paid_by_responses  # and nothing paid that the phone was not told of
    assert phone.points_total() == total

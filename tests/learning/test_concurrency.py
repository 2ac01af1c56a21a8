"""Races between real concurrent requests on PostgreSQL: nothing is paid twice.

These tests commit for real (other connections must see the data), so they build their own
organisation and delete it afterwards. SQLite serialises writers, so they run on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app import db
from app.auth.models import LoginSession
from app.auth.tokens import AccessClaims, encode_access_token
from app.gamification.models import PointAward
from app.orgs.models import Organization
from tests import factories
from tests.conftest import SECRET
from tests.learning.test_sync import offline_event

THREADS = 8


@pytest.fixture
def world(app, engine) -> Iterator[dict[str, Any]]:
    if engine.dialect.name != "postgresql":
        pytest.skip("needs concurrent writers (PostgreSQL)")
    with Session(engine, expire_on_commit=False) as setup:
        org = factories.make_org(setup, slug=f"race-{uuid.uuid4().hex[:8]}", name="Race")
        learner = factories.make_user(setup, org, "racer")
        module = factories.publish_module(setup, org, factories.module_document())
        version = factories.current_version(setup, module)
        login = LoginSession(user_id=learner.id, created_at=datetime.now(UTC))
        setup.add(login)
        setup.commit()
        token = encode_access_token(
            AccessClaims(user_id=learner.id, org_id=org.id, session_id=login.id),
            secret=SECRET,
            now=datetime.now(UTC),
            lifetime=timedelta(hours=1),
        )
    # Requests in these tests use real transactions on the engine, not the test's rollback.
    db.session.remove()
    db.session.configure(bind=engine, join_transaction_mode="conditional_savepoint")
    try:
        yield {
            "org_id": org.id,
            "user_id": learner.id,
            "module_id": module.id,
            "version": version,
            "headers": {"Authorization": f"Bearer {token}"},
        }
    finally:
        db.session.remove()
        with Session(engine) as cleanup:
            cleanup.execute(delete(Organization).where(Organization.id == org.id))
            cleanup.commit()


def in_parallel(app, request) -> list[Any]:
    def call(_: int) -> Any:
        with app.test_client() as client:
            try:
                return request(client)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(call, range(THREADS)))


def ledger(engine, user_id: str) -> tuple[int, int]:
    with Session(engine) as check:
        count, total = check.execute(
            select(func.count(), func.coalesce(func.sum(PointAward.points), 0)).where(
                PointAward.user_id == user_id
            )
        ).one()
        return int(count), int(total)


def test_racing_answers_to_one_question_pay_once(app, engine, world):
    with app.test_client() as client:
        attempt = client.post(
            f"/api/v1/modules/{world['module_id']}/attempts", headers=world["headers"]
        ).json
    question_id, choice_ids = next(iter(factories.correct_choices(world["version"]).items()))
    responses = in_parallel(
        app,
        lambda c: c.post(
            f"/api/v1/attempts/{attempt['id']}/answers",
            json={"question_id": question_id, "choice_ids": choice_ids},
            headers=world["headers"],
        ),
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: THREADS - 1}
    assert ledger(engine, world["user_id"]) == (2, 15)  # correct answer + first-try bonus


def test_racing_retries_with_one_key_all_get_the_first_answer(app, engine, world):
    with app.test_client() as client:
        attempt = client.post(
            f"/api/v1/modules/{world['module_id']}/attempts", headers=world["headers"]
        ).json
    question_id, choice_ids = next(iter(factories.correct_choices(world["version"]).items()))
    responses = in_parallel(
        app,
        lambda c: c.post(
            f"/api/v1/attempts/{attempt['id']}/answers",
            json={"question_id": question_id, "choice_ids": choice_ids},
            headers={**world["headers"], "Idempotency-Key": "retry-storm"},
        ),
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.get_data() for r in responses}) == 1
    assert ledger(engine, world["user_id"]) == (2, 15)


def test_racing_completions_pay_the_bonus_once(app, engine, world):
    with app.test_client() as client:
        attempt = client.post(
            f"/api/v1/modules/{world['module_id']}/attempts", headers=world["headers"]
        ).json
        # Every question answered (wrongly: no answer points), so completing pays the bonus.
        for question_id in factories.correct_choices(world["version"]):
            answered = client.post(
                f"/api/v1/attempts/{attempt['id']}/answers",
                json={
                    "question_id": question_id,
                    "choice_ids": factories.wrong_choice(world["version"], question_id),
                },
                headers=world["headers"],
            )
            assert answered.status_code == 201
    responses = in_parallel(
        app,
        lambda c: c.post(f"/api/v1/attempts/{attempt['id']}/complete", headers=world["headers"]),
    )
    assert {r.status_code for r in responses} == {200}
    assert len({r.get_data() for r in responses}) == 1
    assert ledger(engine, world["user_id"]) == (1, 20)


def test_the_same_offline_batch_uploaded_twice_at_once_applies_once(app, engine, world):
    event = offline_event(world["version"], completed_at=datetime.now(UTC) - timedelta(hours=1))
    responses = in_parallel(
        app, lambda c: c.post("/api/v1/sync", json={"events": [event]}, headers=world["headers"])
    )
    statuses = Counter(r.json["results"][0]["status"] for r in responses)
    assert statuses == {"applied": 1, "duplicate": THREADS - 1}
    # three answers (correct + first try each), completion and perfect score
    assert ledger(engine, world["user_id"]) == (8, 80)

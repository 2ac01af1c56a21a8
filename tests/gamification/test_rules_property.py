"""Property: no sequence of API calls earns more than the game's rules allow
(docs/game-rules.md). A learner drives the HTTP API with random starts, answers, completions,
offline events (whole, partial, empty, replayed), idempotency-key replays with the same or a
changed body, review answers (due or never seen) and days passing, on a sequential weekly
path of two modules. After each call the answer must fit the rules as a model of the learner
knows them; at the end every ledger row, learning day and badge must have the work behind it
in the database, and the path must count exactly the passed modules."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.gamification.models import EarnedBadge, LearningDay, PointAward
from app.learning.models import Answer, Attempt
from app.reviews.models import ReviewItem
from tests import factories
from tests.conftest import auth_headers
from tests.learning.conftest import Learner
from tests.paths.conftest import make_modules, schedule

_users = itertools.count()

keys = st.one_of(st.none(), st.sampled_from(["k1", "k2"]))
# How an offline attempt was answered: all right, all wrong, the first two right, none.
ANSWER_SETS = ("right", "wrong", "partial", "none")
actions = st.lists(
    st.one_of(
        st.tuples(st.just("start"), st.integers(0, 1), keys),
        st.tuples(st.just("answer"), st.integers(0, 2), st.booleans(), keys),
        st.tuples(st.just("complete"), keys),
        # An event from a small pool, so the same client_id comes back (a replay).
        st.tuples(st.just("sync"), st.integers(0, 1), st.sampled_from(ANSWER_SETS), keys),
        st.tuples(st.just("replay_sync"), keys),
        st.tuples(st.just("review"), st.booleans(), st.booleans()),
        st.tuples(
            st.just("next_day"),
        ),
    ),
    max_size=18,
)


def _answers(version: Any, how: str, when: str) -> list[dict[str, Any]]:
    right = factories.correct_choices(version)
    chosen = list(right.items())
    if how == "none":
        chosen = []
    elif how == "partial":
        chosen = chosen[:2]
    return [
        {
            "question_id": question_id,
            "choice_ids": choices
            if how in ("right", "partial")
            else factories.wrong_choice(version, question_id),
            "answered_at": when,
        }
        for question_id, choices in chosen
    ]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=actions)
def test_no_sequence_of_calls_earns_more_than_the_rules_allow(
    client, session, org, checkout, frozen_clock, as_editor, script
):
    frozen_clock.set(frozen_clock.current.replace(day=25, hour=10))  # Wednesday of 2026-W48
    modules = _world(session, org, client, as_editor)
    versions = [factories.current_version(session, m) for m in modules]
    learner = factories.make_user(session, org, f"rules{next(_users)}", department=checkout)
    session.commit()  # a refused request's rollback must not take the learner with it
    phone = Learner(client, auth_headers(session, learner))
    questions = [list(factories.correct_choices(v)) for v in versions]

    # The model: what the learner has done, as the API told it.
    attempts: list[tuple[str, int]] = []  # (attempt id, module index)
    answered: dict[str, set[str]] = {}  # attempt id -> questions answered in it
    completed: set[str] = set()
    passed: set[int] = set()  # module indexes passed
    completed_modules: set[int] = set()
    seen: set[str] = set()  # questions answered in any attempt
    pool: dict[tuple[int, str], str] = {}  # (module, answer set) -> client_id
    last_sync: list[Any] = []
    days_passed = 0

    def sync(event: dict[str, Any], how: str, module: int, headers: dict[str, str]) -> None:
        response = phone.sync([event], **headers)
        assert response.status_code in (200, 422), response.json
        if response.status_code != 200 or "Idempotent-Replayed" in response.headers:
            return
        [result] = response.json["results"]
        if result["status"] == "rejected":
            assert result["reason"] == "module_locked"
            assert module == 1 and 0 not in passed
            assert result["points_awarded"] == 0
            return
        if result["status"] == "duplicate":
            assert result["points_awarded"] == 0
            return
        assert result["status"] == "applied"
        assert module == 0 or 0 in passed, "a locked module was applied offline"
        if how == "none":
            assert result["points_awarded"] == 0
        for answer in event["answers"]:
            seen.add(answer["question_id"])
        completed_modules.add(module)
        if how == "right":
            passed.add(module)

    for action in script:
        kind, key = action[0], action[-1]
        headers = {"Idempotency-Key": key} if isinstance(key, str) else {}
        if kind == "start":
            module = action[1]
            response = phone.start(modules[module].id, **headers)
            assert response.status_code in (201, 409, 422), response.json
            if response.status_code == 409:
                assert module == 1 and 0 not in passed
            if response.status_code == 201 and "Idempotent-Replayed" not in response.headers:
                assert module == 0 or 0 in passed, "a locked module was started"
                attempts.append((response.json["id"], module))
                answered[response.json["id"]] = set()
        elif kind == "answer" and attempts:
            attempt_id, module = attempts[-1]
            question_id = questions[module][action[1]]
            right = factories.correct_choices(versions[module])[question_id]
            choices = right if action[2] else factories.wrong_choice(versions[module], question_id)
            response = phone.answer(attempt_id, question_id, choices, **headers)
            assert response.status_code in (201, 409, 422), response.json
            if response.status_code == 201 and "Idempotent-Replayed" not in response.headers:
                points = response.json["points_awarded"]
                assert points <= 15
                if not action[2]:
                    assert points == 0
                if question_id in seen or module in completed_modules:
                    assert points <= 10, "a first-try bonus for a question seen before"
                seen.add(question_id)
                answered[attempt_id].add(question_id)
        elif kind == "complete" and attempts:
            attempt_id, module = attempts[-1]
            response = phone.complete(attempt_id, **headers)
            assert response.status_code in (200, 422), response.json
            if response.status_code == 200 and attempt_id not in completed:
                completed.add(attempt_id)
                completed_modules.add(module)
                body = response.json
                if len(answered[attempt_id]) < len(questions[module]):
                    assert body["points_awarded"] == 0
                    assert body["new_badges"] == []
                    assert body["passed"] is False
                if body["passed"]:
                    passed.add(module)
        elif kind == "sync":
            module, how = action[1], action[2]
            client_id = pool.setdefault((module, how), str(uuid.uuid4()))
            when = (frozen_clock() - timedelta(minutes=20)).isoformat()
            event = {
                "client_id": client_id,
                "type": "attempt",
                "module_id": modules[module].id,
                "module_version": versions[module].version,
                "started_at": when,
                "completed_at": when,
                "answers": _answers(versions[module], how, when),
            }
            last_sync[:] = [event, how, module]
            sync(event, how, module, headers)
        elif kind == "replay_sync" and last_sync:
            event, how, module = last_sync
            sync(event, how, module, headers)
        elif kind == "review":
            due = client.get("/api/v1/me/reviews", headers=phone.headers).json["items"]
            if action[1] and due:
                question_id = due[0]["question_id"]
                module = next(n for n, qs in enumerate(questions) if question_id in qs)
            else:  # a question of the module never answered, perhaps never seen
                module, question_id = 1, questions[1][2]
            right = factories.correct_choices(versions[module])[question_id]
            choices = right if action[2] else factories.wrong_choice(versions[module], question_id)
            response = client.post(
                f"/api/v1/me/reviews/{question_id}/answers",
                json={"choice_ids": choices},
                headers=phone.headers,
            )
            assert response.status_code in (200, 404, 409), response.json
            if response.status_code == 404:  # only what is on the learner's schedule
                assert (
                    session.scalar(
                        select(ReviewItem.id).where(
                            ReviewItem.user_id == learner.id, ReviewItem.question_id == question_id
                        )
                    )
                    is None
                )
            if response.status_code == 200:
                assert question_id in seen
                assert response.json["points_awarded"] <= 5
        elif kind == "next_day" and days_passed < 3:  # stay inside the path's week
            frozen_clock.advance(days=1)
            days_passed += 1

    _assert_the_work_is_behind_everything(session, client, phone, learner, modules, passed)


def _world(session: Any, org: Any, client: Any, as_editor: dict[str, str]) -> list[Any]:
    """Two modules of a sequential mandatory path, made once per test run."""
    cached = session.info.get("rules_world")
    if cached is None:
        cached = make_modules(session, org, 2)
        schedule(client, as_editor, cached, sequential=True)
        session.info["rules_world"] = cached
    return list(cached)


def _assert_the_work_is_behind_everything(
    session: Any, client: Any, phone: Learner, learner: Any, modules: list[Any], passed: set[int]
) -> None:
    user_attempts = list(session.scalars(select(Attempt).where(Attempt.user_id == learner.id)))
    answers = list(
        session.scalars(
            select(Answer)
            .join(Attempt, Attempt.id == Answer.attempt_id)
            .where(Attempt.user_id == learner.id)
        )
    )
    correct_in: dict[str, int] = {}
    for answer in answers:
        correct_in[answer.attempt_id] = correct_in.get(answer.attempt_id, 0) + answer.correct
    finished = [
        a for a in user_attempts if a.completed_at and a.questions_answered == a.questions_total
    ]
    for key, points in session.execute(
        select(PointAward.source_key, PointAward.points).where(PointAward.user_id == learner.id)
    ):
        parts = key.split(":")
        if parts[0] == "review":
            item = session.scalar(
                select(ReviewItem).where(
                    ReviewItem.user_id == learner.id, ReviewItem.question_id == parts[1]
                )
            )
            assert item is not None and item.reviews >= 1, key
            continue
        module_id, what = parts[1], parts[2]
        on_module = [a for a in user_attempts if a.module_id == module_id]
        if what == "complete":
            assert any(a in finished for a in on_module), key
        elif what == "perfect":
            assert any(a in finished and a.score_correct == a.questions_total for a in on_module), (
                key
            )
        elif what == "correct":
            assert any(correct_in.get(a.id, 0) >= int(parts[3]) for a in on_module), key
        elif what == "first-try":
            # The learner's first answer to the question was right (ids follow creation).
            mine = sorted((a for a in answers if a.question_id == parts[3]), key=lambda a: a.id)
            assert mine and mine[0].correct, key
        else:
            raise AssertionError(f"unknown award {key} ({points})")

    # A learning day needs a whole attempt or a review answer on that day.
    zone = learner.organization.timezone
    work_days = {a.completed_at.astimezone(ZoneInfo(zone)).date() for a in finished}
    work_days |= {
        item.last_reviewed_at.astimezone(ZoneInfo(zone)).date()
        for item in session.scalars(select(ReviewItem).where(ReviewItem.user_id == learner.id))
        if item.last_reviewed_at is not None
    }
    days = set(session.scalars(select(LearningDay.day).where(LearningDay.user_id == learner.id)))
    assert days <= work_days

    held = set(session.scalars(select(EarnedBadge.code).where(EarnedBadge.user_id == learner.id)))
    if "first_module" in held:
        assert finished
    if "perfect_score" in held:
        assert any(a.score_correct == a.questions_total for a in finished)
    passed_ids = {a.module_id for a in user_attempts if a.passed}
    assert all(a in finished for a in user_attempts if a.passed)
    if "weekly_path" in held:
        assert passed_ids >= {m.id for m in modules}
    assert passed_ids == {modules[n].id for n in passed}  # the model agrees with the database

    [path] = client.get("/api/v1/paths/current", headers=phone.headers).json["paths"]
    assert path["progress"]["completed"] == len(passed_ids)
    assert [m["passed"] for m in path["modules"]] == [m.id in passed_ids for m in modules]
    total = session.scalar(
        select(func.coalesce(func.sum(PointAward.points), 0)).where(
            PointAward.user_id == learner.id
        )
    )
    assert phone.points_total() == total

"""The learner's loop: start an attempt, answer, complete; and offline attempts via /sync."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import metrics
from app.content import service as content
from app.content.models import Module, ModuleVersion
from app.db import insert_for, new_id
from app.errors import Conflict, Locked, NotFound, Unprocessable, describe_errors
from app.gamification import service as gamification
from app.insights import passes as insight_passes
from app.interop import service as xapi
from app.learning import grading
from app.learning.models import Answer, Attempt
from app.orgs.models import User
from app.outbox import service as outbox
from app.paths import service as paths
from app.reviews import service as reviews
from app.screens import service as screens

if TYPE_CHECKING:
    from app.auth.principal import UserFactsLike

# Clocks on phones drift; this much into the future still counts as "now".
CLOCK_SKEW = timedelta(minutes=5)


def module_statuses(session: Session, user: User, module_ids: list[str]) -> dict[str, str]:
    """`not_started`, `in_progress` or `completed` for each module, in one query."""
    if not module_ids:
        return {}
    rows = session.execute(
        select(
            Attempt.module_id,
            func.count(Attempt.completed_at),
            func.count(Attempt.id),
        )
        .where(Attempt.user_id == user.id, Attempt.module_id.in_(module_ids))
        .group_by(Attempt.module_id)
    )
    statuses = dict.fromkeys(module_ids, "not_started")
    for module_id, completed, started in rows:
        statuses[module_id] = (
            "completed" if completed else "in_progress" if started else statuses[module_id]
        )
    return statuses


def module_summaries(
    session: Session,
    *,
    user: User,
    versions: Sequence[ModuleVersion],
    locales: list[str],
    now: datetime,
) -> list[dict[str, Any]]:
    """The module list's items in my language: my progress on each, and why I may not start
    it yet (`locked_reason`, `requires`), as starting it would answer."""
    module_ids = [version.module_id for version in versions]
    statuses = module_statuses(session, user, module_ids)
    locks = paths.module_locks(session, user=user, module_ids=module_ids, now=now, locales=locales)
    items = []
    for version in versions:
        locale = content.pick_locale(version, locales)
        translation = version.content.get("translations", {}).get(locale) or {}
        lock = locks[version.module_id]
        items.append(
            {
                "id": version.module_id,
                "title": translation.get("title") or version.title,
                "summary": translation.get("summary") or version.summary,
                "topic": version.topic,
                "estimated_minutes": version.estimated_minutes,
                "locale": locale if translation or locale == version.locale else version.locale,
                "version": version.version,
                "status": statuses[version.module_id],
                "locked_reason": lock.reason if lock else None,
                "requires": lock.requires if lock else [],
            }
        )
    return items


def _completed_module_before(session: Session, user_id: str, module_id: str) -> bool:
    return (
        session.scalar(
            select(Attempt.id)
            .where(
                Attempt.user_id == user_id,
                Attempt.module_id == module_id,
                Attempt.completed_at.is_not(None),
            )
            .limit(1)
        )
        is not None
    )


def start_attempt(
    session: Session, *, user: User, module_id: str, now: datetime, locales: list[str]
) -> Attempt:
    """Start an attempt on the newest published version; 409 when the module is locked, with
    the reason in the caller's language and the modules to pass first."""
    version = content.get_version(
        session, content.published_version_id(session, user.org_id, module_id)
    )
    lock = paths.module_lock(
        session, user=user, module_id=version.module_id, now=now, locales=locales
    )
    if lock:
        raise Locked(lock.reason, extra={"reason": lock.reason, "requires": lock.requires})
    attempt = Attempt(
        org_id=user.org_id,
        user_id=user.id,
        module_id=version.module_id,
        module_version_id=version.id,
        module_version=version.version,
        questions_total=len(version.content["questions"]),
        started_at=now,
    )
    session.add(attempt)
    session.flush()
    xapi.attempt_started(
        session,
        user=user,
        attempt=xapi.AttemptFacts(attempt.id, attempt.module_id, version, attempt.started_at),
        now=now,
    )
    return attempt


def _own_attempt(session: Session, user: User, attempt_id: str, *, lock: bool) -> Attempt:
    # FOR UPDATE serialises answers and completion of one attempt across workers.
    attempt = session.get(Attempt, attempt_id, with_for_update=lock, populate_existing=lock)
    if attempt is None or attempt.user_id != user.id:
        raise NotFound("No such attempt.")
    return attempt


@dataclass(frozen=True)
class Feedback:
    question_id: str
    correct: bool
    correct_choice_ids: list[str]
    explanation: str
    points_awarded: int


@dataclass(frozen=True)
class _AnsweredAttempt:
    """What recording and paying an answer needs of its attempt."""

    id: str
    module_id: str
    completed_before: bool  # the user had completed the module in another attempt


# Answering is the hottest write: its statements are Core, built once per dialect, so
# SQLAlchemy reuses their compiled form and the ORM adds nothing per statement.
_attempts = Attempt.__table__
_answers = Answer.__table__


def _lock_attempt_statement() -> Any:
    """The learner's open attempt, locked (FOR UPDATE serialises answers and completion of
    one attempt across workers), and whether they completed its module before."""
    other = _attempts.alias("other")
    completed_before = (
        select(other.c.id)
        .where(
            other.c.user_id == _attempts.c.user_id,
            other.c.module_id == _attempts.c.module_id,
            other.c.completed_at.is_not(None),
            other.c.id != _attempts.c.id,
        )
        .exists()
    )
    return (
        select(
            _attempts.c.module_id,
            _attempts.c.module_version_id,
            _attempts.c.completed_at,
            completed_before.label("completed_before"),
        )
        .where(
            _attempts.c.id == bindparam("attempt_id"),
            _attempts.c.user_id == bindparam("user_id"),
        )
        .with_for_update(of=_attempts)
    )


_LOCK_ATTEMPT = _lock_attempt_statement()
_ANSWER_COLUMNS = (
    "id", "attempt_id", "question_id", "choice_ids", "correct", "answered_at", "recorded_at",
)  # fmt: skip


@cache
def _record_answer_statement(dialect_name: str) -> Any:
    """Insert the answer unless its question is answered in the attempt already (the unique
    pair is the judge), returning how many other questions of the attempt were answered right
    and whether the user answered this question in another attempt before.

    Both leave out the answer's own row, so they are the same whether or not the database
    shows the new row to RETURNING (PostgreSQL does not, SQLite does).
    """
    earlier = _answers.alias("earlier")
    correct_before = (
        select(func.count())
        .where(
            earlier.c.attempt_id == bindparam("of_attempt"),
            earlier.c.correct.is_(True),
            earlier.c.question_id != bindparam("not_question"),
        )
        .scalar_subquery()
    )
    seen = _answers.alias("seen")
    seen_in = _attempts.alias("seen_in")
    # Question ids are unique across modules and versions: the question alone identifies it,
    # and only the user's attempts on the same module can hold it. Naming the module keeps the
    # search to those few attempts (`ix_attempts_user_module`); without it PostgreSQL may read
    # every answer anyone gave to the question, a cost that grows with the whole history.
    # No join: SQLite renders RETURNING's columns unqualified, so each SELECT reads one table.
    answered_before = (
        select(seen.c.id)
        .where(
            seen.c.question_id == bindparam("same_question"),
            seen.c.attempt_id != bindparam("other_than"),
            seen.c.attempt_id.in_(
                select(seen_in.c.id).where(
                    seen_in.c.user_id == bindparam("by_user"),
                    seen_in.c.module_id == bindparam("in_module"),
                )
            ),
        )
        .exists()
    )
    # Named parameters, not the implicit ones of a bare INSERT: those do not survive as a CTE.
    values = {name: bindparam(name, type_=_answers.c[name].type) for name in _ANSWER_COLUMNS}
    return (
        insert_for(dialect_name)(_answers)
        .values(values)
        .on_conflict_do_nothing(index_elements=["attempt_id", "question_id"])
        .returning(correct_before, answered_before)
    )


@cache
def _record_answer_with_statement(
    dialect_name: str, review_correct: bool | None, message_channel: str | None
) -> Any:
    """PostgreSQL: the answer's INSERT and, only when its row went in, the review schedule's
    change (`review_correct` not None) and the outbox message of its xAPI statement (to
    `message_channel`), in one round trip instead of up to three (SQLite has no INSERT inside
    WITH). Returns what the answer's INSERT returns: no row for a question answered before."""
    answer = _record_answer_statement(dialect_name).cte("answer")
    went_in = select(answer).exists()
    combined = select(*answer.c)
    if review_correct is not None:
        combined = combined.add_cte(
            reviews.schedule_statement_when(
                dialect_name, correct=review_correct, only_if=went_in
            ).cte("review")
        )
    if message_channel is not None:
        combined = combined.add_cte(outbox.insert_when(message_channel, went_in).cte("message"))
    return combined


def _record_answer(
    session: Session,
    *,
    user: UserFactsLike,
    attempt: _AnsweredAttempt,
    version: ModuleVersion,
    question_id: str,
    choice_ids: list[str],
    answered_at: datetime,
    earned_at: datetime,
    now: datetime,
) -> tuple[bool, int, grading.KeyedQuestion]:
    key = grading.answer_key(version.id, version.content)
    question = key.questions.get(question_id)
    problems = grading.answer_problems(question, choice_ids)
    if problems or question is None:
        raise Unprocessable("The answer does not fit this attempt's module.", errors=problems)
    correct = grading.is_correct(question, choice_ids)
    review = reviews.review_after_answer(
        user=user,
        module_id=attempt.module_id,
        question_id=question_id,
        version_id=version.id,
        correct=correct,
        now=now,
    )
    connection = session.connection()
    dialect = connection.dialect.name
    params = {
        "id": new_id(),
        "attempt_id": attempt.id,
        "question_id": question_id,
        "choice_ids": choice_ids,
        "correct": correct,
        "answered_at": answered_at,
        "recorded_at": now,
        "of_attempt": attempt.id,
        "not_question": question_id,
        "same_question": question_id,
        "other_than": attempt.id,
        "by_user": user.id,
        "in_module": attempt.module_id,
    }
    # The xAPI statement, made now (its id and time are the answer's); None without an LRS.
    message = xapi.answered_message(
        session,
        user=user,
        attempt_id=attempt.id,
        version=version,
        question_id=question_id,
        choice_ids=choice_ids,
        correct=correct,
        answered_at=answered_at,
    )
    # One statement checks and records, and counts what the points rules need; on
    # PostgreSQL it also carries the review schedule's change and the statement's message.
    statement = _record_answer_statement(dialect)
    review_apart, message_apart = review, message
    if dialect == "postgresql" and (review is not None or message is not None):
        statement = _record_answer_with_statement(
            dialect, review.correct if review else None, xapi.CHANNEL if message else None
        )
        if review is not None:
            params |= review.params
            review_apart = None
        if message is not None:
            params |= outbox.message_params(message, now=now)
            message_apart = None
    recorded = connection.execute(statement, params).first()
    if recorded is None:
        # Answered before in this attempt: nothing went in, no review change, no statement.
        raise Conflict("This question is already answered in this attempt.")
    correct_before, answered_before = recorded
    if message_apart is not None:
        outbox.add(session, channel=xapi.CHANNEL, messages=[message_apart], now=now)
    elif message is not None:
        outbox.written(session, channel=xapi.CHANNEL)
    if review_apart is not None:
        connection.execute(
            reviews.schedule_statement(dialect, correct=review_apart.correct), review_apart.params
        )
    points = 0
    if correct:
        points = gamification.pay_for_answer(
            session,
            user=user,
            module_id=attempt.module_id,
            question_id=question_id,
            nth_correct=int(correct_before) + 1,
            # Not after seeing its feedback in an attempt left unfinished.
            first_try=not attempt.completed_before and not answered_before,
            earned_at=earned_at,
            now=now,
        )
    return correct, points, question


def answer_question(
    session: Session,
    *,
    user: UserFactsLike,
    attempt_id: str,
    question_id: str,
    choice_ids: list[str],
    answered_at: datetime | None,
    locales: list[str],
    now: datetime,
) -> Feedback:
    """Grade one answer against the attempt's version and pay for a correct one."""
    row = (
        session.connection()
        .execute(_LOCK_ATTEMPT, {"attempt_id": attempt_id, "user_id": user.id})
        .first()
    )
    if row is None:
        raise NotFound("No such attempt.")
    if row.completed_at is not None:
        raise Conflict("This attempt is already completed.")
    version = content.get_version(session, row.module_version_id)
    when = answered_at if answered_at and answered_at <= now + CLOCK_SKEW else now
    correct, points, question = _record_answer(
        session,
        user=user,
        attempt=_AnsweredAttempt(attempt_id, row.module_id, bool(row.completed_before)),
        version=version,
        question_id=question_id,
        choice_ids=choice_ids,
        answered_at=when,
        earned_at=now,
        now=now,
    )
    metrics.count_after_commit(session, metrics.ANSWERS, source="online")
    locale = content.pick_locale(version, locales)
    return Feedback(
        question_id=question_id,
        correct=correct,
        correct_choice_ids=list(question.correct_choice_ids),
        explanation=content.localized_feedback(version, question_id, locale),
        points_awarded=points,
    )


def complete_attempt(
    session: Session, *, user: User, attempt_id: str, now: datetime, locale: str | None = None
) -> dict[str, Any]:
    """Score the attempt and pay the completion bonus (new badges titled in `locale`); a
    second call returns the first result."""
    attempt = _own_attempt(session, user, attempt_id, lock=True)
    if attempt.completion is not None:
        return attempt.completion
    metrics.count_after_commit(session, metrics.COMPLETIONS, source="online")
    return _complete(
        session,
        user=user,
        attempt=attempt,
        completed_at=now,
        earned_at=now,
        now=now,
        locale=locale,
    )


def _complete(
    session: Session,
    *,
    user: User,
    attempt: Attempt,
    completed_at: datetime,
    earned_at: datetime,
    now: datetime,
    locale: str | None = None,
) -> dict[str, Any]:
    answered, correct = session.execute(
        select(func.count(), func.count().filter(Answer.correct.is_(True))).where(
            Answer.attempt_id == attempt.id
        )
    ).one()
    answered, correct = int(answered), int(correct)
    threshold = int(
        user.organization.settings.get("pass_threshold_percent", 0) or _default_threshold()
    )
    passed = grading.passed(correct, answered, attempt.questions_total, threshold)
    attempt.completed_at = completed_at
    attempt.score_correct = correct
    attempt.questions_answered = answered
    attempt.passed = passed
    session.flush()
    if passed:  # managers' path completion and compliance read it (app/insights/passes.py)
        insight_passes.note_passed(
            session,
            org_id=user.org_id,
            user_id=user.id,
            department_id=user.department_id,
            module_id=attempt.module_id,
            passed_at=completed_at,
        )
    screens.note_completions(session, [user])  # the store's TV shows path completion
    xapi.attempt_completed(
        session,
        user=user,
        attempt=xapi.AttemptFacts(
            attempt.id,
            attempt.module_id,
            content.get_version(session, attempt.module_version_id),
            attempt.started_at,
        ),
        correct=correct,
        total=attempt.questions_total,
        passed=passed,
        completed_at=completed_at,
        now=now,
    )
    # Bonuses, the learning day, the streak and badges are the game's rules.
    reward = gamification.pay_for_completion(
        session,
        user=user,
        module_id=attempt.module_id,
        correct=correct,
        total=attempt.questions_total,
        finished=attempt.finished,
        earned_at=earned_at,
        now=now,
        locale=locale,
    )
    result: dict[str, Any] = {
        "attempt_id": attempt.id,
        "score": {"correct": correct, "total": attempt.questions_total},
        "passed": passed,
        **reward,
    }
    attempt.completion = result
    session.flush()
    return result


def _default_threshold() -> int:
    from flask import current_app

    return int(current_app.config.get("PASS_THRESHOLD_PERCENT", 80))


# --- offline sync ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    client_id: str
    status: str  # applied | duplicate | rejected
    points_awarded: int = 0
    attempt_id: str | None = None
    reason: str | None = None
    errors: dict[str, list[str]] | None = None  # a rejected event's problems by field path


def rejected(client_id: str, errors: dict[str, list[str]], reason: str | None = None) -> SyncResult:
    """A rejected event: its problems by field path, and a readable reason (by default the
    problems in one line)."""
    return SyncResult(
        client_id, "rejected", reason=reason or describe_errors(errors), errors=errors
    )


def apply_offline_attempt(
    session: Session,
    *,
    user: User,
    event: dict[str, Any],
    now: datetime,
    locales: list[str],
) -> SyncResult:
    """Apply one offline attempt exactly once; a bad event is rejected with a reason."""
    client_id = event["client_id"]
    existing = session.scalar(
        select(Attempt).where(Attempt.user_id == user.id, Attempt.client_id == client_id)
    )
    if existing is not None:
        return SyncResult(client_id, "duplicate", attempt_id=existing.id)
    module = session.get(Module, event["module_id"])
    if module is None or module.org_id != user.org_id or module.current_version is None:
        return rejected(
            client_id,
            {"module_id": ["No published module with this id in your organisation."]},
            reason="unknown_module",
        )
    version = session.scalar(
        select(ModuleVersion).where(
            ModuleVersion.module_id == module.id, ModuleVersion.version == event["module_version"]
        )
    )
    if version is None:
        return rejected(
            client_id,
            {"module_version": ["The module has no such version."]},
            reason="unknown_module_version",
        )
    key = grading.answer_key(version.id, version.content)
    seen: set[str] = set()
    problems: dict[str, list[str]] = {}  # every answer's problems, not only the first
    for index, answer in enumerate(event["answers"]):
        if answer["question_id"] in seen:
            problems[f"answers[{index}].question_id"] = ["The same question twice in one attempt."]
            continue
        seen.add(answer["question_id"])
        for field, messages in grading.answer_problems(
            key.questions.get(answer["question_id"]), answer["choice_ids"]
        ).items():
            problems[f"answers[{index}].{field}"] = messages
    if problems:
        return rejected(client_id, problems)
    completed_at: datetime = event["completed_at"]
    # Boards and streaks count when the work was done, unless that time cannot be true.
    plausible = version.published_at - CLOCK_SKEW <= completed_at <= now + CLOCK_SKEW
    earned_at = completed_at if plausible else now
    # Offline work obeys the locks it would have met online: prerequisites and sequential
    # paths as they stand now (earlier events of the same upload included), the week's
    # paths of when it was done.
    lock = paths.module_lock(
        session, user=user, module_id=module.id, now=earned_at, locales=locales
    )
    if lock:
        return rejected(client_id, {"module_id": [lock.reason]}, reason="module_locked")
    started_at = min(event.get("started_at") or completed_at, completed_at)
    try:
        with session.begin_nested():
            attempt = Attempt(
                org_id=user.org_id,
                user_id=user.id,
                module_id=module.id,
                module_version_id=version.id,
                module_version=version.version,
                questions_total=len(version.content["questions"]),
                client_id=client_id,
                started_at=started_at if plausible else now,
            )
            session.add(attempt)
            session.flush()
            xapi.attempt_started(
                session,
                user=user,
                attempt=xapi.AttemptFacts(attempt.id, module.id, version, attempt.started_at),
                now=now,
            )
            answered = _AnsweredAttempt(
                attempt.id,
                module.id,
                completed_before=_completed_module_before(session, user.id, module.id),
            )
            answer_points = 0
            for answer in event["answers"]:
                answered_at = answer.get("answered_at") or completed_at
                _, points, _ = _record_answer(
                    session,
                    user=user,
                    attempt=answered,
                    version=version,
                    question_id=answer["question_id"],
                    choice_ids=answer["choice_ids"],
                    answered_at=answered_at if plausible else now,
                    earned_at=earned_at,
                    now=now,
                )
                answer_points += points
            result = _complete(
                session,
                user=user,
                attempt=attempt,
                completed_at=earned_at,
                earned_at=earned_at,
                now=now,
                locale=locales[0],
            )
            answers = len(event["answers"])
            metrics.count_after_commit(session, metrics.ANSWERS, answers, source="offline")
            metrics.count_after_commit(session, metrics.COMPLETIONS, source="offline")
    except IntegrityError:
        # The same client_id applied concurrently by another request: that one won.
        existing = session.scalar(
            select(Attempt).where(Attempt.user_id == user.id, Attempt.client_id == client_id)
        )
        return SyncResult(client_id, "duplicate", attempt_id=existing.id if existing else None)
    return SyncResult(
        client_id,
        "applied",
        points_awarded=answer_points + int(result["points_awarded"]),
        attempt_id=attempt.id,
    )

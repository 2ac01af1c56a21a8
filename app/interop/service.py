"""xAPI: an organisation's LRS connection, and the statements its learners' activity writes
to the outbox in the same transaction as the activity (delivered by `app.interop.delivery`).

An organisation without an enabled LRS writes nothing: one cached lookup per event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy.orm import Session

from app import caching
from app.auth.principal import UserFactsLike
from app.errors import AppError, Unprocessable
from app.interop import encryption, statements
from app.interop.models import XapiIntegration
from app.outbox import service as outbox

CHANNEL = "xapi"

# org id -> whether statements are written for it (False is cached too)
_enabled: caching.LocalCache[bool] = caching.LocalCache("interop.xapi_enabled", ttl=300)


class BadGateway(AppError):
    status, title, kind = 502, "Bad gateway", "bad-gateway"


# --- the connection -----------------------------------------------------------------------------


def _check_endpoint(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    allow_http = bool(current_app.config.get("XAPI_ALLOW_HTTP"))
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.netloc:
        need = "an http:// or https://" if allow_http else "an https://"
        raise Unprocessable(
            "The LRS endpoint is not usable.",
            errors={"endpoint": [f"Must be {need} URL (the LRS's xAPI base)."]},
        )
    if parts.query or parts.fragment:
        raise Unprocessable(
            "The LRS endpoint is not usable.",
            errors={"endpoint": ["No query string or fragment: the xAPI base URL only."]},
        )
    return endpoint if endpoint.endswith("/") else endpoint + "/"


def configure(
    session: Session,
    *,
    org_id: str,
    endpoint: str,
    username: str,
    password: str | None,
    enabled: bool,
    now: datetime,
) -> XapiIntegration:
    """Set the organisation's LRS; the password is stored encrypted (kept when omitted)."""
    endpoint = _check_endpoint(endpoint)
    integration = session.get(XapiIntegration, org_id)
    if integration is None:
        if not password:
            raise Unprocessable(
                "A password is needed.", errors={"password": ["Required the first time."]}
            )
        integration = XapiIntegration(org_id=org_id)
        session.add(integration)
    integration.endpoint = endpoint
    integration.username = username
    if password:
        integration.password_encrypted = encryption.encrypt(password)
    integration.enabled = enabled
    integration.updated_at = now
    session.flush()
    caching.invalidate(session, _enabled, org_id)
    return integration


def integration_of(session: Session, org_id: str) -> XapiIntegration | None:
    return session.get(XapiIntegration, org_id)


def status(session: Session, *, org_id: str) -> dict[str, Any]:
    """The connection (without its password) and the delivery counters."""
    integration = integration_of(session, org_id)
    counters = outbox.counters(session, channel=CHANNEL, org_id=org_id)
    parked = outbox.failed_messages(session, channel=CHANNEL, org_id=org_id)
    return {
        "endpoint": integration.endpoint if integration else None,
        "username": integration.username if integration else None,
        "enabled": bool(integration and integration.enabled),
        "pending": counters.pending,
        "delivered": counters.delivered,
        "failed": counters.failed,
        "last_error": counters.last_error,
        "last_delivered_at": counters.last_delivered_at,
        "failed_statements": [
            {
                "statement_id": message.payload.get("id"),
                "verb": (message.payload.get("verb") or {}).get("id"),
                "error": message.last_error,
                "created_at": message.created_at,
            }
            for message in parked
        ],
    }


def test_connection(session: Session, *, org_id: str) -> dict[str, Any]:
    """Ask the LRS for one statement (a resource every LRS has); 502 with its answer if not."""
    from app.interop.delivery import lrs_for

    integration = integration_of(session, org_id)
    if integration is None:
        raise Unprocessable("No LRS is set.", errors={"endpoint": ["Set the LRS with PUT first."]})
    answer = lrs_for(integration).probe()
    if not answer.ok:
        raise BadGateway(
            f"The LRS answered: {answer.describe()}",
            extra={"lrs_status": answer.status, "lrs_answer": answer.body},
        )
    return {"ok": True, "lrs_status": answer.status}


def enabled(session: Session, org_id: str) -> bool:
    """Whether statements are written for this organisation (cached per process)."""

    def load() -> bool:
        integration = session.get(XapiIntegration, org_id)
        return bool(integration and integration.enabled)

    return bool(_enabled.fetch(org_id, load, session=session))


# --- statements -----------------------------------------------------------------------------


def _iris() -> statements.Iris:
    return _iris_under(current_app.config["PUBLIC_BASE_URL"])


@cache
def _iris_under(base_url: str) -> statements.Iris:
    return statements.Iris(base_url)


def _who(user: UserFactsLike) -> statements.Who:
    org = user.organization
    return statements.Who(
        user_id=user.id,
        org_id=user.org_id,
        org_slug=org.slug,
        org_name=org.name,
        department_id=user.department_id,
    )


def _write(
    session: Session, user: UserFactsLike, made: Iterable[dict[str, Any]], now: datetime
) -> None:
    outbox.add(
        session,
        channel=CHANNEL,
        messages=[outbox.NewMessage(user.org_id, user.id, statement) for statement in made],
        now=now,
    )


@dataclass(frozen=True)
class AttemptFacts:
    """What the learning domain tells about an attempt."""

    id: str
    module_id: str
    version: Any  # the attempt's ModuleVersion (immutable)
    started_at: datetime


def _module_facts(
    session: Session, user: UserFactsLike, version: Any, at: datetime
) -> statements.ModuleFacts:
    from app.gamification.service import week_key
    from app.paths import structure

    timezone = user.timezone or user.organization.timezone
    path = next(
        (
            p
            for p in structure.week_paths(session, user.org_id, week_key(at, timezone))
            if any(step.module_id == version.module_id for step in p.steps)
        ),
        None,
    )
    return statements.ModuleFacts(
        module_id=version.module_id,
        version=version.version,
        title=version.title,
        locale=version.locale,
        path_id=path.id if path else None,
        path_title=path.title if path else None,
    )


def attempt_started(
    session: Session, *, user: UserFactsLike, attempt: AttemptFacts, now: datetime
) -> None:
    """`attempted`: a module started."""
    if not enabled(session, user.org_id):
        return
    module = _module_facts(session, user, attempt.version, attempt.started_at)
    _write(
        session,
        user,
        [
            statements.attempted(
                _iris(),
                _who(user),
                module,
                attempt_id=attempt.id,
                at=attempt.started_at,
                statement_id=statements.new_statement_id(),
            )
        ],
        now,
    )


# version id -> its questions as statements tell them (versions never change)
_questions: dict[str, dict[str, statements.QuestionFacts]] = {}


def _question(version: Any, question_id: str) -> statements.QuestionFacts:
    questions = _questions.get(version.id)
    if questions is None:
        questions = {
            question["id"]: statements.QuestionFacts(
                question_id=question["id"],
                prompt=question["prompt"],
                choices=tuple((choice["id"], choice["text"]) for choice in question["choices"]),
                correct_choice_ids=tuple(c["id"] for c in question["choices"] if c["correct"]),
            )
            for question in version.content["questions"]
        }
        if len(_questions) > 4096:
            _questions.clear()
        _questions[version.id] = questions
    return questions[question_id]


def answered_message(
    session: Session,
    *,
    user: UserFactsLike,
    attempt_id: str,
    version: Any,
    question_id: str,
    choice_ids: list[str],
    correct: bool,
    answered_at: datetime,
) -> outbox.NewMessage | None:
    """`answered`: one question, with the response and whether it was right, as the outbox
    message the caller writes with the answer (None: the organisation has no LRS). Its id and
    timestamp are fixed here, when the answer is given."""
    if not enabled(session, user.org_id):
        return None
    module = statements.ModuleFacts(
        module_id=version.module_id,
        version=version.version,
        title=version.title,
        locale=version.locale,
    )
    statement = statements.answered(
        _iris(),
        _who(user),
        module,
        _question(version, question_id),
        attempt_id=attempt_id,
        choice_ids=choice_ids,
        correct=correct,
        at=answered_at,
        statement_id=statements.new_statement_id(),
    )
    return outbox.NewMessage(user.org_id, user.id, statement)


def attempt_completed(
    session: Session,
    *,
    user: UserFactsLike,
    attempt: AttemptFacts,
    correct: int,
    total: int,
    passed: bool,
    completed_at: datetime,
    now: datetime,
) -> None:
    """`completed`, then `passed` or `failed`, with the score and duration."""
    if not enabled(session, user.org_id):
        return
    module = _module_facts(session, user, attempt.version, completed_at)
    _write(
        session,
        user,
        statements.completed_and_graded(
            _iris(),
            _who(user),
            module,
            attempt_id=attempt.id,
            correct=correct,
            total=total,
            passed=passed,
            started_at=attempt.started_at,
            completed_at=completed_at,
            statement_ids=(statements.new_statement_id(), statements.new_statement_id()),
        ),
        now,
    )


def badge_earned(
    session: Session, *, user: UserFactsLike, code: str, earned_at: datetime, now: datetime
) -> None:
    """`earned`: a badge."""
    if not enabled(session, user.org_id):
        return
    from app.gamification import badges

    badge = badges.BY_CODE[code]
    locale = user.organization.default_locale
    _write(
        session,
        user,
        [
            statements.earned(
                _iris(),
                _who(user),
                code=code,
                title=badges.localized(badge.title, locale),
                description=badges.localized(badge.description, locale),
                locale=locale,
                at=earned_at,
                statement_id=statements.new_statement_id(),
            )
        ],
        now,
    )

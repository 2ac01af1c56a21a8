"""xAPI 1.0.3 statements about learning, built from plain facts. Pure: ids and times come in.

Activity ids are IRIs under the public base URL, stable for as long as the module, question,
path and badge ids are (they never change). The actor is an account named by the user's
opaque id at the organisation's home page: never an e-mail address or a name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

VERSION = "1.0.3"
ADL = "http://adlnet.gov/expapi/verbs/"
VERBS: dict[str, tuple[str, str]] = {
    "attempted": (ADL + "attempted", "attempted"),
    "answered": (ADL + "answered", "answered"),
    "completed": (ADL + "completed", "completed"),
    "passed": (ADL + "passed", "passed"),
    "failed": (ADL + "failed", "failed"),
    "earned": ("http://id.tincanapi.com/verb/earned", "earned"),
}
MODULE_TYPE = "http://adlnet.gov/expapi/activities/module"
QUESTION_TYPE = "http://adlnet.gov/expapi/activities/cmi.interaction"
PATH_TYPE = "http://adlnet.gov/expapi/activities/course"
BADGE_TYPE = "http://activitystrea.ms/schema/1.0/badge"
RESPONSE_DELIMITER = "[,]"
# Registrations are UUIDs; an attempt id is a ULID, so one is derived from it (version 5).
REGISTRATION_NAMESPACE = uuid.UUID("5b0e4c8e-2d7a-5f3c-9a51-6e2f0c1d7b40")


@lru_cache(maxsize=4096)  # an attempt's statements share it
def registration(attempt_id: str) -> str:
    """The stable UUID of an attempt (the same attempt always gives the same UUID)."""
    return str(uuid.uuid5(REGISTRATION_NAMESPACE, attempt_id))


def new_statement_id() -> str:
    """A statement's id, fixed when the event happens, so a resend is recognised."""
    return str(uuid.uuid4())


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def iso_duration(span: timedelta) -> str:
    """ISO 8601 duration with seconds to two decimals (what xAPI asks for), e.g. PT2M5.5S."""
    total = max(span.total_seconds(), 0.0)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{int(hours)}H"
    if minutes:
        text += f"{int(minutes)}M"
    text += f"{round(seconds, 2):g}S"
    return text


@dataclass(frozen=True)
class Who:
    """The learner as xAPI sees them: opaque ids only."""

    user_id: str
    org_id: str
    org_slug: str
    org_name: str
    department_id: str | None


class Iris:
    """The IRIs of one deployment, under its public base URL."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    def home_page(self, org_slug: str) -> str:
        return f"{self.base}/orgs/{org_slug}"

    def module(self, org_slug: str, module_id: str) -> str:
        return f"{self.base}/xapi/{org_slug}/modules/{module_id}"

    def question(self, org_slug: str, module_id: str, question_id: str) -> str:
        return f"{self.module(org_slug, module_id)}/questions/{question_id}"

    def path(self, org_slug: str, path_id: str) -> str:
        return f"{self.base}/xapi/{org_slug}/paths/{path_id}"

    def badge(self, org_slug: str, code: str) -> str:
        return f"{self.base}/xapi/{org_slug}/badges/{code}"

    def extension(self, name: str) -> str:
        return f"{self.base}/xapi/extensions/{name}"


def _actor(iris: Iris, who: Who) -> dict[str, Any]:
    return {
        "objectType": "Agent",
        "account": {"homePage": iris.home_page(who.org_slug), "name": who.user_id},
    }


def _verb(name: str) -> dict[str, Any]:
    verb_id, display = VERBS[name]
    return {"id": verb_id, "display": {"en-US": display}}


def _context(
    iris: Iris,
    who: Who,
    *,
    attempt_id: str | None,
    parents: list[dict[str, Any]],
    grouping: list[dict[str, Any]] | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    extensions: dict[str, Any] = {
        iris.extension("organization"): {
            "id": who.org_id,
            "slug": who.org_slug,
            "name": who.org_name,
        },
    }
    if who.department_id:
        extensions[iris.extension("department")] = {"id": who.department_id}
    context: dict[str, Any] = {"platform": "Nanolearn", "extensions": extensions}
    if attempt_id:
        context["registration"] = registration(attempt_id)
    activities: dict[str, Any] = {}
    if parents:
        activities["parent"] = parents
    if grouping:
        activities["grouping"] = grouping
    if activities:
        context["contextActivities"] = activities
    if language:
        context["language"] = language
    return context


@dataclass(frozen=True)
class ModuleFacts:
    """What a module statement says about the module version."""

    module_id: str
    version: int
    title: str
    locale: str
    path_id: str | None = None
    path_title: str | None = None


def _module_object(iris: Iris, who: Who, module: ModuleFacts) -> dict[str, Any]:
    return {
        "objectType": "Activity",
        "id": iris.module(who.org_slug, module.module_id),
        "definition": {
            "type": MODULE_TYPE,
            "name": {module.locale: module.title},
            "extensions": {iris.extension("module-version"): module.version},
        },
    }


def _path_parents(iris: Iris, who: Who, module: ModuleFacts) -> list[dict[str, Any]]:
    if not module.path_id:
        return []
    activity: dict[str, Any] = {
        "objectType": "Activity",
        "id": iris.path(who.org_slug, module.path_id),
        "definition": {"type": PATH_TYPE},
    }
    if module.path_title:
        activity["definition"]["name"] = {module.locale: module.path_title}
    return [activity]


def attempted(
    iris: Iris, who: Who, module: ModuleFacts, *, attempt_id: str, at: datetime, statement_id: str
) -> dict[str, Any]:
    """A module started (`registration` = the attempt)."""
    return {
        "id": statement_id,
        "actor": _actor(iris, who),
        "verb": _verb("attempted"),
        "object": _module_object(iris, who, module),
        "context": _context(
            iris,
            who,
            attempt_id=attempt_id,
            parents=_path_parents(iris, who, module),
            language=module.locale,
        ),
        "timestamp": iso(at),
        "version": VERSION,
    }


@dataclass(frozen=True)
class QuestionFacts:
    question_id: str
    prompt: str
    choices: tuple[tuple[str, str], ...]  # (choice id, text)
    correct_choice_ids: tuple[str, ...]


def answered(
    iris: Iris,
    who: Who,
    module: ModuleFacts,
    question: QuestionFacts,
    *,
    attempt_id: str,
    choice_ids: list[str],
    correct: bool,
    at: datetime,
    statement_id: str,
) -> dict[str, Any]:
    """One question answered, as a `choice` cmi.interaction with its correct response."""
    module_activity = _module_object(iris, who, module)
    return {
        "id": statement_id,
        "actor": _actor(iris, who),
        "verb": _verb("answered"),
        "object": {
            "objectType": "Activity",
            "id": iris.question(who.org_slug, module.module_id, question.question_id),
            "definition": {
                "type": QUESTION_TYPE,
                "name": {module.locale: question.prompt},
                "interactionType": "choice",
                "correctResponsesPattern": [RESPONSE_DELIMITER.join(question.correct_choice_ids)],
                "choices": [
                    {"id": choice_id, "description": {module.locale: text}}
                    for choice_id, text in question.choices
                ],
            },
        },
        "result": {"response": RESPONSE_DELIMITER.join(choice_ids), "success": correct},
        "context": _context(
            iris,
            who,
            attempt_id=attempt_id,
            parents=[module_activity],
            grouping=_path_parents(iris, who, module),
            language=module.locale,
        ),
        "timestamp": iso(at),
        "version": VERSION,
    }


def completed_and_graded(
    iris: Iris,
    who: Who,
    module: ModuleFacts,
    *,
    attempt_id: str,
    correct: int,
    total: int,
    passed: bool,
    started_at: datetime,
    completed_at: datetime,
    statement_ids: tuple[str, str],
) -> list[dict[str, Any]]:
    """`completed`, then `passed` or `failed`, each with the score and the time it took."""
    result = {
        "score": {
            "scaled": round(correct / total, 4) if total else 0,
            "raw": correct,
            "min": 0,
            "max": total,
        },
        "duration": iso_duration(completed_at - started_at),
    }
    context = _context(
        iris,
        who,
        attempt_id=attempt_id,
        parents=_path_parents(iris, who, module),
        language=module.locale,
    )
    common = {
        "actor": _actor(iris, who),
        "object": _module_object(iris, who, module),
        "context": context,
        "timestamp": iso(completed_at),
        "version": VERSION,
    }
    return [
        {
            "id": statement_ids[0],
            "verb": _verb("completed"),
            "result": {**result, "completion": True},
            **common,
        },
        {
            "id": statement_ids[1],
            "verb": _verb("passed" if passed else "failed"),
            "result": {**result, "success": passed, "completion": True},
            **common,
        },
    ]


def earned(
    iris: Iris,
    who: Who,
    *,
    code: str,
    title: str,
    description: str,
    locale: str,
    at: datetime,
    statement_id: str,
) -> dict[str, Any]:
    """A badge earned."""
    return {
        "id": statement_id,
        "actor": _actor(iris, who),
        "verb": _verb("earned"),
        "object": {
            "objectType": "Activity",
            "id": iris.badge(who.org_slug, code),
            "definition": {
                "type": BADGE_TYPE,
                "name": {locale: title},
                "description": {locale: description},
            },
        },
        "context": _context(iris, who, attempt_id=None, parents=[]),
        "timestamp": iso(at),
        "version": VERSION,
    }

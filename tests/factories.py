"""Small builders for test data; fixtures in conftest.py give them names."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy.orm import Session

from app import clock
from app.auth.passwords import hash_password
from app.content import service as content
from app.content.document import validate_document
from app.content.models import Module, ModuleVersion
from app.orgs.models import Department, Organization, User

PASSWORD = "correct horse battery"
_PASSWORD_HASH = hash_password(PASSWORD)  # hashing is slow on purpose; do it once


def make_org(
    session: Session, *, slug: str, name: str, timezone: str = "Europe/Oslo"
) -> Organization:
    org = Organization(slug=slug, name=name, timezone=timezone, default_locale="nb", settings={})
    session.add(org)
    session.flush()
    return org


def make_department(
    session: Session, org: Organization, name: str, *, parent: Department | None = None
) -> Department:
    department = Department(org_id=org.id, name=name, parent_id=parent.id if parent else None)
    session.add(department)
    session.flush()
    return department


def make_user(
    session: Session,
    org: Organization,
    username: str,
    *,
    department: Department | None = None,
    roles: list[str] | None = None,
    display_name: str | None = None,
) -> User:
    user = User(
        org_id=org.id,
        username=username,
        display_name=display_name or username.title(),
        password_hash=_PASSWORD_HASH,
        department_id=department.id if department else None,
        roles=roles or ["learner"],
    )
    session.add(user)
    session.flush()
    session.refresh(user)
    return user


BASE_DOCUMENT: dict[str, Any] = {
    "title": "Kjølekjeden",
    "summary": "Hold kalde varer kalde.",
    "topic": "cold-chain",
    "locale": "nb",
    "estimated_minutes": 3,
    "cards": [
        {"kind": "text", "body": "Kjølevarer skal holde **0–4 °C**."},
        {"kind": "text", "body": "Frysevarer skal holde -18 °C eller kaldere."},
    ],
    "questions": [
        {
            "kind": "single_choice",
            "prompt": "Hvor kaldt skal kjølevarer være?",
            "explanation": "Kjølevarer skal holde 0–4 °C.",
            "choices": [
                {"text": "0–4 °C", "correct": True},
                {"text": "8–10 °C", "correct": False},
                {"text": "12 °C", "correct": False},
            ],
        },
        {
            "kind": "true_false",
            "prompt": "Frysevarer kan ligge på -10 °C.",
            "explanation": "Frysevarer skal holde -18 °C eller kaldere.",
            "choices": [{"text": "Sant", "correct": False}, {"text": "Usant", "correct": True}],
        },
        {
            "kind": "multiple_choice",
            "prompt": "Hva gjør du ved avvik?",
            "explanation": "Meld avviket og sett varene til side.",
            "choices": [
                {"text": "Melder avvik", "correct": True},
                {"text": "Setter varene til side", "correct": True},
                {"text": "Selger varene raskt", "correct": False},
            ],
        },
    ],
    "translations": {
        "en": {
            "title": "The cold chain",
            "summary": "Keep cold goods cold.",
            "cards": [
                {"body": "Chilled goods must be kept at **0–4 °C**."},
                {"body": "Frozen goods must be kept at -18 °C or colder."},
            ],
            "questions": [
                {
                    "prompt": "How cold must chilled goods be?",
                    "explanation": "Chilled goods must be kept at 0–4 °C.",
                    "choices": [{"text": "0–4 °C"}, {"text": "8–10 °C"}, {"text": "12 °C"}],
                },
                {
                    "prompt": "Frozen goods may be kept at -10 °C.",
                    "explanation": "Frozen goods must be kept at -18 °C or colder.",
                    "choices": [{"text": "True"}, {"text": "False"}],
                },
                {
                    "prompt": "What do you do on a deviation?",
                    "explanation": "Report it and set the goods aside.",
                    "choices": [
                        {"text": "Report the deviation"},
                        {"text": "Set the goods aside"},
                        {"text": "Sell the goods quickly"},
                    ],
                },
            ],
        }
    },
}


def module_document(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASE_DOCUMENT)
    document.update(changes)
    return document


def publish_module(
    session: Session,
    org: Organization,
    document: dict[str, Any],
    *,
    module: Module | None = None,
    prerequisite_ids: list[str] | None = None,
) -> Module:
    """Validate and publish `document` as a new module (or a new version of `module`)."""
    clean, errors = validate_document(document, default_locale=org.default_locale)
    assert clean is not None, errors
    if module is None:
        module = Module(org_id=org.id, draft=clean)
        session.add(module)
        session.flush()
    content.publish_version(
        session,
        module=module,
        document=clean,
        prerequisite_ids=prerequisite_ids or [],
        media_urls={},
        published_by=None,
        now=clock.now(),
    )
    session.flush()
    return module


def current_version(session: Session, module: Module) -> ModuleVersion:
    version = session.get(ModuleVersion, module.current_version_id)
    assert version is not None
    return version


def correct_choices(version: ModuleVersion) -> dict[str, list[str]]:
    """question id -> the correct choice ids (what a perfect learner answers)."""
    return {
        q["id"]: [c["id"] for c in q["choices"] if c["correct"]]
        for q in version.content["questions"]
    }


def wrong_choice(version: ModuleVersion, question_id: str) -> list[str]:
    for question in version.content["questions"]:
        if question["id"] == question_id:
            return [next(c["id"] for c in question["choices"] if not c["correct"])]
    raise KeyError(question_id)

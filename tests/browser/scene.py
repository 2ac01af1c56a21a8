"""A store for the browser tests, committed to the browser server's database, and the API
calls a phone and a manager make."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import requests
from sqlalchemy.orm import Session

from app import clock
from app.orgs.models import Department, DepartmentManager, Organization, User
from app.paths import rules as path_rules
from app.paths import service as paths
from tests import factories


@dataclass
class Store:
    org: Organization
    store: Department
    other_store: Department
    manager: User
    learners: list[User]
    module: Any


def make_store(session: Session, *, locale: str = "nb") -> Store:
    """An organisation with two stores, a manager of the first, three of its learners, one
    published module and this week's path of it for everyone."""
    org = factories.make_org(session, slug=f"b{uuid.uuid4().hex[:10]}", name="Nærbutikken")
    org.default_locale = locale
    store = factories.make_department(session, org, "Butikk Torget")
    other = factories.make_department(session, org, "Butikk Bryggen")
    manager = factories.make_user(
        session, org, "leder", department=store, roles=["manager", "learner"],
        display_name="Liv Leder",
    )  # fmt: skip
    session.add(DepartmentManager(department_id=store.id, user_id=manager.id))
    learners = [
        factories.make_user(session, org, "kari", department=store, display_name="Kari Nordmann"),
        factories.make_user(
            session, org, "ola", department=store, display_name="Ola <b>Hansen</b>"
        ),
        factories.make_user(session, org, "per", department=other, display_name="Per Bryggen"),
    ]
    module = factories.publish_module(session, org, factories.module_document())
    paths.create_path(
        session,
        user=manager,
        title="Ukens sti",
        modules=[{"module_id": module.id, "mandatory": True}],
        week=path_rules.week_of(clock.now(), org.timezone),
        now=clock.now(),
    )
    session.commit()
    return Store(org, store, other, manager, learners, module)


def login(base_url: str, org: Organization, user: User) -> dict[str, str]:
    answer = requests.post(
        f"{base_url}/api/v1/auth/login",
        json={"organization": org.slug, "username": user.username, "password": factories.PASSWORD},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def complete_module(
    base_url: str, session: Session, module: Any, headers: dict[str, str]
) -> dict[str, Any]:
    """Start, answer every question right and complete, as the phone app does."""
    started = requests.post(f"{base_url}/api/v1/modules/{module.id}/attempts", headers=headers)
    assert started.status_code == 201, started.text
    attempt = started.json()["id"]
    version = factories.current_version(session, module)
    for question_id, choices in factories.correct_choices(version).items():
        answered = requests.post(
            f"{base_url}/api/v1/attempts/{attempt}/answers",
            json={"question_id": question_id, "choice_ids": choices},
            headers=headers,
        )
        assert answered.status_code == 201, answered.text
    done = requests.post(f"{base_url}/api/v1/attempts/{attempt}/complete", headers=headers)
    assert done.status_code == 200, done.text
    body: dict[str, Any] = done.json()
    return body

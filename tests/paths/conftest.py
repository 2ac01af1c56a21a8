"""Helpers for path, requirement and review tests: modules, paths and finished attempts."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.content.models import Module
from app.orgs.models import Organization
from tests import factories


def make_modules(session: Session, org: Organization, count: int) -> list[Module]:
    return [
        factories.publish_module(session, org, factories.module_document(title=f"Modul {n + 1}"))
        for n in range(count)
    ]


def schedule(
    client: FlaskClient, headers: dict[str, str], chosen: list[Module], **body: Any
) -> dict[str, Any]:
    """POST /editor/paths for week 48 with `chosen` as mandatory modules; `body` overrides."""
    payload = {
        "week": "2026-W48",
        "title": "Uke 48",
        "modules": [{"module_id": m.id, "mandatory": True} for m in chosen],
        **body,
    }
    response = client.post("/api/v1/editor/paths", json=payload, headers=headers)
    assert response.status_code == 201, response.json
    return dict(response.json)


def finish(
    client: FlaskClient,
    session: Session,
    headers: dict[str, str],
    module: Module,
    *,
    correct: bool = True,
) -> dict[str, Any]:
    """Start, answer every question (all right or all wrong) and complete the module."""
    started = client.post(f"/api/v1/modules/{module.id}/attempts", headers=headers)
    assert started.status_code == 201, started.json
    version = factories.current_version(session, module)
    for question_id, choices in factories.correct_choices(version).items():
        answer = choices if correct else factories.wrong_choice(version, question_id)
        response = client.post(
            f"/api/v1/attempts/{started.json['id']}/answers",
            json={"question_id": question_id, "choice_ids": answer},
            headers=headers,
        )
        assert response.status_code == 201, response.json
    done = client.post(f"/api/v1/attempts/{started.json['id']}/complete", headers=headers)
    assert done.status_code == 200, done.json
    return dict(done.json)


@pytest.fixture
def modules(session: Session, org: Organization) -> list[Module]:
    return make_modules(session, org, 3)

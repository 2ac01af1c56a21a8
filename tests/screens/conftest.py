"""A store with a screen: the checkout department (under the manager's store) and its link."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app import clock
from app.orgs.models import Department, User
from app.paths import rules as path_rules
from app.paths import service as paths


@pytest.fixture
def screen(client: FlaskClient, as_manager: dict[str, str], checkout: Department) -> dict[str, Any]:
    """A screen of the checkout department, as the API answered its creation."""
    created = client.post(
        "/api/v1/screens",
        json={"department_id": checkout.id, "name": "Pauserommet"},
        headers=as_manager,
    )
    assert created.status_code == 201, created.json
    body: dict[str, Any] = created.json
    body["path"] = body["url"].split("://", 1)[1].split("/", 1)[1]
    body["path"] = "/" + body["path"]
    return body


@pytest.fixture
def weekly_path(session: Session, admin: User, module: Any) -> Any:
    """This week's path for everyone: the one module."""
    return paths.create_path(
        session,
        user=admin,
        title="Ukens sti",
        modules=[{"module_id": module.id, "mandatory": True}],
        week=path_rules.week_of(clock.now(), admin.organization.timezone),
        now=clock.now(),
    )

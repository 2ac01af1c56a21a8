from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from app.content.models import Module, ModuleVersion
from tests import factories


class Learner:
    """Drives the learner endpoints the way the phone app does."""

    def __init__(self, client: FlaskClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def start(self, module_id: str, **headers: str) -> Any:
        return self.client.post(
            f"/api/v1/modules/{module_id}/attempts", headers={**self.headers, **headers}
        )

    def answer(
        self, attempt_id: str, question_id: str, choice_ids: list[str], **headers: str
    ) -> Any:
        return self.client.post(
            f"/api/v1/attempts/{attempt_id}/answers",
            json={"question_id": question_id, "choice_ids": choice_ids},
            headers={**self.headers, **headers},
        )

    def complete(self, attempt_id: str, **headers: str) -> Any:
        return self.client.post(
            f"/api/v1/attempts/{attempt_id}/complete", headers={**self.headers, **headers}
        )

    def sync(self, events: list[dict[str, Any]], **headers: str) -> Any:
        return self.client.post(
            "/api/v1/sync", json={"events": events}, headers={**self.headers, **headers}
        )

    def points_total(self) -> int:
        response = self.client.get("/api/v1/me", headers=self.headers)
        assert response.status_code == 200, response.json
        return int(response.json["points"]["total"])


@pytest.fixture
def phone(client: FlaskClient, as_learner: dict[str, str]) -> Learner:
    return Learner(client, as_learner)


@pytest.fixture
def version(session: Any, module: Module) -> ModuleVersion:
    return factories.current_version(session, module)

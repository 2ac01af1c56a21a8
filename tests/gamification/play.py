"""Playing a module through the API, as the phone app does."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from tests import factories


def play(
    client: Any, session: Any, module: Any, headers: dict[str, str], *, wrong: int = 0
) -> dict[str, Any]:
    """Start, answer every question (the first `wrong` of them wrongly) and complete.

    Returns the completion body plus `answer_points` (what each answer paid).
    """
    started = client.post(f"/api/v1/modules/{module.id}/attempts", headers=headers)
    assert started.status_code == 201, started.json
    version = factories.current_version(session, module)
    paid = []
    for index, (question_id, choices) in enumerate(factories.correct_choices(version).items()):
        if index < wrong:
            choices = factories.wrong_choice(version, question_id)
        answered = client.post(
            f"/api/v1/attempts/{started.json['id']}/answers",
            json={"question_id": question_id, "choice_ids": choices},
            headers=headers,
        )
        assert answered.status_code == 201, answered.json
        paid.append(answered.json["points_awarded"])
    done = client.post(f"/api/v1/attempts/{started.json['id']}/complete", headers=headers)
    assert done.status_code == 200, done.json
    return {**done.json, "answer_points": paid}


def offline_event(session: Any, module: Any, completed_at: datetime) -> dict[str, Any]:
    """A whole attempt done offline, every answer right."""
    version = factories.current_version(session, module)
    return {
        "client_id": str(uuid.uuid4()),
        "type": "attempt",
        "module_id": module.id,
        "module_version": version.version,
        "started_at": completed_at.isoformat(),
        "completed_at": completed_at.isoformat(),
        "answers": [
            {"question_id": q, "choice_ids": c, "answered_at": completed_at.isoformat()}
            for q, c in factories.correct_choices(version).items()
        ],
    }

"""No learner-facing response ever contains an answer key before the question is answered."""

from __future__ import annotations

import uuid
from typing import Any

from tests import factories


def answer_key_leaks(node: Any, path: str = "$") -> list[str]:
    """Paths where a response reveals which choice is right."""
    leaks: list[str] = []
    if isinstance(node, dict):
        if "correct" in node and ("text" in node or "choices" in node):
            leaks.append(f"{path}.correct")
        for forbidden in ("correct_choice_ids", "answer_key", "explanation"):
            if forbidden in node:
                leaks.append(f"{path}.{forbidden}")
        for key, value in node.items():
            leaks.extend(answer_key_leaks(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            leaks.extend(answer_key_leaks(value, f"{path}[{index}]"))
    return leaks


def learner_get_paths(app) -> list[str]:
    """Every GET of the API a learner may call without ids other than a module's."""
    spec = app.test_client().get("/api/v1/openapi.json").json
    paths = []
    for path, operations in spec["paths"].items():
        if "get" not in operations or any(
            part in path for part in ("/editor/", "/admin/", "/insights/")
        ):
            continue
        if "{" in path.replace("{module_id}", ""):
            continue
        paths.append(path)
    return paths


def test_the_walk_covers_the_learner_reads(app):
    paths = learner_get_paths(app)
    assert "/api/v1/modules" in paths
    assert "/api/v1/modules/{module_id}" in paths
    assert "/api/v1/me" in paths


def test_no_learner_read_reveals_an_answer_key(
    app, client, phone, session, module, version, frozen_clock
):
    # Some progress first, so lists are not empty: one attempt online, one synced.
    attempt = phone.start(module.id).json
    question = version.content["questions"][0]
    phone.answer(attempt["id"], question["id"], factories.wrong_choice(version, question["id"]))
    for language in ("nb", "en"):
        for path in learner_get_paths(app):
            response = client.get(
                path.replace("{module_id}", module.id),
                headers={**phone.headers, "Accept-Language": language},
            )
            # 403: a read for managers only (store screens), which reveals nothing to a learner
            assert response.status_code in (200, 403, 404, 422), (path, response.json)
            if response.is_json:
                assert answer_key_leaks(response.json) == [], path


def test_progress_posts_reveal_only_the_answered_questions_key(
    phone, module, version, frozen_clock
):
    started = phone.start(module.id)
    assert answer_key_leaks(started.json) == []
    question = version.content["questions"][0]
    feedback = phone.answer(
        started.json["id"], question["id"], factories.wrong_choice(version, question["id"])
    )
    # The feedback names the right choices of the answered question only.
    assert set(feedback.json) == {
        "question_id",
        "correct",
        "correct_choice_ids",
        "explanation",
        "points_awarded",
    }
    completion = phone.complete(started.json["id"])
    assert answer_key_leaks(completion.json) == []
    synced = phone.sync(
        [
            {
                "client_id": str(uuid.uuid4()),
                "type": "attempt",
                "module_id": module.id,
                "module_version": 1,
                "completed_at": frozen_clock().isoformat(),
                "answers": [],
            }
        ]
    )
    assert answer_key_leaks(synced.json) == []

"""Item analysis: what learners answered, per question and per module version."""

from __future__ import annotations

from tests import factories
from tests.conftest import auth_headers
from tests.editor.conftest import API


def answer_all(client, headers, module_id, picks) -> None:
    """Start an attempt, answer each question with `picks[question_id]`, complete it."""
    attempt = client.post(f"/api/v1/modules/{module_id}/attempts", headers=headers).json
    for question_id, choice_ids in picks.items():
        response = client.post(
            f"/api/v1/attempts/{attempt['id']}/answers",
            json={"question_id": question_id, "choice_ids": choice_ids},
            headers=headers,
        )
        assert response.status_code == 201, response.json
    done = client.post(f"/api/v1/attempts/{attempt['id']}/complete", headers=headers)
    assert done.status_code == 200, done.json


def test_stats_per_question_and_module(client, session, org, module, as_editor):
    version = factories.current_version(session, module)
    keys = factories.correct_choices(version)
    q1, q2, q3 = (q["id"] for q in version.content["questions"])
    choices1 = [c["id"] for c in version.content["questions"][0]["choices"]]
    people = [factories.make_user(session, org, f"ansatt{n}") for n in range(4)]
    headers = [auth_headers(session, person) for person in people]
    answer_all(client, headers[0], module.id, keys)  # all right
    answer_all(client, headers[1], module.id, {**keys, q1: [choices1[2]]})
    answer_all(
        client,
        headers[2],
        module.id,
        {**keys, q1: [choices1[2]], q2: factories.wrong_choice(version, q2)},
    )
    answer_all(client, headers[3], module.id, {**keys, q1: [choices1[1]]})
    # One attempt started but never completed.
    client.post(
        f"/api/v1/modules/{module.id}/attempts",
        headers=auth_headers(session, factories.make_user(session, org, "slutter")),
    )

    response = client.get(f"{API}/modules/{module.id}/stats", headers=as_editor)
    assert response.status_code == 200, response.json
    stats = response.json
    assert stats["version"] == 1
    assert stats["attempts"] == 5 and stats["completions"] == 4
    # Scores 3/3, 2/3, 1/3, 2/3: mean 2/3.
    assert stats["average_score"] == round(2 / 3, 4)
    by_id = {q["question_id"]: q for q in stats["questions"]}
    assert [q["question_id"] for q in stats["questions"]] == [q1, q2, q3]
    assert by_id[q1]["answers"] == 4 and by_id[q1]["correct_rate"] == 0.25
    assert by_id[q1]["most_chosen_wrong_choice"] == {
        "choice_id": choices1[2],
        "text": "12 °C",
        "count": 2,
    }
    assert by_id[q2]["correct_rate"] == 0.75
    assert by_id[q3]["correct_rate"] == 1.0 and by_id[q3]["most_chosen_wrong_choice"] is None
    assert stats["versions"] == [
        {
            "version": 1,
            "published_at": stats["versions"][0]["published_at"],
            "attempts": 5,
            "completions": 4,
            "average_score": stats["average_score"],
            "pass_rate": 0.25,
        }
    ]


def test_stats_before_anyone_answered(client, as_editor, module):
    stats = client.get(f"{API}/modules/{module.id}/stats", headers=as_editor).json
    assert stats["attempts"] == 0 and stats["average_score"] is None
    assert all(q["answers"] == 0 and q["correct_rate"] is None for q in stats["questions"])


def test_stats_are_per_version(client, session, org, module, as_editor, as_learner):
    v1 = factories.current_version(session, module)
    answer_all(client, as_learner, module.id, factories.correct_choices(v1))
    factories.publish_module(session, org, factories.module_document(title="To"), module=module)
    current = client.get(f"{API}/modules/{module.id}/stats", headers=as_editor).json
    assert current["version"] == 2 and current["attempts"] == 0
    assert [v["attempts"] for v in current["versions"]] == [1, 0]
    first = client.get(f"{API}/modules/{module.id}/stats?version=1", headers=as_editor).json
    assert (
        first["completions"] == 1
        and first["questions"][0]["question_id"] == v1.content["questions"][0]["id"]
    )
    assert (
        client.get(f"{API}/modules/{module.id}/stats?version=9", headers=as_editor).status_code
        == 404
    )
    assert (
        client.get(f"{API}/modules/{module.id}/stats?version=0", headers=as_editor).status_code
        == 422
    )


def test_stats_of_a_never_published_draft_is_404(client, as_editor, draft):
    assert client.get(f"{API}/modules/{draft['id']}/stats", headers=as_editor).status_code == 404

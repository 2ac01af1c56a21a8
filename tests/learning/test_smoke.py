from tests import factories


def test_learner_answers_and_completes(client, session, module, as_learner):
    listing = client.get("/api/v1/modules", headers=as_learner)
    assert listing.status_code == 200, listing.json
    assert [m["id"] for m in listing.json["items"]] == [module.id]
    assert listing.json["items"][0]["status"] == "not_started"

    started = client.post(f"/api/v1/modules/{module.id}/attempts", headers=as_learner)
    assert started.status_code == 201, started.json
    attempt_id = started.json["id"]
    version = factories.current_version(session, module)
    keys = factories.correct_choices(version)
    for question_id, choice_ids in keys.items():
        answered = client.post(
            f"/api/v1/attempts/{attempt_id}/answers",
            json={"question_id": question_id, "choice_ids": choice_ids},
            headers=as_learner,
        )
        assert answered.status_code == 201, answered.json
        assert answered.json["correct"] is True
        # 10 per correct answer + 5 first-try bonus (docs/game-rules.md)
        assert answered.json["points_awarded"] == 15
    done = client.post(f"/api/v1/attempts/{attempt_id}/complete", headers=as_learner)
    assert done.status_code == 200, done.json
    assert done.json["score"] == {"correct": 3, "total": 3}
    # 3 x 15 + completion bonus 20 + perfect-score bonus 15
    assert done.json["points_total"] == 80

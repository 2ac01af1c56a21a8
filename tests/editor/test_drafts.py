"""Drafts, publishing, archiving and the editing history, through HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from app.content.models import Module, ModuleVersion
from app.editor import service
from app.errors import PreconditionFailed
from tests import factories
from tests.editor.conftest import API, create


def test_create_answers_201_with_draft_status(client, as_editor):
    response = create(client, as_editor)
    assert response.json == {
        "id": response.json["id"],
        "status": "draft",
        "version": None,
        "warnings": {"cards": ["Has 2 cards; a module should have 3 to 5."]},
    }
    assert response.headers["ETag"]
    assert response.headers["Location"].endswith(response.json["id"])


def test_get_draft_includes_answer_keys_and_etag(client, as_editor, draft):
    response = client.get(f"{API}/modules/{draft['id']}", headers=as_editor)
    assert response.status_code == 200
    body = response.json
    assert body["title"] == "Kjølekjeden"
    assert body["status"] == "draft" and body["version"] is None and body["revision"] == 1
    assert body["key"] == "kjolekjeden"
    assert [c["correct"] for c in body["questions"][0]["choices"]] == [True, False, False]
    assert body["translations"]["en"]["title"] == "The cold chain"
    assert response.headers["ETag"] == draft["etag"]


def test_get_draft_with_current_etag_is_304(client, as_editor, draft):
    response = client.get(
        f"{API}/modules/{draft['id']}", headers={**as_editor, "If-None-Match": draft["etag"]}
    )
    assert response.status_code == 304


def test_a_gzip_client_gets_its_304_with_the_compressed_etag(client, as_editor, draft):
    url = f"{API}/modules/{draft['id']}"
    first = client.get(url, headers={**as_editor, "Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    etag = first.headers["ETag"]
    assert etag != draft["etag"]  # flask-compress's suffix
    again = client.get(url, headers={**as_editor, "Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    changed = client.get(url, headers={**as_editor, "If-None-Match": '"something-else"'})
    assert changed.status_code == 200


def test_locale_defaults_to_the_organisations_language(client, as_editor):
    body = factories.module_document()
    del body["locale"]
    del body["translations"]
    created = create(client, as_editor, body)
    got = client.get(f"{API}/modules/{created.json['id']}", headers=as_editor)
    assert got.json["locale"] == "nb"


def test_put_replaces_the_draft_and_changes_the_etag(client, as_editor, draft):
    got = client.get(f"{API}/modules/{draft['id']}", headers=as_editor).json
    got["title"] = "Kjølekjeden, del 2"  # read-only fields (id, status, ...) are sent back
    response = client.put(
        f"{API}/modules/{draft['id']}", json=got, headers={**as_editor, "If-Match": draft["etag"]}
    )
    assert response.status_code == 200, response.json
    assert response.json["title"] == "Kjølekjeden, del 2"
    assert response.json["revision"] == 2
    assert response.headers["ETag"] != draft["etag"]
    again = client.get(f"{API}/modules/{draft['id']}", headers=as_editor)
    assert again.json["title"] == "Kjølekjeden, del 2"


def test_put_without_if_match_is_428(client, as_editor, draft):
    response = client.put(
        f"{API}/modules/{draft['id']}", json=factories.module_document(), headers=as_editor
    )
    assert response.status_code == 428
    assert response.mimetype == "application/problem+json"


def test_put_with_a_stale_etag_is_412_and_keeps_the_other_edit(client, as_editor, draft):
    first = factories.module_document(title="Editor A")
    second = factories.module_document(title="Editor B")
    ok = client.put(
        f"{API}/modules/{draft['id']}", json=first, headers={**as_editor, "If-Match": draft["etag"]}
    )
    assert ok.status_code == 200
    stale = client.put(
        f"{API}/modules/{draft['id']}",
        json=second,
        headers={**as_editor, "If-Match": draft["etag"]},
    )
    assert stale.status_code == 412
    assert client.get(f"{API}/modules/{draft['id']}", headers=as_editor).json["title"] == "Editor A"


def test_put_with_star_if_match_overwrites(client, as_editor, draft):
    response = client.put(
        f"{API}/modules/{draft['id']}",
        json=factories.module_document(title="Anything"),
        headers={**as_editor, "If-Match": "*"},
    )
    assert response.status_code == 200


def test_stale_precondition_is_checked_before_validation(client, as_editor, draft):
    client.put(
        f"{API}/modules/{draft['id']}",
        json=factories.module_document(title="New"),
        headers={**as_editor, "If-Match": draft["etag"]},
    )
    response = client.put(
        f"{API}/modules/{draft['id']}", json={}, headers={**as_editor, "If-Match": draft["etag"]}
    )
    assert response.status_code == 412


def test_invalid_put_is_422_and_keeps_the_draft(client, as_editor, draft):
    response = client.put(
        f"{API}/modules/{draft['id']}",
        json=factories.module_document(cards=[]),
        headers={**as_editor, "If-Match": draft["etag"]},
    )
    assert response.status_code == 422
    assert "cards" in response.json["errors"]
    got = client.get(f"{API}/modules/{draft['id']}", headers=as_editor)
    assert got.headers["ETag"] == draft["etag"]


def test_malformed_json_is_400(client, as_editor):
    response = client.post(
        f"{API}/modules", data="{not json", headers=as_editor, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_publish_makes_immutable_versions(client, session, as_editor, editor, draft):
    first = client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    assert first.status_code == 200, first.json
    assert first.json["id"] == draft["id"] and first.json["version"] == 1
    assert first.json["published_by"] == editor.id
    etag = client.get(f"{API}/modules/{draft['id']}", headers=as_editor).headers["ETag"]
    client.put(
        f"{API}/modules/{draft['id']}",
        json=factories.module_document(title="Versjon to"),
        headers={**as_editor, "If-Match": etag},
    )
    second = client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    assert second.json["version"] == 2
    titles = session.scalars(
        select(ModuleVersion.title)
        .where(ModuleVersion.module_id == draft["id"])
        .order_by(ModuleVersion.version)
    ).all()
    assert titles == ["Kjølekjeden", "Versjon to"]


def test_learners_see_only_published_versions(client, as_editor, as_learner, draft):
    assert client.get(f"/api/v1/modules/{draft['id']}", headers=as_learner).status_code == 404
    client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    learner_view = client.get(f"/api/v1/modules/{draft['id']}", headers=as_learner)
    assert learner_view.status_code == 200
    assert learner_view.json["version"] == 1
    # Editing the draft does not change what learners get until the next publish.
    etag = client.get(f"{API}/modules/{draft['id']}", headers=as_editor).headers["ETag"]
    client.put(
        f"{API}/modules/{draft['id']}",
        json=factories.module_document(title="Utkast"),
        headers={**as_editor, "If-Match": etag},
    )
    assert client.get(f"/api/v1/modules/{draft['id']}", headers=as_learner).json["title"] == (
        "Kjølekjeden"
    )
    got = client.get(f"{API}/modules/{draft['id']}", headers=as_editor).json
    assert got["has_unpublished_changes"] is True and got["version"] == 1


def test_publish_with_stale_if_match_is_412(client, as_editor, draft):
    client.put(
        f"{API}/modules/{draft['id']}",
        json=factories.module_document(title="Changed"),
        headers={**as_editor, "If-Match": draft["etag"]},
    )
    response = client.post(
        f"{API}/modules/{draft['id']}/publish", headers={**as_editor, "If-Match": draft["etag"]}
    )
    assert response.status_code == 412


def test_publish_validates_again(client, session, org, as_editor, draft):
    # The organisation starts requiring Nynorsk after the draft was saved.
    org.settings = {"required_locales": ["nn"]}
    session.flush()
    response = client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    assert response.status_code == 422
    assert any("'nn'" in m for m in response.json["errors"]["translations"])


def test_learner_keeps_grading_against_the_version_they_started(
    client, session, as_editor, as_learner, draft
):
    client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    attempt = client.post(f"/api/v1/modules/{draft['id']}/attempts", headers=as_learner).json
    etag = client.get(f"{API}/modules/{draft['id']}", headers=as_editor).headers["ETag"]
    client.put(
        f"{API}/modules/{draft['id']}",
        json=factories.module_document(title="Ny"),
        headers={**as_editor, "If-Match": etag},
    )
    client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    v1 = session.scalar(
        select(ModuleVersion).where(
            ModuleVersion.module_id == draft["id"], ModuleVersion.version == 1
        )
    )
    keys = factories.correct_choices(v1)
    question_id = next(iter(keys))
    answered = client.post(
        f"/api/v1/attempts/{attempt['id']}/answers",
        json={"question_id": question_id, "choice_ids": keys[question_id]},
        headers=as_learner,
    )
    assert answered.status_code == 201 and answered.json["correct"] is True


def test_archive_hides_from_learners_and_unarchive_restores(client, as_editor, as_learner, draft):
    client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    archived = client.post(f"{API}/modules/{draft['id']}/archive", headers=as_editor)
    assert archived.status_code == 200
    assert archived.json == {"id": draft["id"], "status": "archived", "version": 1}
    assert client.get(f"/api/v1/modules/{draft['id']}", headers=as_learner).status_code == 404
    assert client.get("/api/v1/modules", headers=as_learner).json["items"] == []
    started = client.post(f"/api/v1/modules/{draft['id']}/attempts", headers=as_learner)
    assert started.status_code == 404
    # The editor still has it, with its versions.
    assert client.get(f"{API}/modules/{draft['id']}", headers=as_editor).json["status"] == (
        "archived"
    )
    restored = client.post(f"{API}/modules/{draft['id']}/unarchive", headers=as_editor)
    assert restored.json["status"] == "published"
    assert client.get(f"/api/v1/modules/{draft['id']}", headers=as_learner).status_code == 200


def test_unarchive_of_a_never_published_module_is_a_draft_again(client, as_editor, draft):
    client.post(f"{API}/modules/{draft['id']}/archive", headers=as_editor)
    restored = client.post(f"{API}/modules/{draft['id']}/unarchive", headers=as_editor)
    assert restored.json["status"] == "draft"


def test_versions_and_history_say_who_did_what(client, as_editor, as_admin, editor, admin, draft):
    client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    etag = client.get(f"{API}/modules/{draft['id']}", headers=as_admin).headers["ETag"]
    client.put(
        f"{API}/modules/{draft['id']}",
        json=factories.module_document(title="Admin endret"),
        headers={**as_admin, "If-Match": etag},
    )
    client.post(f"{API}/modules/{draft['id']}/publish", headers=as_admin)
    client.post(f"{API}/modules/{draft['id']}/archive", headers=as_admin)

    versions = client.get(f"{API}/modules/{draft['id']}/versions", headers=as_editor)
    assert versions.status_code == 200
    assert [(v["version"], v["published_by"]["id"]) for v in versions.json["items"]] == [
        (2, admin.id),
        (1, editor.id),
    ]
    assert versions.json["items"][0]["published_at"]

    history = client.get(f"{API}/modules/{draft['id']}/history", headers=as_editor)
    steps = [(e["action"], e["actor"]["id"], e["version"]) for e in history.json["items"]]
    assert steps == [
        ("archived", admin.id, None),
        ("published", admin.id, 2),
        ("updated", admin.id, None),
        ("published", editor.id, 1),
        ("created", editor.id, None),
    ]


def test_list_pages_through_the_organisations_modules(client, as_editor, module):
    ids = [
        create(client, as_editor, factories.module_document(title=f"M{n}")).json["id"]
        for n in range(3)
    ]
    first = client.get(f"{API}/modules?limit=2", headers=as_editor)
    assert first.status_code == 200
    assert [m["id"] for m in first.json["items"]] == [ids[2], ids[1]]
    second = client.get(
        f"{API}/modules?limit=2&cursor={first.json['next_cursor']}", headers=as_editor
    )
    assert [m["id"] for m in second.json["items"]] == [ids[0], module.id]
    assert second.json["next_cursor"] is None
    published = client.get(f"{API}/modules?status=published", headers=as_editor)
    assert [m["id"] for m in published.json["items"]] == [module.id]
    assert client.get(f"{API}/modules?status=bogus", headers=as_editor).status_code == 422


def test_keys_stay_unique_within_the_organisation(client, as_editor):
    first = create(client, as_editor).json["id"]
    second = create(client, as_editor).json["id"]
    keys = [
        client.get(f"{API}/modules/{i}", headers=as_editor).json["key"] for i in (first, second)
    ]
    assert keys == ["kjolekjeden", "kjolekjeden-2"]


def test_draft_right_after_publish_has_no_unpublished_changes(client, as_editor, draft):
    client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    got = client.get(f"{API}/modules/{draft['id']}", headers=as_editor).json
    assert got["status"] == "published" and got["version"] == 1
    assert got["has_unpublished_changes"] is False
    assert got["published_at"]


def test_a_retried_publish_with_the_same_idempotency_key_publishes_once(client, as_editor, draft):
    headers = {**as_editor, "Idempotency-Key": "publish-1"}
    first = client.post(f"{API}/modules/{draft['id']}/publish", headers=headers)
    again = client.post(f"{API}/modules/{draft['id']}/publish", headers=headers)
    assert first.json == again.json and again.json["version"] == 1
    assert again.headers["Idempotent-Replayed"] == "true"
    third = client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    assert third.json["version"] == 1  # without a key too: the draft has not changed


def test_a_save_racing_another_save_gets_412(session, editor, draft):
    # The module is in the session at revision 1; "another request" saves behind its back.
    # The If-Match check passes on the stale copy; the compare-and-set must still refuse.
    stale = session.get(Module, draft["id"])  # held: the identity map only keeps weak refs
    session.execute(
        update(Module)
        .where(Module.id == draft["id"])
        .values(draft_revision=Module.draft_revision + 1)
        .execution_options(synchronize_session=False)
    )
    assert stale.draft_revision == 1
    with pytest.raises(PreconditionFailed, match="same moment"):
        service.replace_draft(
            session,
            user=editor,
            module_id=draft["id"],
            raw=factories.module_document(title="Tapt?"),
            if_match=[f"{draft['id']}.1"],
            now=datetime.now(UTC),
        )


def test_publishing_an_unchanged_draft_answers_with_the_existing_version(
    client, session, as_editor, draft
):
    first = client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    assert first.json["version"] == 1 and first.json["unchanged"] is False
    again = client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    assert again.status_code == 200
    assert again.json == {**first.json, "unchanged": True}
    versions = session.scalars(
        select(ModuleVersion.version).where(ModuleVersion.module_id == draft["id"])
    ).all()
    assert versions == [1]
    history = client.get(f"{API}/modules/{draft['id']}/history", headers=as_editor).json
    assert [e["action"] for e in history["items"]] == ["published", "created"]
    # A save that changes nothing is still nothing to publish; a real change is.
    etag = client.get(f"{API}/modules/{draft['id']}", headers=as_editor).headers["ETag"]
    same = client.put(
        f"{API}/modules/{draft['id']}",
        json=factories.module_document(),
        headers={**as_editor, "If-Match": etag},
    )
    assert client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor).json["unchanged"]
    client.put(
        f"{API}/modules/{draft['id']}",
        json=factories.module_document(title="Ny"),
        headers={**as_editor, "If-Match": same.headers["ETag"]},
    )
    changed = client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    assert changed.json["version"] == 2 and changed.json["unchanged"] is False


def test_publishing_an_archived_unchanged_module_brings_it_back(
    client, as_editor, as_learner, draft
):
    client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    client.post(f"{API}/modules/{draft['id']}/archive", headers=as_editor)
    again = client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    assert again.json["version"] == 1 and again.json["unchanged"] is True
    assert client.get(f"/api/v1/modules/{draft['id']}", headers=as_learner).status_code == 200

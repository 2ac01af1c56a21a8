"""Guessable content is warned about (never refused) on save, preview, publish and import."""

from __future__ import annotations

import copy
from typing import Any

from tests import factories
from tests.editor.conftest import API, create

ALL_FALSE = (
    "3 of the 3 true/false questions in this module are false: a learner who always guesses "
    "that passes."
)


def guessable() -> dict[str, Any]:
    """The test module with three cards and every true/false answer false."""
    body = factories.module_document()
    body["cards"].append({"kind": "text", "body": "Meld avvik."})
    body["translations"]["en"]["cards"].append({"body": "Report deviations."})
    tf = body["questions"][1]
    body["questions"] = [copy.deepcopy(tf) for _ in range(3)]
    en = body["translations"]["en"]["questions"][1]
    body["translations"]["en"]["questions"] = [copy.deepcopy(en) for _ in range(3)]
    return body


def test_save_creates_the_draft_and_warns(client, as_editor):
    created = create(client, as_editor, guessable())
    assert created.json["warnings"] == {"questions": [ALL_FALSE]}
    url = f"{API}/modules/{created.json['id']}"
    draft = client.get(url, headers=as_editor)
    assert draft.json["warnings"] == {"questions": [ALL_FALSE]}
    fixed = draft.json
    fixed["questions"][0]["choices"][0]["correct"] = True
    fixed["questions"][0]["choices"][1]["correct"] = False
    saved = client.put(url, json=fixed, headers={**as_editor, "If-Match": draft.headers["ETag"]})
    assert saved.status_code == 200, saved.json
    assert saved.json["warnings"] == {}


def test_preview_and_publish_carry_the_warnings(client, as_editor):
    module_id = create(client, as_editor, guessable()).json["id"]
    preview = client.get(f"{API}/modules/{module_id}/preview", headers=as_editor)
    assert preview.json["warnings"] == {"questions": [ALL_FALSE]}
    published = client.post(f"{API}/modules/{module_id}/publish", headers=as_editor)
    assert published.status_code == 200  # a warning never stops publishing
    assert published.json["version"] == 1
    assert published.json["warnings"] == {"questions": [ALL_FALSE]}


def test_a_package_import_lists_warnings_by_file_and_field_and_imports(client, as_editor):
    body = {"modules": [{**guessable(), "key": "kjolekjeden"}]}
    response = client.post(f"{API}/packages", json=body, headers=as_editor)
    assert response.status_code == 200
    assert response.json["errors"] == []
    assert [m["key"] for m in response.json["created"]] == ["kjolekjeden"]
    assert response.json["warnings"] == [
        {"file": "modules[0]", "field": "questions", "message": ALL_FALSE}
    ]


def test_a_package_with_errors_still_lists_the_warnings_of_its_good_modules(client, as_editor):
    broken = factories.module_document(key="broken", title="")
    body = {"modules": [{**guessable(), "key": "kjolekjeden"}, broken]}
    response = client.post(f"{API}/packages", json=body, headers=as_editor)
    assert response.status_code == 422  # refused as a whole, the warnings beside the errors
    assert {e["file"] for e in response.json["problems"]} == {"modules[1]"}
    assert {(w["file"], w["field"]) for w in response.json["warnings"]} == {
        ("modules[0]", "questions")
    }

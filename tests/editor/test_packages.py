"""Packages: import (zip or JSON, all or nothing), export, round trips, hostile zips."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from app.content.models import Module
from app.editor import packages
from app.media.models import Media
from tests import factories
from tests.conftest import auth_headers
from tests.editor.conftest import API, create, image_bytes, upload

CONTENT = Path(__file__).resolve().parents[2] / "content"


def make_zip(entries: dict[str, bytes | str], **options: Any) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, **options) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def post_zip(client, headers, data: bytes) -> Any:
    return client.post(
        f"{API}/packages", data=data, headers=headers, content_type="application/zip"
    )


def module_yaml(**changes: Any) -> str:
    return yaml.safe_dump(factories.module_document(**changes), allow_unicode=True)


def count_modules(session, org) -> int:
    return session.scalar(select(func.count()).select_from(Module).where(Module.org_id == org.id))


# --- importing ----------------------------------------------------------------------------


def test_import_the_shipped_content_as_a_zip(client, session, org, as_editor):
    entries = {
        f"modules/{path.name}": path.read_bytes() for path in (CONTENT / "modules").glob("*.yaml")
    }
    response = post_zip(client, as_editor, make_zip(entries))
    assert response.status_code == 200, response.json
    assert response.json["errors"] == []
    assert len(response.json["created"]) == len(entries)
    assert all(item["version"] == 1 for item in response.json["created"])
    again = post_zip(client, as_editor, make_zip(entries))
    assert again.json["created"] == [] and again.json["updated"] == []
    assert len(again.json["unchanged"]) == len(entries)


def test_zip_of_the_content_folder_itself(client, as_editor):
    data = make_zip({"content/modules/kald.yaml": module_yaml(key="kald")})
    response = post_zip(client, as_editor, data)
    assert [m["key"] for m in response.json["created"]] == ["kald"]


def test_multipart_upload(client, as_editor):
    data = make_zip({"modules/kald.yaml": module_yaml(key="kald")})
    response = client.post(
        f"{API}/packages",
        data={"file": (io.BytesIO(data), "pakke.zip")},
        headers=as_editor,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert [m["key"] for m in response.json["created"]] == ["kald"]


def test_import_json_modules_and_a_single_document(client, session, org, as_editor):
    response = client.post(
        f"{API}/packages",
        json={
            "modules": [factories.module_document(key="en"), factories.module_document(key="to")]
        },
        headers=as_editor,
    )
    assert response.status_code == 200
    assert sorted(m["key"] for m in response.json["created"]) == ["en", "to"]
    single = client.post(
        f"{API}/packages", json=factories.module_document(title="Hygiene"), headers=as_editor
    )
    assert [m["key"] for m in single.json["created"]] == ["hygiene"]
    module_id = single.json["created"][0]["id"]
    draft = client.get(f"{API}/modules/{module_id}", headers=as_editor).json
    assert draft["status"] == "published" and draft["version"] == 1
    history = client.get(f"{API}/modules/{module_id}/history", headers=as_editor).json
    assert [e["action"] for e in history["items"]] == ["imported"]


def test_changed_module_gets_a_new_version(client, as_editor):
    first = post_zip(client, as_editor, make_zip({"modules/kald.yaml": module_yaml(key="kald")}))
    changed = module_yaml(key="kald", title="Kaldt og trygt")
    second = post_zip(client, as_editor, make_zip({"modules/kald.yaml": changed}))
    assert second.json["updated"] == [
        {
            "id": first.json["created"][0]["id"],
            "key": "kald",
            "title": "Kaldt og trygt",
            "version": 2,
        }
    ]


def test_nothing_is_imported_when_one_module_is_wrong(client, session, org, as_editor):
    bad = factories.module_document(key="bad")
    bad["questions"][0]["choices"][1]["correct"] = True
    data = make_zip(
        {
            "modules/good.yaml": module_yaml(key="good"),
            "modules/bad.yaml": yaml.safe_dump(bad, allow_unicode=True),
        }
    )
    response = post_zip(client, as_editor, data)
    assert response.status_code == 422
    assert {
        "file": "modules/bad.yaml",
        "field": "questions[0].choices",
        "message": "A single_choice question needs exactly one correct choice.",
    } in response.json["problems"]
    assert count_modules(session, org) == 0


def test_json_errors_name_the_module_by_position(client, as_editor):
    response = client.post(
        f"{API}/packages",
        json={"modules": [factories.module_document(key="ok"), {"title": "Tom"}]},
        headers=as_editor,
    )
    files = {error["file"] for error in response.json["problems"]}
    assert files == {"modules[1]"}
    fields = {error["field"] for error in response.json["problems"]}
    assert {"cards", "questions"} <= fields


def test_json_with_neither_modules_nor_a_document(client, as_editor):
    response = client.post(f"{API}/packages", json={"modules": "nope"}, headers=as_editor)
    assert response.status_code == 422
    assert response.json["errors"]["_package"][0].startswith("Send {modules")
    listed = client.post(f"{API}/packages", json=[1], headers=as_editor)
    assert listed.status_code == 422 and listed.json["errors"]


def test_json_duplicate_keys_and_bad_base64(client, as_editor):
    response = client.post(
        f"{API}/packages",
        json={
            "modules": [factories.module_document(key="a"), factories.module_document(key="a")],
            "files": {"media/x.png": "***not base64***", "../x.png": "AAAA"},
        },
        headers=as_editor,
    )
    messages = {(e["file"], e["message"]) for e in response.json["problems"]}
    assert ("modules[1]", "Another module in this package has the key 'a'.") in messages
    assert ("files.media/x.png", "Not valid base64.") in messages
    assert any(file == "files.../x.png" for file, _ in messages)


def test_package_images_become_media_of_the_organisation(client, session, org, as_editor):
    document = factories.module_document(key="bilde")
    document["cards"][0] = {"kind": "image", "media": "media/termometer.png", "body": "Se her"}
    png = image_bytes()
    data = make_zip({"modules/bilde.yaml": yaml.safe_dump(document), "media/termometer.png": png})
    response = post_zip(client, as_editor, data)
    assert response.json["errors"] == []
    module_id = response.json["created"][0]["id"]
    media = session.scalars(select(Media).where(Media.org_id == org.id)).one()
    draft = client.get(f"{API}/modules/{module_id}", headers=as_editor).json
    assert draft["cards"][0]["media_id"] == media.id and draft["cards"][0].get("media") is None
    assert client.get(media.url).data == png


def test_package_image_that_is_not_an_image(client, as_editor):
    document = factories.module_document(key="bilde")
    document["cards"][0] = {"kind": "image", "media": "media/x.png"}
    data = make_zip({"modules/bilde.yaml": yaml.safe_dump(document), "media/x.png": b"GIF89a"})
    errors = post_zip(client, as_editor, data).json["problems"]
    assert errors == [
        {
            "file": "modules/bilde.yaml",
            "field": "cards[0].media",
            "message": "Upload a PNG, JPEG or WebP image.",
        }
    ]


def test_unsupported_body_type_is_415(client, as_editor):
    response = client.post(
        f"{API}/packages", data="key: x", headers=as_editor, content_type="text/yaml"
    )
    assert response.status_code == 415


# --- hostile packages ---------------------------------------------------------------------


def errors_of(client, headers, data: bytes) -> list[dict[str, Any]]:
    response = post_zip(client, headers, data)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["errors"]
    return response.json["problems"]


def test_not_a_zip(client, as_editor):
    errors = errors_of(client, as_editor, b"PK\x03\x04 but not really a zip")
    assert errors[0]["message"] == "The body is not a readable zip file."


@pytest.mark.parametrize(
    "name",
    [
        "../modules/evil.yaml",
        "/etc/modules/evil.yaml",
        "modules/../../evil.yaml",
        "modules\\evil.yaml",
        "C:/modules/evil.yaml",
    ],
)
def test_path_traversal_is_refused(client, session, org, as_editor, name):
    data = make_zip({name: module_yaml(key="evil"), "modules/ok.yaml": module_yaml(key="ok")})
    errors = errors_of(client, as_editor, data)
    assert errors[0]["file"] == name
    assert count_modules(session, org) == 0


def test_zip_bomb_by_ratio_is_refused(client, as_editor):
    data = make_zip({"media/zeros.png": b"\0" * (4 * 1024 * 1024)})
    assert len(data) < 50_000
    errors = errors_of(client, as_editor, data)
    assert "zip bomb" in errors[0]["message"]


def test_oversized_module_file_is_refused(client, as_editor):
    data = make_zip({"modules/big.yaml": "a: " + "x" * (packages.MAX_MODULE_FILE_BYTES + 10)})
    errors = errors_of(client, as_editor, data)
    assert errors[0]["file"] == "modules/big.yaml"
    assert "at most" in errors[0]["message"]


def test_too_many_entries_is_refused(client, as_editor):
    data = make_zip({f"media/{n}.txt": "" for n in range(packages.MAX_ENTRIES + 1)})
    assert "entries" in errors_of(client, as_editor, data)[0]["message"]


def test_total_uncompressed_size_is_limited(client, as_editor, monkeypatch):
    monkeypatch.setattr(packages, "MAX_TOTAL_BYTES", 1000)
    data = make_zip({f"modules/m{n}.yaml": module_yaml(key=f"m{n}") for n in range(3)})
    assert "unpacks to more than" in errors_of(client, as_editor, data)[0]["message"]


def test_header_that_lies_about_the_size_is_caught(monkeypatch):
    # A header may claim a small size; reading stops at the limit whatever it says.
    monkeypatch.setattr(packages, "MAX_MODULE_FILE_BYTES", 100)
    data = make_zip({"modules/a.yaml": "x" * 50})
    honest = packages.read_zip(data)
    assert honest.errors == []
    lying = bytearray(make_zip({"modules/a.yaml": "x" * 500}))
    # Patch the declared size (local header and central directory) down to 50 bytes.
    for marker, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = lying.find(marker)
        lying[start + offset : start + offset + 4] = (50).to_bytes(4, "little")
    package = packages.read_zip(bytes(lying))
    assert package.files == {}
    assert package.errors


def test_non_utf8_yaml_is_refused(client, as_editor):
    data = make_zip({"modules/latin.yaml": module_yaml(key="latin").encode("cp1252")})
    errors = errors_of(client, as_editor, data)
    assert errors == [
        {"file": "modules/latin.yaml", "field": None, "message": "The file is not UTF-8."}
    ]


def test_yaml_alias_bomb_is_refused(client, as_editor):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    errors = errors_of(client, as_editor, make_zip({"modules/bomb.yaml": bomb}))
    assert "aliases" in errors[0]["message"]


def test_symlink_entries_are_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("modules/link.yaml")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    package = packages.read_zip(buffer.getvalue())
    assert package.errors[0]["message"] == "Symbolic links are not allowed."


# --- exporting ----------------------------------------------------------------------------


def learner_view_without_ids(client, headers, module_id: str, locale: str = "nb") -> dict:
    view = client.get(
        f"/api/v1/modules/{module_id}", headers={**headers, "Accept-Language": locale}
    ).json
    view.pop("id")
    for card in view["cards"]:
        card.pop("id")
    for question in view["questions"]:
        question.pop("id")
        for choice in question["choices"]:
            choice.pop("id")
    return view


def document_without_ids(client, headers, module_id: str) -> dict:
    draft = client.get(f"{API}/modules/{module_id}", headers=headers).json
    for name in ("id", "created_at", "created_by", "updated_at", "published_at", "revision"):
        draft.pop(name)
    for card in draft["cards"]:
        card.pop("media_id", None)
    return draft


@pytest.fixture
def rich_module(client, as_editor) -> str:
    """A published module with an image card, a link and an English translation."""
    media = upload(client, as_editor, image_bytes("JPEG", (16, 9))).json
    document = factories.module_document()
    document["cards"][0] = {
        "kind": "image",
        "media_id": media["id"],
        "body": "Se [Mattilsynet](https://mattilsynet.no).",
    }
    document["cards"].append({"kind": "video", "url": "https://video.example/kjol.mp4"})
    document["translations"]["en"]["cards"].append({})
    module_id = create(client, as_editor, document).json["id"]
    assert client.post(f"{API}/modules/{module_id}/publish", headers=as_editor).status_code == 200
    return module_id


@pytest.mark.parametrize("accept", ["application/zip", "application/json"])
def test_export_imports_into_another_organisation_identically(
    client, session, as_editor, as_learner, as_other_org_admin, rich_module, accept, other_org
):
    exported = client.get(
        f"{API}/modules/{rich_module}/export", headers={**as_editor, "Accept": accept}
    )
    assert exported.status_code == 200
    assert exported.mimetype == accept
    if accept == "application/zip":
        assert "attachment" in exported.headers["Content-Disposition"]
        imported = post_zip(client, as_other_org_admin, exported.data)
    else:
        imported = client.post(f"{API}/packages", json=exported.json, headers=as_other_org_admin)
    assert imported.json["errors"] == [], imported.json
    theirs = imported.json["created"][0]["id"]
    assert theirs != rich_module

    their_learner = factories.make_user(session, other_org, "their-learner")
    as_their_learner = auth_headers(session, their_learner)
    for locale in ("nb", "en"):
        assert learner_view_without_ids(client, as_their_learner, theirs, locale) == (
            learner_view_without_ids(client, as_learner, rich_module, locale)
        )
    assert document_without_ids(client, as_other_org_admin, theirs) == document_without_ids(
        client, as_editor, rich_module
    )
    # The image was copied into the other organisation's media.
    their_media = session.scalars(select(Media).where(Media.org_id == other_org.id)).all()
    assert len(their_media) == 1


def test_export_zip_has_the_content_format(client, as_editor, rich_module):
    exported = client.get(f"{API}/modules/{rich_module}/export", headers=as_editor)
    archive = zipfile.ZipFile(io.BytesIO(exported.data))
    names = archive.namelist()
    assert "modules/kjolekjeden.yaml" in names
    assert any(name.startswith("media/") and name.endswith(".jpg") for name in names)
    document = yaml.safe_load(archive.read("modules/kjolekjeden.yaml"))
    assert document["cards"][0]["media"].startswith("media/")
    assert document["questions"][0]["choices"][0]["correct"] is True


def test_export_draft_or_published(client, as_editor, rich_module):
    etag = client.get(f"{API}/modules/{rich_module}", headers=as_editor).headers["ETag"]
    changed = client.get(f"{API}/modules/{rich_module}", headers=as_editor).json
    changed["title"] = "Utkastet"
    client.put(
        f"{API}/modules/{rich_module}", json=changed, headers={**as_editor, "If-Match": etag}
    )
    published = client.get(f"{API}/modules/{rich_module}/export?format=json", headers=as_editor)
    draft = client.get(
        f"{API}/modules/{rich_module}/export?format=json&source=draft", headers=as_editor
    )
    assert published.json["modules"][0]["title"] == "Kjølekjeden"
    assert draft.json["modules"][0]["title"] == "Utkastet"


def test_export_includes_the_modules_it_requires(client, as_editor, as_other_org_admin, module):
    body = factories.module_document(title="Videre", prerequisites=[module.id])
    later = create(client, as_editor, body).json["id"]
    client.post(f"{API}/modules/{later}/publish", headers=as_editor)
    exported = client.get(f"{API}/modules/{later}/export?format=json", headers=as_editor).json
    assert len(exported["modules"]) == 2
    imported = client.post(f"{API}/packages", json=exported, headers=as_other_org_admin).json
    assert imported["errors"] == [] and len(imported["created"]) == 2
    videre = next(m for m in imported["created"] if m["title"] == "Videre")
    other = next(m for m in imported["created"] if m["title"] != "Videre")
    draft = client.get(f"{API}/modules/{videre['id']}", headers=as_other_org_admin).json
    assert draft["prerequisites"] == [other["id"]]


def test_export_of_a_never_published_draft(client, as_editor, draft):
    exported = client.get(f"{API}/modules/{draft['id']}/export?format=json", headers=as_editor)
    assert exported.status_code == 200
    assert exported.json["modules"][0]["key"] == "kjolekjeden"


def test_export_json_round_trips_through_json_text(client, as_editor, rich_module):
    exported = client.get(f"{API}/modules/{rich_module}/export?format=json", headers=as_editor)
    assert json.loads(exported.data) == exported.json


def test_multipart_without_a_file_is_422(client, as_editor):
    response = client.post(
        f"{API}/packages", data={"x": "y"}, headers=as_editor, content_type="multipart/form-data"
    )
    assert response.status_code == 422
    assert response.json["errors"] == {"file": ["Upload the zip as `file`."]}


def test_package_over_the_body_limit_is_413(client, app, as_editor):
    response = post_zip(client, as_editor, b"PK" + b"\0" * app.config["MAX_CONTENT_LENGTH"])
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


# --- keys, failures as problems, history ------------------------------------------------


def test_an_invalid_module_key_is_refused_not_replaced(client, session, org, as_editor):
    response = client.post(
        f"{API}/packages",
        json={"modules": [factories.module_document(key="Bad Key")]},
        headers=as_editor,
    )
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["errors"]["modules[0].key"] == [
        "Lowercase letters a-z, digits and hyphens, starting with a letter or digit; at most 100."
    ]
    assert count_modules(session, org) == 0


def test_a_zip_module_file_with_an_invalid_name_is_refused(client, session, org, as_editor):
    data = make_zip({"modules/Bad Key.yaml": module_yaml()})
    response = post_zip(client, as_editor, data)
    assert response.status_code == 422
    assert "modules/Bad Key.yaml.key" in response.json["errors"]
    assert count_modules(session, org) == 0


def test_a_failed_import_is_a_422_problem_with_every_error(client, session, org, as_editor):
    bad = factories.module_document(key="bad")
    bad["questions"][0]["choices"][1]["correct"] = True
    bad["title"] = ""
    response = client.post(
        f"{API}/packages",
        json={"modules": [factories.module_document(key="good"), bad]},
        headers=as_editor,
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["type"].endswith("validation-failed")
    assert "nothing was imported" in response.json["detail"].lower()
    assert response.json["errors"] == {
        "modules[1].title": ["Length must be between 1 and 200."],
        "modules[1].questions[0].choices": [
            "A single_choice question needs exactly one correct choice."
        ],
    }
    # The list form of before, for clients that read it: file, field and message.
    assert {
        "file": "modules[1]",
        "field": "title",
        "message": "Length must be between 1 and 200.",
    } in response.json["problems"]
    assert count_modules(session, org) == 0


def test_a_package_that_is_not_a_zip_is_a_422_problem(client, as_editor):
    response = post_zip(client, as_editor, b"not a zip")
    assert response.status_code == 422
    assert response.json["errors"] == {"_package": ["The body is not a readable zip file."]}


def test_an_import_that_changes_a_module_leaves_history(client, as_editor):
    first = post_zip(client, as_editor, make_zip({"modules/kald.yaml": module_yaml(key="kald")}))
    module_id = first.json["created"][0]["id"]
    changed = module_yaml(key="kald", title="Kaldt og trygt")
    post_zip(client, as_editor, make_zip({"modules/kald.yaml": changed}))
    post_zip(client, as_editor, make_zip({"modules/kald.yaml": changed}))  # unchanged: no entry
    history = client.get(f"{API}/modules/{module_id}/history", headers=as_editor).json["items"]
    assert [(e["action"], e["version"]) for e in history] == [("imported", 2), ("imported", 1)]


def test_a_package_reports_two_problems_of_one_question(client, session, org, as_editor):
    bad = factories.module_document(key="bad")
    bad["questions"][0]["prompt"] = ""
    bad["questions"][0]["choices"][0]["correct"] = False  # and no correct choice left
    response = post_zip(client, as_editor, make_zip({"modules/bad.yaml": yaml.safe_dump(bad)}))
    assert response.status_code == 422
    errors = response.json["errors"]
    assert "modules/bad.yaml.questions[0].prompt" in errors
    assert errors["modules/bad.yaml.questions[0].choices"] == [
        "A single_choice question needs exactly one correct choice."
    ]
    assert count_modules(session, org) == 0

"""Image uploads: checked by content, sized, stored content-addressed, served immutable."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from app import MULTIPART_OVERHEAD
from app.media.models import Media
from tests import factories
from tests.editor.conftest import API, create, image_bytes, upload


@pytest.mark.parametrize(
    ("kind", "content_type", "extension"),
    [("PNG", "image/png", "png"), ("JPEG", "image/jpeg", "jpg"), ("WEBP", "image/webp", "webp")],
)
def test_upload_each_supported_type(client, session, org, as_editor, kind, content_type, extension):
    data = image_bytes(kind, (40, 30))
    response = upload(client, as_editor, data, name="whatever.bin")
    assert response.status_code == 201, response.json
    body = response.json
    name = f"{hashlib.sha256(data).hexdigest()}.{extension}"
    assert body["url"] == f"/media/{name}"
    assert (body["width"], body["height"]) == (40, 30)
    assert body["content_type"] == content_type and body["bytes"] == len(data)
    row = session.get(Media, body["id"])
    assert row.org_id == org.id and row.name == name


def test_the_same_image_twice_is_one_media(client, as_editor):
    data = image_bytes()
    assert upload(client, as_editor, data).json["id"] == upload(client, as_editor, data).json["id"]


def test_served_with_long_cache_headers(client, as_editor):
    data = image_bytes("PNG")
    url = upload(client, as_editor, data).json["url"]
    served = client.get(url)
    assert served.status_code == 200
    assert served.data == data
    assert served.mimetype == "image/png"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    again = client.get(url, headers={"If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304


def test_unknown_or_unsafe_media_names_are_404(client):
    for name in ("nope.png", "..%2Fsecret_key", ".hidden"):
        response = client.get(f"/media/{name}")
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"


def test_a_gif_is_refused(client, as_editor):
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, format="GIF")
    response = upload(client, as_editor, buffer.getvalue(), name="a.png")
    assert response.status_code == 422
    assert response.json["errors"]["file"] == ["Upload a PNG, JPEG or WebP image."]


def test_a_renamed_text_file_is_refused(client, as_editor):
    response = upload(client, as_editor, b"<html><script>alert(1)</script>", name="a.png")
    assert response.status_code == 422


def test_a_truncated_png_is_refused(client, as_editor):
    data = image_bytes("PNG", (64, 64))
    response = upload(client, as_editor, data[: len(data) // 2])
    assert response.status_code == 422


def test_an_empty_file_is_refused(client, as_editor):
    assert upload(client, as_editor, b"").status_code == 422


def test_too_many_pixels_is_refused(client, as_editor):
    response = upload(client, as_editor, image_bytes("PNG", (9000, 10)))
    assert response.status_code == 422
    assert "pixels" in response.json["errors"]["file"][0]


def test_too_many_bytes_is_refused(client, app, as_editor, monkeypatch):
    monkeypatch.setitem(app.config, "MEDIA_MAX_BYTES", 100)
    response = upload(client, as_editor, image_bytes("PNG", (64, 64)))
    assert response.status_code == 422
    assert response.json["errors"]["file"] == ["Images may be at most 100 bytes."]


def test_body_over_the_limit_is_413(client, app, as_editor, monkeypatch):
    # The upload's own limit (MEDIA_MAX_BYTES and the multipart framing), not MAX_BODY_BYTES.
    monkeypatch.setitem(app.config, "MEDIA_MAX_BYTES", 100_000)
    response = upload(client, as_editor, b"\x89PNG" + b"0" * (100_000 + MULTIPART_OVERHEAD))
    assert response.status_code == 413


def test_missing_file_field_is_422(client, as_editor):
    response = client.post(
        f"{API}/media", data={"other": "x"}, headers=as_editor, content_type="multipart/form-data"
    )
    assert response.status_code == 422


def test_json_body_is_415(client, as_editor):
    response = client.post(f"{API}/media", json={"file": "x"}, headers=as_editor)
    assert response.status_code == 415


def test_image_card_publishes_with_the_media_url(client, as_editor, as_learner):
    media = upload(client, as_editor, image_bytes()).json
    document = factories.module_document()
    document["cards"][0] = {"kind": "image", "media_id": media["id"], "body": "Termometeret"}
    created = create(client, as_editor, document).json["id"]
    preview = client.get(f"{API}/modules/{created}/preview", headers=as_editor).json
    assert preview["cards"][0]["media_url"] == media["url"]
    client.post(f"{API}/modules/{created}/publish", headers=as_editor)
    learner = client.get(f"/api/v1/modules/{created}", headers=as_learner).json
    assert learner["cards"][0]["media_url"] == media["url"]
    assert learner["cards"][0]["kind"] == "image"


def test_list_the_organisations_images(client, as_editor, as_other_org_admin):
    first = upload(client, as_editor, image_bytes("PNG")).json["id"]
    second = upload(client, as_editor, image_bytes("JPEG")).json["id"]
    upload(client, as_other_org_admin, image_bytes("WEBP"))
    listed = client.get(f"{API}/media?limit=1", headers=as_editor)
    assert listed.status_code == 200
    assert [m["id"] for m in listed.json["items"]] == [second]
    rest = client.get(f"{API}/media?cursor={listed.json['next_cursor']}", headers=as_editor)
    assert [m["id"] for m in rest.json["items"]] == [first]

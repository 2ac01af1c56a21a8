"""The image upload's limit is its own (MEDIA_MAX_BYTES, 5 MiB by default), not the 2 MiB of
every other body; a body sent in chunks over its limit is a 413, not a body cut short."""

from __future__ import annotations

import io
import os

from PIL import Image

from tests.api.test_errors import assert_problem
from tests.editor.conftest import API, upload


def noise_png(width: int, height: int) -> bytes:
    """A PNG that does not compress: about width * height * 3 bytes."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def test_an_image_over_the_body_limit_but_within_the_media_limit_is_stored(app, client, as_editor):
    data = noise_png(1100, 1000)
    assert app.config["MAX_CONTENT_LENGTH"] < len(data) < app.config["MEDIA_MAX_BYTES"]

    response = upload(client, as_editor, data)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["bytes"] == len(data)


def test_an_upload_over_the_media_limit_is_413(app, client, as_editor, monkeypatch):
    monkeypatch.setitem(app.config, "MEDIA_MAX_BYTES", 100_000)
    assert_problem(upload(client, as_editor, b"\x89PNG" + bytes(200_000)), 413)


def test_other_bodies_keep_the_general_limit(app, client, as_admin):
    big = {"name": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)}
    assert_problem(client.post("/api/v1/admin/departments", json=big, headers=as_admin), 413)


def _chunked(client, path, data, content_type, headers):
    """A body without Content-Length, as a client streaming it in chunks sends it."""
    return client.post(
        path,
        input_stream=io.BytesIO(data),
        content_type=content_type,
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_json_body_over_the_limit_is_413(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    body = b'{"organization": "acme", "username": "x", "password": "' + b"p" * 4000 + b'"}'
    response = _chunked(client, "/api/v1/auth/login", body, "application/json", {})
    assert_problem(response, 413)


def test_a_chunked_json_body_within_the_limit_is_read(client):
    body = b'{"organization": "acme", "username": "nobody", "password": "secret"}'
    response = _chunked(client, "/api/v1/auth/login", body, "application/json", {})
    assert_problem(response, 401)  # read whole, and judged on what it says


def test_a_chunked_upload_over_the_media_limit_is_413(app, client, as_editor, monkeypatch):
    monkeypatch.setitem(app.config, "MEDIA_MAX_BYTES", 10_000)
    boundary = "b0undary"
    data = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n'
        f"Content-Type: image/png\r\n\r\n"
    ).encode()
    data += bytes(200_000) + f"\r\n--{boundary}--\r\n".encode()
    response = _chunked(
        client, f"{API}/media", data, f"multipart/form-data; boundary={boundary}", as_editor
    )
    assert_problem(response, 413)

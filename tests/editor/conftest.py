"""Helpers for the editor tests: module bodies and real image bytes."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from tests import factories

API = "/api/v1/editor"


def image_bytes(kind: str = "PNG", size: tuple[int, int] = (4, 3)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=kind)
    return buffer.getvalue()


def create(client: FlaskClient, headers: dict[str, str], body: dict[str, Any] | None = None) -> Any:
    response = client.post(
        f"{API}/modules", json=body or factories.module_document(), headers=headers
    )
    assert response.status_code == 201, response.json
    return response


def upload(client: FlaskClient, headers: dict[str, str], data: bytes, name: str = "x.png") -> Any:
    return client.post(
        f"{API}/media",
        data={"file": (io.BytesIO(data), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


@pytest.fixture
def draft(client: FlaskClient, as_editor: dict[str, str]) -> dict[str, Any]:
    """A saved draft of the standard test document: its id and ETag."""
    response = create(client, as_editor)
    return {"id": response.json["id"], "etag": response.headers["ETag"]}

"""Serving stored images: public, content-addressed, cached for a year."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import Blueprint, send_file

from app.errors import NotFound
from app.media.storage import get_storage

# A plain Flask blueprint: files, not JSON, so it stays out of the OpenAPI document.
blp = Blueprint("media", __name__, url_prefix="/media")

IMMUTABLE = "public, max-age=31536000, immutable"
TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}


@blp.get("/<name>")
def media_file(name: str) -> Any:
    """An uploaded image. Its name is the SHA-256 of its bytes, so it never changes."""
    storage = get_storage()
    path = storage.path_for(name)
    mimetype = TYPES.get(name.rpartition(".")[2], "application/octet-stream")
    if path is not None:
        response = send_file(path, mimetype=mimetype, etag=name, conditional=True)
    else:
        data = storage.read(name)
        if data is None:
            raise NotFound("No such file.")
        response = send_file(BytesIO(data), mimetype=mimetype, etag=name, conditional=True)
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

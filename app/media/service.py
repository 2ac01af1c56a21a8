"""Checking and storing uploaded images."""

from __future__ import annotations

import io
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Unprocessable
from app.media.models import Media
from app.media.storage import MediaStorage, content_name

# Pillow format -> (content type, file extension). Judged by content, never by the file name.
IMAGE_FORMATS = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
}
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_SIDE = 8000
MAX_IMAGE_PIXELS = 40_000_000  # a small file may still decode to gigabytes (a pixel bomb)


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    extension: str
    width: int
    height: int


def inspect_image(data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES) -> ImageInfo:
    """What the bytes are, or 422 when they are not a PNG, JPEG or WebP within the limits."""
    if not data:
        raise Unprocessable("The file is empty.", errors={"file": ["The file is empty."]})
    if len(data) > max_bytes:
        raise Unprocessable(
            "The image is too large.",
            errors={"file": [f"Images may be at most {max_bytes} bytes."]},
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind, (width, height) = image.format, image.size
                image.verify()  # reads the whole file: truncated or corrupt data fails here
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        kind, width, height = None, 0, 0
    except (OSError, SyntaxError, ValueError):
        raise Unprocessable(
            "The image is damaged.", errors={"file": ["The image could not be read to the end."]}
        ) from None
    if kind not in IMAGE_FORMATS:
        raise Unprocessable(
            "Not a supported image.", errors={"file": ["Upload a PNG, JPEG or WebP image."]}
        )
    if max(width, height) > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise Unprocessable(
            "The image is too large.",
            errors={"file": [f"Images may be at most {MAX_IMAGE_SIDE} pixels on a side."]},
        )
    content_type, extension = IMAGE_FORMATS[kind]
    return ImageInfo(content_type, extension, width, height)


def store_image(
    session: Session,
    *,
    org_id: str,
    data: bytes,
    storage: MediaStorage,
    uploaded_by: str | None,
    now: datetime,
    max_bytes: int = MAX_IMAGE_BYTES,
) -> Media:
    """Check and store an image for one organisation; the same bytes again give the same row."""
    info = inspect_image(data, max_bytes=max_bytes)
    name = content_name(data, info.extension)
    existing = session.scalar(select(Media).where(Media.org_id == org_id, Media.name == name))
    if existing is not None:
        return existing
    stored = storage.put(data, info.extension)
    media = Media(
        org_id=org_id,
        name=stored.name,
        url=stored.url,
        content_type=info.content_type,
        width=info.width,
        height=info.height,
        bytes=len(data),
        uploaded_by=uploaded_by,
        created_at=now,
    )
    session.add(media)
    session.flush()
    return media


def media_by_id(session: Session, org_id: str, ids: Collection[str]) -> dict[str, Media]:
    """The organisation's images among `ids` (others' images are simply absent)."""
    if not ids:
        return {}
    rows = session.scalars(select(Media).where(Media.org_id == org_id, Media.id.in_(list(ids))))
    return {media.id: media for media in rows}


def media_by_name(session: Session, org_id: str, names: Collection[str]) -> dict[str, Media]:
    """The organisation's images among the stored file names `names`."""
    if not names:
        return {}
    rows = session.scalars(select(Media).where(Media.org_id == org_id, Media.name.in_(list(names))))
    return {media.name: media for media in rows}

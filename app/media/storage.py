"""Where uploaded images live: content-addressed files on local disk by default.

Anything with `put`, `read` and `path_for` can stand in (an S3-compatible bucket, say): set
`app.config["MEDIA_STORAGE"]` to such an object and `get_storage()` hands it out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from flask import current_app


@dataclass(frozen=True)
class StoredFile:
    name: str  # content-addressed: the SHA-256 of the bytes plus the extension
    url: str


class MediaStorage(Protocol):
    def put(self, data: bytes, extension: str) -> StoredFile: ...

    def read(self, name: str) -> bytes | None: ...

    def path_for(self, name: str) -> Path | None: ...


def content_name(data: bytes, extension: str) -> str:
    """The name a file gets: the same bytes always get the same name."""
    return f"{hashlib.sha256(data).hexdigest()}.{extension}"


class LocalMediaStorage:
    """Files under one folder, named by their SHA-256, so a name never changes content."""

    def __init__(self, folder: str, url_prefix: str = "/media/") -> None:
        self.folder = Path(folder)
        self.url_prefix = url_prefix

    def put(self, data: bytes, extension: str) -> StoredFile:
        name = content_name(data, extension)
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / name
        if not target.exists():
            partial = target.with_suffix(".partial")
            partial.write_bytes(data)
            partial.replace(target)  # atomic: readers never see half a file
        return StoredFile(name=name, url=self.url_prefix + name)

    def read(self, name: str) -> bytes | None:
        path = self.path_for(name)
        return path.read_bytes() if path else None

    def path_for(self, name: str) -> Path | None:
        if "/" in name or "\\" in name or name.startswith("."):
            return None
        path = self.folder / name
        return path if path.is_file() else None


def get_storage() -> MediaStorage:
    """The app's media storage: MEDIA_STORAGE when configured, else files under MEDIA_DIR."""
    configured: MediaStorage | None = current_app.config.get("MEDIA_STORAGE")
    if configured is not None:
        return configured
    return LocalMediaStorage(current_app.config["MEDIA_DIR"])

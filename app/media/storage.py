"""Where uploaded images live: content-addressed files on local disk by default."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class StoredFile:
    name: str  # content-addressed: the SHA-256 of the bytes plus the extension
    url: str


class MediaStorage(Protocol):
    def put(self, data: bytes, extension: str) -> StoredFile: ...

    def path_for(self, name: str) -> Path | None: ...


class LocalMediaStorage:
    """Files under one folder, named by their SHA-256, so a name never changes content."""

    def __init__(self, folder: str, url_prefix: str = "/media/") -> None:
        self.folder = Path(folder)
        self.url_prefix = url_prefix

    def put(self, data: bytes, extension: str) -> StoredFile:
        name = f"{hashlib.sha256(data).hexdigest()}.{extension}"
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / name
        if not target.exists():
            partial = target.with_suffix(".partial")
            partial.write_bytes(data)
            partial.replace(target)  # atomic: readers never see half a file
        return StoredFile(name=name, url=self.url_prefix + name)

    def path_for(self, name: str) -> Path | None:
        if "/" in name or "\\" in name or name.startswith("."):
            return None
        path = self.folder / name
        return path if path.is_file() else None

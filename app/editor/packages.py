"""Content packages over HTTP: reading an uploaded zip or JSON defensively, writing exports.

A package is the format of the repository's `content/` folder: `modules/<key>.yaml` files and
the images they name (`media: media/<file>`). Uploaded zips are never extracted to disk; they
are read into memory within hard limits on entries, sizes and compression ratio.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field
from typing import Any

import yaml

from app.content.document import KEY_PATTERN, KEY_RULE

MAX_ENTRIES = 200
MAX_TOTAL_BYTES = 30 * 1024 * 1024  # uncompressed, the whole package
MAX_MODULE_FILE_BYTES = 512 * 1024
MAX_MEDIA_FILE_BYTES = 5 * 1024 * 1024
MAX_RATIO = 100  # uncompressed / compressed, for entries big enough to matter
RATIO_FLOOR_BYTES = 64 * 1024
IGNORED = ("__MACOSX/", ".DS_Store", "Thumbs.db")
_MODULE_SUFFIXES = (".yaml", ".yml", ".json")
_TRANSLITERATE = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ß": "ss"})


@dataclass
class Package:
    """The files of a package keyed by path, and how to name them back to the sender."""

    files: dict[str, bytes] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # path -> what the sender called it
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, file: str | None, message: str, field_path: str | None = None) -> None:
        self.errors.append({"file": file, "field": field_path, "message": message})


def key_from_title(title: str) -> str:
    """A package key (file name) from a title: `Kjølekjeden på lager` -> `kjolekjeden-pa-lager`."""
    text = unicodedata.normalize("NFKD", title.casefold().translate(_TRANSLITERATE))
    text = text.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:80].strip("-")
    return slug or "module"


def unsafe_path(name: str) -> str | None:
    """Why a path inside a package is refused, or None when it is a plain relative path."""
    if "\\" in name or ":" in name or "\x00" in name:
        return "Backslashes, colons and NUL are not allowed in a path."
    if name.startswith("/"):
        return "Absolute paths are not allowed."
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "Paths may not contain '..', '.' or empty segments."
    if any(ord(char) < 32 for char in name):
        return "Control characters are not allowed in a path."
    return None


def _limit_for(name: str) -> int:
    return MAX_MODULE_FILE_BYTES if name.endswith(_MODULE_SUFFIXES) else MAX_MEDIA_FILE_BYTES


def read_zip(data: bytes) -> Package:
    """The files of a zipped package, or errors naming every entry that was refused."""
    package = Package()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        package.error(None, "The body is not a readable zip file.")
        return package
    if len(entries) > MAX_ENTRIES:
        package.error(None, f"The zip has {len(entries)} entries; at most {MAX_ENTRIES} allowed.")
        return package
    declared_total = 0
    for entry in entries:
        name = entry.filename
        if problem := unsafe_path(name):
            package.error(name, problem)
            continue
        if entry.is_dir() or name.startswith(IGNORED) or name.rsplit("/", 1)[-1] in IGNORED:
            continue
        if stat.S_ISLNK(entry.external_attr >> 16):
            package.error(name, "Symbolic links are not allowed.")
            continue
        if entry.flag_bits & 0x1:
            package.error(name, "Encrypted entries are not allowed.")
            continue
        limit = _limit_for(name)
        if entry.file_size > limit:
            package.error(name, f"The file is {entry.file_size} bytes; at most {limit} allowed.")
            continue
        if entry.file_size > RATIO_FLOOR_BYTES and entry.file_size > MAX_RATIO * max(
            entry.compress_size, 1
        ):
            package.error(name, f"Compressed more than {MAX_RATIO}:1; refused as a zip bomb.")
            continue
        declared_total += entry.file_size
        if declared_total > MAX_TOTAL_BYTES:
            package.error(None, f"The package unpacks to more than {MAX_TOTAL_BYTES} bytes.")
            return package
        if name in package.files:
            package.error(name, "The zip has two entries with this name.")
            continue
        try:
            with archive.open(entry) as stream:
                # The sizes in the header may lie: never read more than the limit allows.
                content = stream.read(limit + 1)
        except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as error:
            package.error(name, f"The entry could not be read: {error}.")
            continue
        if len(content) > limit:
            package.error(name, f"The file unpacks to more than {limit} bytes.")
            continue
        package.files[name] = content
    if not package.errors:
        package.files = _without_top_folder(package.files)
        package.labels = {path: path for path in package.files}
    return package


def _without_top_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    """A zip made by compressing the `content` folder itself has everything under `content/`."""
    if not files or any(path.startswith("modules/") for path in files):
        return files
    tops = {path.split("/", 1)[0] for path in files}
    if len(tops) == 1 and all("/" in path for path in files):
        return {path.split("/", 1)[1]: data for path, data in files.items()}
    return files


def read_json(payload: Any) -> Package:
    """A JSON package: `{modules: [document, ...], files?: {path: base64}}` or one document."""
    package = Package()
    if isinstance(payload, dict) and isinstance(payload.get("modules"), list):
        documents: list[Any] = payload["modules"]
        media = payload.get("files") or {}
    elif isinstance(payload, dict) and "modules" not in payload:
        documents, media = [payload], {}
    else:
        package.error(None, "Send {modules: [...]} or a single module document.")
        return package
    if len(documents) > MAX_ENTRIES:
        package.error(None, f"At most {MAX_ENTRIES} modules in one package.")
        return package
    for index, document in enumerate(documents):
        label = f"modules[{index}]"
        if not isinstance(document, dict):
            package.error(label, "A module must be an object.")
            continue
        key = document.get("key")
        if key is None:
            # Only a module sent without a key gets one from its title; a key that was sent
            # but is invalid is refused, never silently replaced (a second import under
            # another title would then make a second module).
            title = document.get("title")
            key = key_from_title(title) if isinstance(title, str) else f"module-{index + 1}"
            document = {**document, "key": key}
        elif not (isinstance(key, str) and re.match(KEY_PATTERN, key)):
            package.error(label, KEY_RULE, "key")
            continue
        path = f"modules/{key}.json"
        if path in package.files:
            package.error(label, f"Another module in this package has the key {key!r}.", "key")
            continue
        package.files[path] = json.dumps(document, ensure_ascii=False).encode()
        package.labels[path] = label
    if not isinstance(media, dict):
        package.error("files", "files must map paths to base64 strings.")
        return package
    for path, encoded in media.items():
        if problem := unsafe_path(str(path)):
            package.error(f"files.{path}", problem)
            continue
        try:
            content = base64.b64decode(str(encoded), validate=True)
        except (binascii.Error, ValueError):
            package.error(f"files.{path}", "Not valid base64.")
            continue
        if len(content) > MAX_MEDIA_FILE_BYTES:
            package.error(f"files.{path}", f"At most {MAX_MEDIA_FILE_BYTES} bytes per file.")
            continue
        package.files[path] = content
        package.labels[path] = f"files.{path}"
    return package


def write_zip(documents: dict[str, dict[str, Any]], media: dict[str, bytes]) -> bytes:
    """A zip in the `content/` format: `modules/<key>.yaml` and `media/<name>`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, document in documents.items():
            text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
            archive.writestr(f"modules/{key}.yaml", text.encode())
        for path, data in media.items():
            archive.writestr(path, data, compress_type=zipfile.ZIP_STORED)  # already compressed
    return buffer.getvalue()


def write_json(documents: dict[str, dict[str, Any]], media: dict[str, bytes]) -> dict[str, Any]:
    """The JSON form of a package; `POST /editor/packages` takes it back as it is."""
    return {
        "modules": list(documents.values()),
        "files": {path: base64.b64encode(data).decode() for path, data in media.items()},
    }

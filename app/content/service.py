"""Publishing module versions, importing content packages, and the learner's view of a version."""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

import yaml
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.caching import LocalCache, invalidate

from app.content import quality
from app.content.document import document_hash, validate_document
from app.content.markdown import neutralise_markdown, render_html
from app.content.models import Module, ModuleVersion
from app.db import new_id
from app.errors import NotFound, Unprocessable
from app.json_provider import unstorable_text_paths
from app.media import service as media_service
from app.media.storage import MediaStorage
from app.orgs.models import Organization

IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpg", b"RIFF": "webp"}


def build_version_content(document: dict[str, Any], media_urls: dict[str, str]) -> dict[str, Any]:
    """The immutable snapshot of a version: the document with an id on every card, question
    and choice (what learners answer with) and the media resolved to urls."""
    cards = []
    for card in document["cards"]:
        media_url = card.get("url")
        if card.get("media"):
            media_url = media_urls[card["media"]]
        elif card.get("media_id"):
            media_url = media_urls.get(card["media_id"], media_url)
        cards.append(
            {"id": new_id(), "kind": card["kind"], "body": card.get("body"), "media_url": media_url}
        )
    questions = [
        {
            "id": new_id(),
            "kind": question["kind"],
            "prompt": question["prompt"],
            "explanation": question["explanation"],
            "choices": [
                {"id": new_id(), "text": choice["text"], "correct": bool(choice["correct"])}
                for choice in question["choices"]
            ],
        }
        for question in document["questions"]
    ]
    return {
        "title": document["title"],
        "summary": document.get("summary"),
        "topic": document.get("topic"),
        "locale": document["locale"],
        "estimated_minutes": document.get("estimated_minutes", 3),
        "cards": cards,
        "questions": questions,
        "translations": document.get("translations") or {},
    }


def publish_version(
    session: Session,
    *,
    module: Module,
    document: dict[str, Any],
    prerequisite_ids: list[str],
    media_urls: dict[str, str],
    published_by: str | None,
    now: datetime,
) -> ModuleVersion:
    """Freeze `document` as the module's next version and point the module at it."""
    number = (module.current_version or 0) + 1
    version = ModuleVersion(
        module_id=module.id,
        version=number,
        title=document["title"],
        summary=document.get("summary"),
        topic=document.get("topic"),
        locale=document["locale"],
        estimated_minutes=document.get("estimated_minutes", 3),
        prerequisites=prerequisite_ids,
        content=build_version_content(document, media_urls),
        source_hash=document_hash(document),
        published_at=now,
        published_by=published_by,
    )
    session.add(version)
    session.flush()
    module.current_version_id = version.id
    module.current_version = number
    module.status = "published"
    module.updated_at = now
    return version


def get_published_module(session: Session, org_id: str, module_id: str) -> Module:
    """A published module of this organisation, or 404 (drafts and archives are invisible)."""
    module = session.get(Module, module_id)
    if module is None or module.org_id != org_id or module.status != "published":
        raise NotFound("No such module.")
    return module


# module id -> (organisation, newest version) of published modules; dropped on any change to
# the module's row (publish, archive, restore), in every process.
_published_versions: LocalCache[tuple[str, str]] = LocalCache("content.published_versions", ttl=600)


def published_version_id(session: Session, org_id: str, module_id: str) -> str:
    """The newest version of a published module of this organisation, or 404 (cached; on a
    miss one small query: the module's draft, often large, is not loaded)."""

    def load() -> tuple[str, str] | None:
        row = session.execute(
            select(Module.org_id, Module.current_version_id).where(
                Module.id == module_id, Module.status == "published"
            )
        ).first()
        return (row[0], row[1]) if row is not None and row[1] is not None else None

    published = _published_versions.fetch(module_id, load)
    if published is None or published[0] != org_id:
        raise NotFound("No such module.")
    return published[1]


@event.listens_for(Session, "after_flush")
def _forget_changed_modules(session: Session, _flush_context: Any) -> None:
    changed = [obj.id for obj in (*session.dirty, *session.deleted) if isinstance(obj, Module)]
    if changed:
        invalidate(session, _published_versions, *changed)


_versions: dict[str, ModuleVersion] = {}
_MAX_CACHED_VERSIONS = 2048


def get_version(session: Session, version_id: str) -> ModuleVersion:
    """A published version, read-only. Versions never change after publishing, so each
    process keeps the ones it has read (detached from any session) and skips the query."""
    version = _versions.get(version_id)
    if version is not None:
        return version
    version = session.get(ModuleVersion, version_id)
    if version is None:
        raise NotFound("No such module version.")
    session.expunge(version)
    if len(_versions) >= _MAX_CACHED_VERSIONS:
        _versions.clear()
    _versions[version_id] = version
    return version


def pick_locale(version: ModuleVersion, wanted: list[str]) -> str:
    """The first wanted language the version has, else its own."""
    available = {version.locale, *version.content.get("translations", {}).keys()}
    return next((locale for locale in wanted if locale in available), version.locale)


def localized_module(version: ModuleVersion, locale: str) -> dict[str, Any]:
    """The version as a learner sees it in `locale`: never an answer key."""
    content = version.content
    translation = content.get("translations", {}).get(locale) if locale != version.locale else None
    cards = []
    for index, card in enumerate(content["cards"]):
        body = card.get("body")
        if translation and translation["cards"][index].get("body"):
            body = translation["cards"][index]["body"]
        cards.append(
            {
                "id": card["id"],
                "kind": card["kind"],
                "body": neutralise_markdown(body) if body else None,
                "body_html": render_html(body) if body else None,
                "media_url": card.get("media_url"),
            }
        )
    questions = []
    for index, question in enumerate(content["questions"]):
        tq = translation["questions"][index] if translation else None
        questions.append(
            {
                "id": question["id"],
                "kind": question["kind"],
                "prompt": tq["prompt"] if tq else question["prompt"],
                "choices": [
                    {"id": choice["id"], "text": tq["choices"][n]["text"] if tq else choice["text"]}
                    for n, choice in enumerate(question["choices"])
                ],
            }
        )
    return {
        "id": version.module_id,
        "version": version.version,
        "title": translation["title"] if translation else content["title"],
        "summary": (translation or {}).get("summary") or content.get("summary"),
        "locale": locale,
        "estimated_minutes": version.estimated_minutes,
        "cards": cards,
        "questions": questions,
    }


def localized_feedback(version: ModuleVersion, question_id: str, locale: str) -> str:
    """The explanation of one question in `locale`."""
    content = version.content
    for index, question in enumerate(content["questions"]):
        if question["id"] == question_id:
            translation = content.get("translations", {}).get(locale)
            if translation and locale != version.locale:
                return str(translation["questions"][index]["explanation"])
            return str(question["explanation"])
    raise NotFound("No such question.")


# --- content packages -------------------------------------------------------------------


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    # What makes content guessable or strays from the house rules; imported all the same.
    warnings: list[dict[str, Any]] = field(default_factory=list)
    modules: dict[str, Module] = field(default_factory=dict)  # key -> module, when imported


# A module file nests about eight levels (translations of a question's choices); PyYAML
# composes nested collections by recursion, so 20 000 levels ended in a RecursionError (500).
MAX_YAML_DEPTH = 64
_UNSTORABLE = "Must not contain NUL characters or unpaired surrogates."


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a few aliases can expand into billions of nodes
    (the "billion laughs"), and module files never need them. Nesting is bounded too."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in module files", event.start_mark
            )
        if self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
            if self._depth >= MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested deeper than {MAX_YAML_DEPTH} levels",
                    self.peek_event().start_mark,
                )
            self._depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1
        return super().compose_node(parent, index)


def sniff_image(data: bytes) -> str | None:
    """The image type judged by content, not by name."""
    for magic, extension in IMAGE_TYPES.items():
        if data.startswith(magic) and (extension != "webp" or data[8:12] == b"WEBP"):
            return extension
    return None


def read_package_files(files: dict[str, bytes]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Parse the module files of a package (`modules/*.yaml|yml|json`) into raw documents."""
    documents: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for path in sorted(files):
        pure = PurePosixPath(path)
        if len(pure.parts) < 2 or pure.parts[-2] != "modules":
            continue
        if pure.suffix not in (".yaml", ".yml", ".json"):
            continue
        try:
            text = files[path].decode("utf-8")
        except UnicodeDecodeError:
            errors.append({"file": path, "field": None, "message": "The file is not UTF-8."})
            continue
        try:
            raw = yaml.load(io.StringIO(text), Loader=_NoAliasLoader)
        except yaml.YAMLError as error:
            errors.append({"file": path, "field": None, "message": f"Not valid YAML: {error}"})
            continue
        unstorable = unstorable_text_paths(raw)
        if unstorable:
            errors += [
                {"file": path, "field": field, "message": _UNSTORABLE}
                for field in unstorable
            ]
            continue
        if isinstance(raw, dict):
            raw.setdefault("key", pure.stem)
            if raw["key"] != pure.stem:
                errors.append(
                    {"file": path, "field": "key", "message": "Must equal the file name."}
                )
        documents[path] = raw
    return documents, errors


def import_package(
    session: Session,
    *,
    org: Organization,
    files: dict[str, bytes],
    storage: MediaStorage,
    imported_by: str | None,
    now: datetime,
) -> ImportReport:
    """Import every module of a package into one organisation, all or nothing.

    A module is identified by its `key`; an unchanged file changes nothing, a changed one
    publishes a new version. When `errors` is not empty nothing was written.
    """
    report = ImportReport()
    raw_documents, report.errors = read_package_files(files)
    if not raw_documents and not report.errors:
        report.errors.append(
            {"file": None, "field": None, "message": "No module files under modules/."}
        )
    required = tuple(org.settings.get("required_locales", ()))
    raw_media_ids = {
        card["media_id"]
        for raw in raw_documents.values()
        if isinstance(raw, dict) and isinstance(raw.get("cards"), list)
        for card in raw["cards"]
        if isinstance(card, dict) and isinstance(card.get("media_id"), str)
    }
    own_media = media_service.media_by_id(session, org.id, raw_media_ids)
    documents: dict[str, dict[str, Any]] = {}
    for path, raw in raw_documents.items():
        document, problems = validate_document(
            raw, default_locale=org.default_locale, required_locales=required, media_ids=own_media
        )
        for field_path, messages in problems.items():
            report.errors.extend(
                {"file": path, "field": field_path, "message": m} for m in messages
            )
        if document is not None:
            documents[path] = document
    report.warnings = [warning.as_dict() for warning in quality.package_warnings(documents)]
    existing = {
        module.key: module
        for module in session.scalars(
            select(Module).where(Module.org_id == org.id, Module.key.is_not(None))
        )
    }
    known_keys = set(existing) | {doc["key"] for doc in documents.values()}
    for path, document in documents.items():
        for index, key in enumerate(document["prerequisites"]):
            if key not in known_keys:
                report.errors.append(
                    {
                        "file": path,
                        "field": f"prerequisites[{index}]",
                        "message": f"No module with key {key!r} in this package or organization.",
                    }
                )
        for index, card in enumerate(document["cards"]):
            media = card.get("media")
            if not media:
                continue
            if media not in files:
                report.errors.append(
                    {"file": path, "field": f"cards[{index}].media", "message": "No such file."}
                )
                continue
            try:
                media_service.inspect_image(files[media])
            except Unprocessable as problem:
                for message in (problem.errors or {}).get("file", [problem.detail]):
                    report.errors.append(
                        {"file": path, "field": f"cards[{index}].media", "message": message}
                    )
    if report.errors:
        return report

    modules_by_key: dict[str, Module] = {k: m for k, m in existing.items() if k}
    for document in documents.values():
        if document["key"] not in modules_by_key:
            module = Module(
                org_id=org.id,
                key=document["key"],
                draft=copy.deepcopy(document),
                created_by=imported_by,
                created_at=now,
                updated_at=now,
            )
            session.add(module)
            modules_by_key[document["key"]] = module
    session.flush()
    stored: dict[str, str] = {}  # package path -> media id
    for document in documents.values():
        module = modules_by_key[document["key"]]
        # Drafts name images by media id and prerequisites by module id, as editors write them.
        for card in document["cards"]:
            path = card.pop("media", None)
            if path:
                if path not in stored:
                    stored[path] = media_service.store_image(
                        session,
                        org_id=org.id,
                        data=files[path],
                        storage=storage,
                        uploaded_by=imported_by,
                        now=now,
                    ).id
                card["media_id"] = stored[path]
        document["prerequisites"] = [modules_by_key[k].id for k in document["prerequisites"]]
        media_ids = {card["media_id"] for card in document["cards"] if card.get("media_id")}
        media_urls = {
            media_id: media.url
            for media_id, media in media_service.media_by_id(session, org.id, media_ids).items()
        }
        current = (
            session.get(ModuleVersion, module.current_version_id)
            if module.current_version_id
            else None
        )
        report.modules[document["key"]] = module
        if current is not None and current.source_hash == document_hash(document):
            report.unchanged.append(document["key"])
            continue
        (report.updated if current else report.created).append(document["key"])
        module.draft = copy.deepcopy(document)
        if document["key"] in existing:
            module.draft_revision += 1  # an open editor's ETag is stale now
        publish_version(
            session,
            module=module,
            document=document,
            prerequisite_ids=document["prerequisites"],
            media_urls=media_urls,
            published_by=imported_by,
            now=now,
        )
    session.flush()
    return report


def read_package_folder(folder: str) -> dict[str, bytes]:
    """Every file of a package folder, keyed by its path inside the package."""
    from pathlib import Path

    root = Path(folder)
    if not root.is_dir():
        raise NotFound(f"No folder {folder}.")
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }

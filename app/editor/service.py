"""Editing modules: drafts with optimistic locking, publishing, archiving, packages, stats."""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from app.content import quality
from app.content import service as content
from app.content.document import Findings, check_module_document
from app.content.models import Module, ModuleVersion
from app.editor import packages
from app.editor.models import ModuleEvent
from app.errors import NotFound, PreconditionFailed, Unprocessable
from app.media import service as media_service
from app.media.storage import MediaStorage
from app.orgs.models import Organization, User

# What GET of a draft adds around the document; a PUT may send them back and they are ignored.
READ_ONLY_FIELDS = frozenset(
    {"id", "status", "version", "revision", "created_at", "created_by", "updated_at"}
    | {"published_at", "has_unpublished_changes", "warnings"}
)
STATUSES = ("draft", "published", "archived")


# --- reading ----------------------------------------------------------------------------


def get_module(session: Session, *, org_id: str, module_id: str, lock: bool = False) -> Module:
    """A module of this organisation in any status, or 404."""
    module = session.get(Module, module_id, with_for_update=lock or None)
    if module is None or module.org_id != org_id:
        raise NotFound("No such module.")
    return module


def draft_etag(module: Module) -> str:
    """The ETag of a draft: changes with every save."""
    return f"{module.id}.{module.draft_revision}"


def draft_view(session: Session, module: Module) -> dict[str, Any]:
    """The draft document (answer keys included) with the module's editing state around it."""
    current = (
        session.get(ModuleVersion, module.current_version_id) if module.current_version_id else None
    )
    unpublished = current is None or current.source_hash != content.document_hash(module.draft)
    return {
        **module.draft,
        "id": module.id,
        "key": module.key,
        "status": module.status,
        "version": module.current_version,
        "revision": module.draft_revision,
        "created_at": module.created_at,
        "created_by": module.created_by,
        "updated_at": module.updated_at,
        "published_at": current.published_at if current else None,
        "has_unpublished_changes": unpublished,
        "warnings": quality.module_warnings(module.draft),
    }


def list_modules(*, org_id: str, status: str | None) -> Select[Any]:
    """The organisation's modules (all statuses unless one is asked for), for paging."""
    stmt = select(Module).where(Module.org_id == org_id)
    if status:
        stmt = stmt.where(Module.status == status)
    return stmt


def versions_query(*, module: Module) -> Select[Any]:
    """The module's published versions, for paging."""
    return select(ModuleVersion).where(ModuleVersion.module_id == module.id)


def history_query(*, module: Module) -> Select[Any]:
    """The module's editing events, for paging."""
    return select(ModuleEvent).where(ModuleEvent.module_id == module.id)


def people(session: Session, user_ids: Collection[str | None]) -> dict[str, User]:
    """The users among `user_ids`, by id (who created, published or changed something)."""
    wanted = {user_id for user_id in user_ids if user_id}
    if not wanted:
        return {}
    return {user.id: user for user in session.scalars(select(User).where(User.id.in_(wanted)))}


# --- validation -------------------------------------------------------------------------


def check_document(
    session: Session, *, org: Organization, raw: Any, module: Module | None
) -> dict[str, Any]:
    """The cleaned document, or 422 listing every problem by field path."""
    document, findings = review_document(session, org=org, raw=raw, module=module)
    if findings.errors or document is None:
        raise Unprocessable(
            f"The module has {findings.error_count()} problem(s); see errors.",
            errors=findings.errors,
        )
    return document


def review_document(
    session: Session, *, org: Organization, raw: Any, module: Module | None
) -> tuple[dict[str, Any] | None, Findings]:
    """The cleaned document (None when refused) and every error found in it."""
    if isinstance(raw, dict):
        raw = {name: value for name, value in raw.items() if name not in READ_ONLY_FIELDS}
    cards = raw.get("cards") if isinstance(raw, dict) else None
    cards = cards if isinstance(cards, list) else []
    wanted_media = {
        c["media_id"] for c in cards if isinstance(c, dict) and isinstance(c.get("media_id"), str)
    }
    document, findings = check_module_document(
        raw,
        default_locale=org.default_locale,
        required_locales=tuple(org.settings.get("required_locales") or ()),
        media_ids=media_service.media_by_id(session, org.id, wanted_media),
    )
    for index, card in enumerate(cards):
        if isinstance(card, dict) and card.get("media"):
            findings.error(
                f"cards[{index}].media",
                "File paths only work inside packages; upload the image with POST /editor/media "
                "and set media_id.",
            )
    if isinstance(raw, dict):
        _check_prerequisites(session, org, raw.get("prerequisites"), module, findings.errors)
        key = raw.get("key")
        if isinstance(key, str) and "key" not in findings.errors:
            clash = session.scalar(
                select(Module.id).where(Module.org_id == org.id, Module.key == key)
            )
            if clash is not None and (module is None or clash != module.id):
                findings.error("key", "Another module of your organisation has this key.")
    return (None if findings.errors else document), findings


def _check_prerequisites(
    session: Session,
    org: Organization,
    prerequisites: Any,
    module: Module | None,
    errors: dict[str, list[str]],
) -> None:
    if not isinstance(prerequisites, list):
        return
    ids = [p for p in prerequisites if isinstance(p, str)]
    own = set(session.scalars(select(Module.id).where(Module.org_id == org.id, Module.id.in_(ids))))
    # What each published module requires: a new prerequisite must not lead back to this one.
    requires = {
        module_id: set(required or ())
        for module_id, required in session.execute(
            select(ModuleVersion.module_id, ModuleVersion.prerequisites)
            .join(Module, Module.current_version_id == ModuleVersion.id)
            .where(Module.org_id == org.id)
        )
    }
    for index, prerequisite in enumerate(prerequisites):
        path = f"prerequisites[{index}]"
        if not isinstance(prerequisite, str):
            continue
        if module is not None and prerequisite == module.id:
            errors.setdefault(path, []).append("A module cannot require itself.")
        elif prerequisite not in own:
            errors.setdefault(path, []).append("No module with this id in your organisation.")
        elif module is not None and _reaches(requires, prerequisite, module.id):
            errors.setdefault(path, []).append(
                "That module requires this one (directly or through others); "
                "a cycle would lock both."
            )


def _reaches(requires: dict[str, set[str]], start: str, target: str) -> bool:
    seen, stack = set(), [start]
    while stack:
        current = stack.pop()
        if current == target:
            return True
        if current not in seen:
            seen.add(current)
            stack.extend(requires.get(current, ()))
    return False


# --- changing ---------------------------------------------------------------------------


def _record(
    session: Session,
    module: Module,
    action: str,
    actor_id: str | None,
    now: datetime,
    version: int | None = None,
) -> None:
    session.add(
        ModuleEvent(
            org_id=module.org_id,
            module_id=module.id,
            action=action,
            actor_id=actor_id,
            revision=module.draft_revision,
            version=version,
            at=now,
        )
    )


def _unique_key(session: Session, org_id: str, title: str) -> str:
    base = packages.key_from_title(title)
    taken = set(
        session.scalars(
            select(Module.key).where(Module.org_id == org_id, Module.key.like(f"{base}%"))
        )
    )
    key, number = base, 2
    while key in taken:
        key, number = f"{base}-{number}", number + 1
    return key


def create_module(session: Session, *, user: User, raw: Any, now: datetime) -> Module:
    """A new draft from the editor's module body (validated; 422 lists every problem)."""
    document = check_document(session, org=user.organization, raw=raw, module=None)
    document["key"] = document.get("key") or _unique_key(session, user.org_id, document["title"])
    module = Module(
        org_id=user.org_id,
        key=document["key"],
        status="draft",
        draft=document,
        draft_revision=1,
        created_by=user.id,
        created_at=now,
        updated_at=now,
    )
    session.add(module)
    session.flush()
    _record(session, module, "created", user.id, now)
    return module


def check_precondition(module: Module, if_match: Collection[str] | None) -> None:
    """412 unless `if_match` names the draft's current ETag (None stands for `*`)."""
    if if_match is not None and draft_etag(module) not in if_match:
        raise PreconditionFailed(
            "The draft was changed since you loaded it; load it again and reapply your edits.",
            headers={"ETag": f'"{draft_etag(module)}"'},
        )


def replace_draft(
    session: Session,
    *,
    user: User,
    module_id: str,
    raw: Any,
    if_match: Collection[str] | None,
    now: datetime,
) -> Module:
    """Replace the draft if the caller saw the newest one (412 otherwise); nothing is published."""
    module = get_module(session, org_id=user.org_id, module_id=module_id)
    check_precondition(module, if_match)
    document = check_document(session, org=user.organization, raw=raw, module=module)
    document["key"] = document.get("key") or module.key
    # Compare-and-set on the revision: of two saves based on the same draft, one gets 412.
    saved = session.execute(
        update(Module)
        .where(Module.id == module.id, Module.draft_revision == module.draft_revision)
        .values(
            draft=document,
            key=document["key"],
            draft_revision=module.draft_revision + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if saved.rowcount != 1:  # type: ignore[attr-defined]
        raise PreconditionFailed("The draft was changed by someone else at the same moment.")
    session.refresh(module)
    _record(session, module, "updated", user.id, now)
    return module


@dataclass
class Publication:
    """What a publish gave: the version, and whether it already existed (nothing changed)."""

    version: ModuleVersion
    unchanged: bool


def publish(
    session: Session,
    *,
    user: User,
    module_id: str,
    if_match: Collection[str] | None,
    now: datetime,
) -> Publication:
    """Validate the draft again and freeze it as the module's next version; a draft equal to
    the current version publishes nothing new and answers with that version."""
    module = get_module(session, org_id=user.org_id, module_id=module_id, lock=True)
    check_precondition(module, if_match)
    document = check_document(
        session, org=user.organization, raw=copy.deepcopy(module.draft), module=module
    )
    current = (
        session.get(ModuleVersion, module.current_version_id) if module.current_version_id else None
    )
    if current is not None and current.source_hash == content.document_hash(document):
        if module.status == "archived":  # publishing has always brought a module back
            set_archived(session, user=user, module_id=module.id, archived=False, now=now)
        return Publication(version=current, unchanged=True)
    media_ids = {card["media_id"] for card in document["cards"] if card.get("media_id")}
    media_urls = {
        media_id: media.url
        for media_id, media in media_service.media_by_id(session, user.org_id, media_ids).items()
    }
    version = content.publish_version(
        session,
        module=module,
        document=document,
        prerequisite_ids=document["prerequisites"],
        media_urls=media_urls,
        published_by=user.id,
        now=now,
    )
    _record(session, module, "published", user.id, now, version=version.version)
    return Publication(version=version, unchanged=False)


def set_archived(
    session: Session, *, user: User, module_id: str, archived: bool, now: datetime
) -> Module:
    """Hide a module from new attempts (its versions and attempts stay), or bring it back."""
    module = get_module(session, org_id=user.org_id, module_id=module_id)
    if archived and module.status != "archived":
        module.status = "archived"
    elif not archived and module.status == "archived":
        module.status = "published" if module.current_version_id else "draft"
    else:
        return module  # already so: nothing to record
    module.updated_at = now
    _record(session, module, "archived" if archived else "unarchived", user.id, now)
    return module


# --- preview ------------------------------------------------------------------------------


def preview(session: Session, *, org_id: str, module_id: str, locales: list[str]) -> dict[str, Any]:
    """The draft exactly as learners will see it once published: no answer keys."""
    module = get_module(session, org_id=org_id, module_id=module_id)
    document = module.draft
    media_ids = {card["media_id"] for card in document["cards"] if card.get("media_id")}
    media_urls = {
        media_id: media.url
        for media_id, media in media_service.media_by_id(session, org_id, media_ids).items()
    }
    # A version that is never saved: the same code path learners get, on the draft.
    unsaved = ModuleVersion(
        module_id=module.id,
        version=(module.current_version or 0) + 1,
        title=document["title"],
        locale=document["locale"],
        estimated_minutes=document.get("estimated_minutes", 3),
        prerequisites=list(document.get("prerequisites") or []),
        content=content.build_version_content(document, media_urls),
        source_hash="",
    )
    learners_view = content.localized_module(unsaved, content.pick_locale(unsaved, locales))
    return {**learners_view, "warnings": quality.module_warnings(document)}


# --- packages -----------------------------------------------------------------------------


@dataclass
class PackageResult:
    created: list[dict[str, Any]]
    updated: list[dict[str, Any]]
    unchanged: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]


def import_upload(
    session: Session, *, user: User, package: packages.Package, storage: MediaStorage, now: datetime
) -> PackageResult:
    """Import a package into the caller's organisation, all or nothing: any error is a 422
    listing every problem, and nothing is kept."""
    result = (
        PackageResult([], [], [], package.errors, [])
        if package.errors
        else import_files(
            session,
            org=user.organization,
            files=package.files,
            labels=package.labels,
            storage=storage,
            imported_by=user.id,
            now=now,
        )
    )
    if result.errors:
        raise Unprocessable(
            f"The package has {len(result.errors)} problem(s); nothing was imported.",
            errors=package_errors_by_path(result.errors),
            extra={"problems": result.errors, "warnings": result.warnings},
        )
    return result


def package_errors_by_path(problems: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Package problems (`{file, field, message}`) as the `errors` of a problem, keyed by
    `<file>.<field path>` (`modules[1].questions[0].choices`); `_package` for the whole."""
    errors: dict[str, list[str]] = {}
    for problem in problems:
        path = ".".join(part for part in (problem.get("file"), problem.get("field")) if part)
        errors.setdefault(path or "_package", []).append(problem["message"])
    return errors


def import_files(
    session: Session,
    *,
    org: Organization,
    files: dict[str, bytes],
    storage: MediaStorage,
    imported_by: str | None,
    now: datetime,
    labels: dict[str, str] | None = None,
) -> PackageResult:
    """Import package files into one organisation (`content import` and uploads): every module
    created or changed gets an `imported` entry in its history. With errors nothing is written;
    `labels` names files as the sender called them."""
    report = content.import_package(
        session, org=org, files=files, storage=storage, imported_by=imported_by, now=now
    )
    labels = labels or {}
    warnings = [
        {**warning, "file": labels.get(warning["file"], warning["file"])}
        for warning in report.warnings
    ]
    if report.errors:
        errors = [
            {**error, "file": labels.get(error["file"], error["file"])} for error in report.errors
        ]
        return PackageResult([], [], [], errors, warnings)

    def summary(key: str) -> dict[str, Any]:
        module = report.modules[key]
        return {
            "id": module.id,
            "key": key,
            "title": module.draft["title"],
            "version": module.current_version,
        }

    for key in report.created + report.updated:
        _record(
            session,
            report.modules[key],
            "imported",
            imported_by,
            now,
            version=report.modules[key].current_version,
        )
    return PackageResult(
        created=[summary(key) for key in report.created],
        updated=[summary(key) for key in report.updated],
        unchanged=[summary(key) for key in report.unchanged],
        errors=[],
        warnings=warnings,
    )


def export_package(
    session: Session, *, org_id: str, module_id: str, source: str, storage: MediaStorage
) -> tuple[dict[str, dict[str, Any]], dict[str, bytes]]:
    """The module and every module it requires as package documents (by key) and media files.

    `source` is `published` (the current version; the draft if never published) or `draft`.
    """
    first = get_module(session, org_id=org_id, module_id=module_id)
    modules: dict[str, Module] = {}
    pending = [first]
    while pending:
        module = pending.pop()
        if module.id in modules:
            continue
        modules[module.id] = module
        for required in _exported_source(session, module, source)["prerequisites"]:
            other = session.get(Module, required)
            if other is not None and other.org_id == org_id:
                pending.append(other)
    keys = {
        m.id: m.key or f"{packages.key_from_title(m.draft['title'])}-{m.id[-6:].lower()}"
        for m in modules.values()
    }
    documents: dict[str, dict[str, Any]] = {}
    media: dict[str, bytes] = {}
    for module in modules.values():
        source_document = _exported_source(session, module, source)
        documents[keys[module.id]] = _package_document(
            session, module, source_document, keys, media, storage
        )
    return documents, media


def _exported_source(session: Session, module: Module, source: str) -> dict[str, Any]:
    """The document to export: a version's content turned back into a document, or the draft."""
    if source == "draft" or module.current_version_id is None:
        return module.draft
    version = content.get_version(session, module.current_version_id)
    body = version.content
    return {
        "title": body["title"],
        "summary": body.get("summary"),
        "topic": body.get("topic"),
        "locale": body["locale"],
        "estimated_minutes": body.get("estimated_minutes", 3),
        "prerequisites": list(version.prerequisites or []),
        "cards": [
            {"kind": card["kind"], "body": card.get("body"), "media_url": card.get("media_url")}
            for card in body["cards"]
        ],
        "questions": [
            {
                "kind": question["kind"],
                "prompt": question["prompt"],
                "explanation": question["explanation"],
                "choices": [
                    {"text": c["text"], "correct": c["correct"]} for c in question["choices"]
                ],
            }
            for question in body["questions"]
        ],
        "translations": body.get("translations") or {},
    }


def _package_document(
    session: Session,
    module: Module,
    source: dict[str, Any],
    keys: dict[str, str],
    media: dict[str, bytes],
    storage: MediaStorage,
) -> dict[str, Any]:
    by_id = media_service.media_by_id(
        session, module.org_id, {c["media_id"] for c in source["cards"] if c.get("media_id")}
    )
    urls = {c.get("media_url") for c in source["cards"] if c.get("media_url")}
    by_url = {
        m.url: m
        for m in media_service.media_by_name(
            session, module.org_id, {u.rsplit("/", 1)[-1] for u in urls if u}
        ).values()
    }
    cards = []
    for card in source["cards"]:
        out: dict[str, Any] = {"kind": card["kind"]}
        if card.get("body"):
            out["body"] = card["body"]
        image = by_id.get(card.get("media_id") or "") or by_url.get(card.get("media_url") or "")
        data = storage.read(image.name) if image else None
        if image is not None and data is not None:
            out["media"] = f"media/{image.name}"
            media[out["media"]] = data
        elif card.get("url") or (card.get("media_url") and card["media_url"].startswith("http")):
            out["url"] = card.get("url") or card["media_url"]
        cards.append(out)
    document: dict[str, Any] = {
        "key": keys[module.id],
        "title": source["title"],
        "summary": source.get("summary"),
        "topic": source.get("topic"),
        "locale": source["locale"],
        "estimated_minutes": source.get("estimated_minutes", 3),
        "prerequisites": [keys[p] for p in source.get("prerequisites") or [] if p in keys],
        "cards": cards,
        "questions": source["questions"],
        "translations": source.get("translations") or {},
    }
    return {name: value for name, value in document.items() if value is not None}

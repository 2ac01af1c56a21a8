"""The content editors' endpoints (role `editor`; `admin` may too)."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from sqlalchemy import select
from werkzeug.exceptions import BadRequest

from app import clock, db
from app.auth.guard import authenticated, current_user
from app.blueprints import Blueprint
from app.content import quality
from app.content.document import ModuleDocumentSchema
from app.content.models import Module, ModuleVersion
from app.editor import packages, queries, schemas, service
from app.editor.models import ModuleEvent
from app.errors import PreconditionRequired, Unprocessable, UnsupportedMediaType
from app.etags import if_match_tags, matching_etag
from app.idempotency.service import idempotent
from app.languages import caller_locales
from app.media import service as media_service
from app.media.models import Media
from app.media.storage import get_storage
from app.openapi import errors
from app.pagination import page_schema, paginate
from app.replica import reporting_session

blp = Blueprint(
    "editor",
    __name__,
    url_prefix="/api/v1/editor",
    description=(
        "Content editors (role `editor`; `admin` too). Drafts are validated on every save and "
        "again on publish; a 422 lists every problem keyed by field path. `GET` of a draft gives "
        "an ETag, `PUT` needs it back in `If-Match` (stale: 412, missing: 428). Packages use "
        "the `content/` format: `modules/<key>.yaml` plus the images their cards name "
        "(`media: media/<file>`); as JSON, `{modules: [...], files?: {path: base64}}`."
    ),
)

EDITORS = ("editor", "admin")
ModuleListPage = page_schema(schemas.ModuleListItemSchema, "EditorModulePage")
VersionPage = page_schema(schemas.VersionSchema, "ModuleVersionPage")
EventPage = page_schema(schemas.EventSchema, "ModuleEventPage")
MediaPage = page_schema(schemas.MediaSchema, "MediaPage")
_ETAG_HEADER = {"ETag": {"schema": {"type": "string"}, "description": "Send it back as If-Match"}}
_MODULE_BODY = {"required": True, "content": {"application/json": {"schema": ModuleDocumentSchema}}}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "description": "The ETag of the draft you edited, as you got it (a compressed answer's "
    "tag with its `:gzip`/`:br`/`:zstd` suffix names the same draft). Stale: 412; missing: 428.",
    "schema": {"type": "string"},
}
_draft_schema = schemas.DraftSchema()


def _json_body() -> Any:
    if not request.get_data(cache=True):
        raise BadRequest("The request body is not valid JSON: it is empty.")
    body = request.get_json()  # the app's JSON path: malformed or too deep is a 400
    if body is None:
        raise BadRequest("The request body is not valid JSON: it is null.")
    return body


def _draft_response(module: Any, status: int = 200) -> Any:
    body = _draft_schema.dump(service.draft_view(db.session(), module))
    response = current_app.response_class(
        current_app.json.dumps(body), status=status, mimetype="application/json"
    )
    response.set_etag(service.draft_etag(module))
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _if_match(required: bool) -> list[str] | None:
    """The draft ETags of If-Match, whatever coding they came in; None for `*` (or, when
    optional, for no header)."""
    if required and "If-Match" not in request.headers:
        raise PreconditionRequired(
            "Send If-Match with the ETag of the draft you edited, so no one's work is lost."
        )
    return if_match_tags()


def _people(ids: list[str | None]) -> dict[str, Any]:
    return service.people(db.session(), ids)


@blp.route("/modules")
class Modules(MethodView):
    @authenticated(blp, *EDITORS)
    @blp.arguments(schemas.ModuleListArgsSchema(), location="query")
    @blp.response(200, ModuleListPage)
    def get(self, args: dict[str, Any]) -> Any:
        """The organisation's modules in every status (drafts, published, archived)."""
        stmt = service.list_modules(org_id=current_user().org_id, status=args["status"])
        return paginate(
            db.session(),
            stmt,
            key=Module.id,
            limit=args["limit"],
            cursor=args["cursor"],
            newest_first=True,
        )

    @authenticated(blp, *EDITORS)
    @blp.doc(requestBody=_MODULE_BODY)
    @blp.response(201, schemas.ModuleCreatedSchema, headers={**_ETAG_HEADER})
    @errors(blp, 400, 422)
    def post(self) -> Any:
        """Create a draft. 422 lists every problem, each keyed by its field path."""
        module = service.create_module(
            db.session(), user=current_user(), raw=_json_body(), now=clock.now()
        )
        db.session.commit()
        body = schemas.ModuleCreatedSchema().dump(
            {
                "id": module.id,
                "status": module.status,
                "version": module.current_version,
                "warnings": quality.module_warnings(module.draft),
            }
        )
        response = current_app.response_class(
            current_app.json.dumps(body), status=201, mimetype="application/json"
        )
        response.set_etag(service.draft_etag(module))
        response.headers["Location"] = f"{blp.url_prefix}/modules/{module.id}"
        return response


@blp.route("/modules/<module_id>")
class ModuleDraft(MethodView):
    @authenticated(blp, *EDITORS)
    @blp.response(200, schemas.DraftSchema, headers={**_ETAG_HEADER})
    @blp.alt_response(304, description="Not modified (If-None-Match matched)")
    @errors(blp, 404)
    def get(self, module_id: str) -> Any:
        """The draft with its answer keys, and an ETag to send back when saving."""
        module = service.get_module(db.session(), org_id=current_user().org_id, module_id=module_id)
        matched = matching_etag(service.draft_etag(module))
        if matched:
            response = current_app.response_class(status=304)
            response.set_etag(matched)
            return response
        return _draft_response(module)

    @authenticated(blp, *EDITORS)
    @blp.doc(requestBody=_MODULE_BODY, parameters=[_IF_MATCH])
    @blp.response(200, schemas.DraftSchema, headers={**_ETAG_HEADER})
    @errors(blp, 400, 404, 412, 422, 428)
    def put(self, module_id: str) -> Any:
        """Replace the draft. Needs If-Match; read-only fields sent back (id, status...) are
        ignored. Publishing is a separate step."""
        if_match = _if_match(required=True)
        module = service.replace_draft(
            db.session(),
            user=current_user(),
            module_id=module_id,
            raw=_json_body(),
            if_match=if_match,
            now=clock.now(),
        )
        db.session.commit()
        return _draft_response(module)


@blp.route("/modules/<module_id>/publish")
class Publish(MethodView):
    @authenticated(blp, *EDITORS)
    @idempotent(blp)
    @blp.doc(parameters=[{**_IF_MATCH, "required": False}])
    @blp.response(200, schemas.PublishedSchema)
    @errors(blp, 404, 412, 422)
    def post(self, module_id: str) -> Any:
        """Validate the draft again and publish it as a new immutable version.

        A draft equal to the current version publishes nothing: the answer is that version,
        with `unchanged: true`.

        Learners who started an attempt keep being graded on their version. With If-Match,
        only the draft you saw is published; with an Idempotency-Key, a retried request
        replays the first answer instead of publishing twice.
        """
        publication = service.publish(
            db.session(),
            user=current_user(),
            module_id=module_id,
            if_match=_if_match(required=False),
            now=clock.now(),
        )
        version = publication.version
        return {
            "id": version.module_id,
            "version": version.version,
            "published_at": version.published_at,
            "published_by": version.published_by,
            "warnings": quality.module_warnings(version.content),
            "unchanged": publication.unchanged,
        }


@blp.route("/modules/<module_id>/archive")
class Archive(MethodView):
    @authenticated(blp, *EDITORS)
    @blp.response(200, schemas.StatusSchema)
    @errors(blp, 404)
    def post(self, module_id: str) -> Any:
        """Hide the module from learners and new attempts; versions and attempts are kept."""
        module = service.set_archived(
            db.session(), user=current_user(), module_id=module_id, archived=True, now=clock.now()
        )
        db.session.commit()
        return {"id": module.id, "status": module.status, "version": module.current_version}


@blp.route("/modules/<module_id>/unarchive")
class Unarchive(MethodView):
    @authenticated(blp, *EDITORS)
    @blp.response(200, schemas.StatusSchema)
    @errors(blp, 404)
    def post(self, module_id: str) -> Any:
        """Bring an archived module back (published again if it has a version)."""
        module = service.set_archived(
            db.session(), user=current_user(), module_id=module_id, archived=False, now=clock.now()
        )
        db.session.commit()
        return {"id": module.id, "status": module.status, "version": module.current_version}


@blp.route("/modules/<module_id>/versions")
class Versions(MethodView):
    @authenticated(blp, *EDITORS)
    @blp.arguments(schemas.ModuleListArgsSchema(only=("limit", "cursor")), location="query")
    @blp.response(200, VersionPage)
    @errors(blp, 404)
    def get(self, args: dict[str, Any], module_id: str) -> Any:
        """Every published version, newest first, with who published it and when."""
        session = db.session()
        module = service.get_module(session, org_id=current_user().org_id, module_id=module_id)
        page = paginate(
            session,
            service.versions_query(module=module),
            key=ModuleVersion.id,
            newest_first=True,
            **args,
        )
        who = _people([v.published_by for v in page.items])
        return {
            "items": [
                {
                    "version": v.version,
                    "title": v.title,
                    "published_at": v.published_at,
                    "published_by": who.get(v.published_by or ""),
                }
                for v in page.items
            ],
            "next_cursor": page.next_cursor,
        }


@blp.route("/modules/<module_id>/history")
class History(MethodView):
    @authenticated(blp, *EDITORS)
    @blp.arguments(schemas.ModuleListArgsSchema(only=("limit", "cursor")), location="query")
    @blp.response(200, EventPage)
    @errors(blp, 404)
    def get(self, args: dict[str, Any], module_id: str) -> Any:
        """Who created, changed, published, archived or imported the module, newest first."""
        session = db.session()
        module = service.get_module(session, org_id=current_user().org_id, module_id=module_id)
        page = paginate(
            session,
            service.history_query(module=module),
            key=ModuleEvent.id,
            newest_first=True,
            **args,
        )
        who = _people([e.actor_id for e in page.items])
        return {
            "items": [
                {
                    "id": e.id,
                    "action": e.action,
                    "at": e.at,
                    "actor": who.get(e.actor_id or ""),
                    "revision": e.revision,
                    "version": e.version,
                }
                for e in page.items
            ],
            "next_cursor": page.next_cursor,
        }


@blp.route("/modules/<module_id>/preview")
class Preview(MethodView):
    @authenticated(blp, *EDITORS)
    @blp.arguments(schemas.PreviewArgsSchema(), location="query")
    @blp.response(200, schemas.PreviewSchema)
    @errors(blp, 404)
    def get(self, args: dict[str, Any], module_id: str) -> Any:
        """The draft exactly as learners will get it (`GET /modules/{id}`), no answer keys.

        `?locale=` picks a translation; otherwise Accept-Language and the editor's own locale.
        """
        locales = [args["locale"]] if args["locale"] else caller_locales()
        return service.preview(
            db.session(), org_id=current_user().org_id, module_id=module_id, locales=locales
        )


@blp.route("/modules/<module_id>/export")
class Export(MethodView):
    @authenticated(blp, *EDITORS)
    @blp.arguments(schemas.ExportArgsSchema(), location="query")
    @blp.response(
        200,
        description="A package: zip by default; JSON with `Accept: application/json`",
        content_type="application/zip",
    )
    @errors(blp, 404)
    def get(self, args: dict[str, Any], module_id: str) -> Any:
        """The module (and the modules it requires) as a content package that any
        organisation can import with `POST /editor/packages`."""
        documents, media = service.export_package(
            db.session(),
            org_id=current_user().org_id,
            module_id=module_id,
            source=args["source"],
            storage=get_storage(),
        )
        wants_json = args["format"] == "json" or (
            args["format"] is None
            and request.accept_mimetypes.best_match(["application/zip", "application/json"])
            == "application/json"
            and request.accept_mimetypes["application/json"]
            > request.accept_mimetypes["application/zip"]
        )
        if wants_json:
            response = current_app.response_class(
                json.dumps(packages.write_json(documents, media), ensure_ascii=False),
                mimetype="application/json",
            )
        else:
            response = current_app.response_class(
                packages.write_zip(documents, media), mimetype="application/zip"
            )
            key = next(iter(documents))
            response.headers["Content-Disposition"] = f'attachment; filename="{key}.zip"'
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["Vary"] = "Accept"
        return response


_ZIP_TYPES = ("application/zip", "application/x-zip-compressed", "application/octet-stream")


@blp.route("/packages")
class Packages(MethodView):
    accepted_content_types = (*_ZIP_TYPES, "multipart/form-data", "application/json")

    @authenticated(blp, *EDITORS)
    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "{modules: [document], files?: {path: base64}} or one "
                        "module document",
                    }
                },
            },
        }
    )
    @blp.response(200, schemas.PackageReportSchema)
    @errors(blp, 400, 413, 415, 422)
    def post(self) -> Any:
        """Import a content package (zip of the `content/` format, or JSON), all or nothing.

        A module is matched by its `key` (a JSON module without one gets a key made from its
        title); an invalid key is refused. New keys are created, changed ones get a new
        version, unchanged ones are left alone. Any problem: 422 with `errors` keyed by
        `<file>.<field path>` (`modules[1].questions[0].choices`) and `problems`, the same as a
        list of `{file, field, message}`; nothing is imported.
        """
        if request.mimetype == "application/json":
            package = packages.read_json(_json_body())
        elif request.mimetype == "multipart/form-data":
            upload = request.files.get("file")
            if upload is None:
                raise Unprocessable("No file.", errors={"file": ["Upload the zip as `file`."]})
            package = packages.read_zip(upload.read())
        elif request.mimetype in _ZIP_TYPES:
            package = packages.read_zip(request.get_data())
        else:  # pragma: no cover - the 415 check before the view refuses other types
            raise UnsupportedMediaType("Send a zip or JSON.")
        session = db.session()
        # All or nothing: a refused package raises before anything is written, and the import
        # runs in a savepoint so nothing of it can outlive an error (image files it stored
        # stay behind as harmless, content-addressed orphans).
        with session.begin_nested():
            result = service.import_upload(
                session,
                user=current_user(),
                package=package,
                storage=get_storage(),
                now=clock.now(),
            )
        session.commit()
        return result


@blp.route("/media")
class MediaUpload(MethodView):
    accepted_content_types = ("multipart/form-data",)
    body_limit_setting = "MEDIA_MAX_BYTES"  # larger than MAX_BODY_BYTES: the image's own

    @authenticated(blp, *EDITORS)
    @blp.arguments(schemas.ModuleListArgsSchema(only=("limit", "cursor")), location="query")
    @blp.response(200, MediaPage)
    def get(self, args: dict[str, Any]) -> Any:
        """The organisation's uploaded images, newest first (to pick one for an image card)."""
        stmt = select(Media).where(Media.org_id == current_user().org_id)
        return paginate(db.session(), stmt, key=Media.id, newest_first=True, **args)

    @authenticated(blp, *EDITORS)
    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    )
    @blp.response(201, schemas.MediaSchema)
    @errors(blp, 413, 415, 422)
    def post(self) -> Any:
        """Upload an image (PNG, JPEG or WebP, judged by its content; MEDIA_MAX_BYTES, 5 MiB).

        Image cards name it by `media_id`; learners get `url`, which never changes content.
        """
        upload = request.files.get("file")
        if upload is None:
            raise Unprocessable("No file.", errors={"file": ["Upload the image as `file`."]})
        user = current_user()
        limit = int(current_app.config.get("MEDIA_MAX_BYTES") or media_service.MAX_IMAGE_BYTES)
        media = media_service.store_image(
            db.session(),
            org_id=user.org_id,
            data=upload.read(limit + 1),
            max_bytes=limit,
            storage=get_storage(),
            uploaded_by=user.id,
            now=clock.now(),
        )
        db.session.commit()
        return media


@blp.route("/modules/<module_id>/stats")
class Stats(MethodView):
    @authenticated(blp, *EDITORS)
    @blp.arguments(schemas.StatsArgsSchema(), location="query")
    @blp.response(200, schemas.StatsSchema)
    @errors(blp, 404)
    def get(self, args: dict[str, Any], module_id: str) -> Any:
        """Item analysis of one version (default: the current one): per question the answers,
        the correct rate and the most chosen wrong choice; completions and average score.

        Question ids are minted per version, so figures are per version; `versions` lists
        every version's totals side by side.
        """
        with reporting_session() as session:
            return queries.module_stats(
                session,
                org_id=current_user().org_id,
                module_id=module_id,
                version=args["version"],
            )

"""The learner's endpoints: modules, attempts, answers, completion and offline sync."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from sqlalchemy import select

from app import clock, db
from app.auth.guard import authenticated, current_principal, current_user
from app.blueprints import Blueprint
from app.content import service as content
from app.content.models import Module, ModuleVersion
from app.errors import flatten_validation_messages
from app.etags import matching_etag
from app.idempotency.service import idempotent
from app.languages import caller_locales
from app.learning import schemas, service
from app.openapi import errors
from app.pagination import page_schema, paginate
from app.rendered import accepts_gzip

blp = Blueprint("learning", __name__, url_prefix="/api/v1", description="Modules and attempts")

ModuleSummaryPage = page_schema(schemas.ModuleSummarySchema, "ModuleSummaryPage")


@blp.route("/modules")
class Modules(MethodView):
    @authenticated(blp)
    @blp.arguments(schemas.ModuleListArgsSchema(), location="query")
    @blp.response(200, ModuleSummaryPage)
    def get(self, args: dict[str, Any]) -> Any:
        """The published modules of my organisation, with my progress on each."""
        user = current_user()
        stmt = (
            select(ModuleVersion)
            .join(Module, Module.current_version_id == ModuleVersion.id)
            .where(Module.org_id == user.org_id, Module.status == "published")
        )
        if args.get("topic"):
            stmt = stmt.where(ModuleVersion.topic == args["topic"])
        page = paginate(
            db.session(),
            stmt,
            key=ModuleVersion.module_id,
            limit=args["limit"],
            cursor=args["cursor"],
        )
        locales = caller_locales()
        summaries = service.module_summaries(
            db.session(), user=user, versions=page.items, locales=locales, now=clock.now()
        )
        return {"items": summaries, "next_cursor": page.next_cursor}


@blp.route("/modules/<module_id>")
class ModuleById(MethodView):
    @authenticated(blp)
    @blp.response(200, schemas.ModuleSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.alt_response(304, description="Not modified (If-None-Match matched)")
    @errors(blp, 404)
    def get(self, module_id: str) -> Any:
        """A module's newest version in my language: cards, then questions (no answer key)."""
        session = db.session()
        version_id = content.published_version_id(session, current_principal().org_id, module_id)
        wanted = caller_locales()
        view = _learner_views.get(version_id, wanted)
        if view is None:
            version = content.get_version(session, version_id)
            view = _learner_views.render(version, wanted)
        # Versions never change: the ETag is known before any rendering work is done.
        matched = matching_etag(view.etag)
        if matched:
            return not_modified_response(matched)
        if accepts_gzip():
            # Compressed once per version, not per read; flask-compress leaves it alone.
            response = content_response(view.gzip_body, f"{view.etag}:gzip")
            response.headers["Content-Encoding"] = "gzip"
            response.headers["Vary"] += ", Accept-Encoding"
            return response
        return content_response(view.body, view.etag)


@dataclass(frozen=True)
class _LearnerView:
    etag: str
    body: bytes  # the JSON of ModuleSchema
    gzip_body: bytes


class _LearnerViews:
    """Rendered module bodies per (version, locale), kept per process: a version never changes,
    and rendering its Markdown and dumping it cost most of a module read's CPU."""

    max_entries = 1024

    def __init__(self) -> None:
        self._locales: dict[str, tuple[str, set[str]]] = {}  # version -> own, available
        self._views: dict[tuple[str, str], _LearnerView] = {}

    def get(self, version_id: str, wanted: list[str]) -> _LearnerView | None:
        locales = self._locales.get(version_id)
        if locales is None:
            return None
        own, available = locales
        locale = next((loc for loc in wanted if loc in available), own)
        return self._views.get((version_id, locale))

    def render(self, version: ModuleVersion, wanted: list[str]) -> _LearnerView:
        locale = content.pick_locale(version, wanted)
        body = current_app.json.dumps(
            schemas.ModuleSchema().dump(content.localized_module(version, locale))
        ).encode()
        view = _LearnerView(etag=f"{version.id}-{locale}", body=body, gzip_body=gzip.compress(body))
        if len(self._views) >= self.max_entries:
            self._views.clear()
            self._locales.clear()
        self._locales[version.id] = (
            version.locale,
            {version.locale, *version.content.get("translations", {}).keys()},
        )
        self._views[(version.id, locale)] = view
        return view


_learner_views = _LearnerViews()


def not_modified_response(etag: str) -> Any:
    response = current_app.response_class(status=304)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Accept-Language, Authorization"
    return response


def content_response(body: bytes, etag: str) -> Any:
    response = current_app.response_class(body, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Accept-Language, Authorization"
    return response


@blp.route("/modules/<module_id>/attempts")
class Attempts(MethodView):
    @authenticated(blp)
    @idempotent(blp)
    @blp.response(201, schemas.AttemptSchema)
    @errors(blp, 404, 409, 422)
    def post(self, module_id: str) -> Any:
        """Start an attempt on the module's newest version. A locked module: 409 with the reason."""
        return service.start_attempt(
            db.session(),
            user=current_user(),
            module_id=module_id,
            now=clock.now(),
            locales=caller_locales(),
        )


_answer_in = schemas.AnswerInSchema()


@blp.route("/attempts/<attempt_id>/answers")
class Answers(MethodView):
    @authenticated(blp)
    @idempotent(blp, lookup_first=False)
    @blp.arguments(_answer_in)  # an instance: webargs would build a schema per request
    @blp.response(201, schemas.FeedbackSchema)
    @errors(blp, 404, 409)
    def post(self, body: dict[str, Any], attempt_id: str) -> Any:
        """Answer one question: immediate feedback, explanation and points.

        The same question again in this attempt: 409. A question or choice not in the
        attempt's module version: 422.
        """
        return service.answer_question(
            db.session(),
            user=current_principal(),
            attempt_id=attempt_id,
            locales=caller_locales(),
            now=clock.now(),
            **body,
        )


@blp.route("/attempts/<attempt_id>/complete")
class Complete(MethodView):
    @authenticated(blp)
    @idempotent(blp)
    @blp.response(200, schemas.CompletionSchema)
    @errors(blp, 404)
    def post(self, attempt_id: str) -> Any:
        """Finish the attempt: score, pass, points. Calling it again returns the same result."""
        return service.complete_attempt(
            db.session(),
            user=current_user(),
            attempt_id=attempt_id,
            now=clock.now(),
            locale=caller_locales()[0],
        )


_event_schemas = {kind: schema() for kind, schema in schemas.OFFLINE_EVENT_SCHEMAS.items()}


def _load_event(raw: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """The event loaded by the schema of its `type`, or its problems by field path."""
    kind = raw.get("type")
    schema = _event_schemas.get(kind) if isinstance(kind, str) else None
    if schema is None:
        kinds = ", ".join(sorted(_event_schemas))
        return None, {"type": [f"Must be one of: {kinds}."]}
    try:
        return schema.load(raw), {}
    except ma.ValidationError as error:
        return None, flatten_validation_messages(error.messages, by_location=False)


@blp.route("/sync")
class Sync(MethodView):
    @authenticated(blp)
    @idempotent(blp)
    @blp.arguments(schemas.SyncInSchema())
    @blp.response(200, schemas.SyncOutSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Upload work done offline (at most 100 events). Each is applied once; a bad one is
        rejected with a readable `reason` and its `errors` by field path, and does not stop
        the others. Events are told apart by `type` (see the schemas of each)."""
        user = current_user()
        now = clock.now()
        locales = caller_locales()
        results = []
        for raw in body["events"]:
            client_id = str(raw.get("client_id", ""))
            event, problems = _load_event(raw)
            if event is None:
                results.append(service.rejected(client_id, problems))
                continue
            event["client_id"] = str(event["client_id"])
            results.append(
                service.apply_offline_attempt(
                    db.session(), user=user, event=event, now=now, locales=locales
                )
            )
        return {"results": results}

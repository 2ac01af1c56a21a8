"""Weekly paths for learners and editors, and competence requirements."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from app import clock, db
from app.auth.guard import authenticated, current_principal, current_user
from app.blueprints import Blueprint
from app.languages import caller_locales
from app.openapi import errors
from app.pagination import PageArgsSchema, page_schema, paginate
from app.paths import schemas, service
from app.paths.models import LearningPath, Requirement
from app.rendered import RenderedBodies

blp = Blueprint(
    "paths", __name__, url_prefix="/api/v1", description="Learning paths and requirements"
)

PathPage = page_schema(schemas.PathSchema, "PathPage")
RequirementPage = page_schema(schemas.RequirementSchema, "RequirementPage")


# A learner opens the week far more often than it changes.
_weeks = RenderedBodies()


def _week_response(loaded: service.LoadedWeek) -> Response:
    key = (loaded.user.id, loaded.week.week, loaded.locales)
    return _weeks.response(
        key,
        loaded.sources,
        lambda: schemas.dump_learner_week(service.render_learner_week(loaded)),
    )


@blp.route("/paths/current")
class CurrentPaths(MethodView):
    @authenticated(blp)
    @blp.response(200, schemas.LearnerWeekSchema)
    def get(self) -> Any:
        """This week's paths for me, with each module's status and my progress; includes the
        required-training path when a competence requirement is missing or expiring."""
        loaded = service.load_learner_week(
            db.session(),
            user=current_principal(),
            week=None,
            locales=caller_locales(),
            now=clock.now(),
        )
        return _week_response(loaded)


@blp.route("/paths")
class PathsOfWeek(MethodView):
    @authenticated(blp)
    @blp.arguments(schemas.WeekArgsSchema(), location="query")
    @blp.response(200, schemas.LearnerWeekSchema)
    @errors(blp, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """My paths of another week (`?week=2026-W47`); a bad week: 422 keyed `week`."""
        loaded = service.load_learner_week(
            db.session(),
            user=current_principal(),
            week=service.parse_week_arg(args["week"]),
            locales=caller_locales(),
            now=clock.now(),
        )
        return _week_response(loaded)


@blp.route("/editor/paths")
class EditorPaths(MethodView):
    @authenticated(blp, "editor", "admin")
    @blp.arguments(schemas.EditorPathListArgsSchema(), location="query")
    @blp.response(200, PathPage)
    @errors(blp, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """The organisation's scheduled paths (optionally one week's), oldest first."""
        week = service.parse_week_arg(args["week"]) if args["week"] else None
        stmt = service.scheduled_paths(org_id=current_user().org_id, week=week)
        return paginate(
            db.session(), stmt, key=LearningPath.id, limit=args["limit"], cursor=args["cursor"]
        )

    @authenticated(blp, "editor", "admin")
    @blp.arguments(schemas.PathInSchema())
    @blp.response(201, schemas.PathSchema)
    @errors(blp, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Schedule a path for a week (or an onboarding week) and an audience of departments
        (with their sub-departments) and/or roles. Modules must be published; 422 lists the bad."""
        path = service.create_path(db.session(), user=current_user(), now=clock.now(), **body)
        db.session.commit()
        return path


@blp.route("/editor/paths/<path_id>")
class EditorPathById(MethodView):
    @authenticated(blp, "editor", "admin")
    @blp.response(200, schemas.PathSchema)
    @errors(blp, 404)
    def get(self, path_id: str) -> Any:
        """One scheduled path."""
        return service.get_path(db.session(), current_user().org_id, path_id)

    @authenticated(blp, "editor", "admin")
    @blp.response(204)
    @errors(blp, 404)
    def delete(self, path_id: str) -> None:
        """Unschedule a path; completed work keeps counting."""
        service.delete_path(db.session(), org_id=current_user().org_id, path_id=path_id)
        db.session.commit()


@blp.route("/me/requirements")
class MyRequirements(MethodView):
    @authenticated(blp)
    @blp.response(200, schemas.MyRequirementsSchema)
    def get(self) -> Any:
        """The competence requirements that apply to me: valid, expiring, expired or missing."""
        items = service.my_requirements(
            db.session(), user=current_principal(), locales=caller_locales(), now=clock.now()
        )
        return {"items": items}


@blp.route("/admin/requirements")
class Requirements(MethodView):
    @authenticated(blp, "admin")
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, RequirementPage)
    def get(self, args: dict[str, Any]) -> Any:
        """The organisation's competence requirements."""
        stmt = service.requirements_of_org(current_user().org_id)
        return paginate(db.session(), stmt, key=Requirement.id, **args)

    @authenticated(blp, "admin")
    @blp.arguments(schemas.RequirementInSchema())
    @blp.response(201, schemas.RequirementSchema)
    @errors(blp, 409, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Require a module of a role and/or a department (and below), optionally renewed every
        `validity_months`. Without role and department it applies to everyone. The same
        module for the same role and department again: 409 with `existing_id`."""
        requirement = service.create_requirement(
            db.session(), user=current_user(), now=clock.now(), **body
        )
        db.session.commit()
        return requirement


@blp.route("/admin/requirements/<requirement_id>")
class RequirementById(MethodView):
    @authenticated(blp, "admin")
    @blp.response(204)
    @errors(blp, 404)
    def delete(self, requirement_id: str) -> None:
        """Drop a requirement."""
        service.delete_requirement(
            db.session(), org_id=current_user().org_id, requirement_id=requirement_id
        )
        db.session.commit()

"""`/competitions`: list, create (managers, admins) and standings."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app import clock, db
from app.auth.guard import authenticated, current_user
from app.blueprints import Blueprint
from app.competitions import schemas, service
from app.openapi import errors
from app.pagination import page_schema

blp = Blueprint(
    "competitions", __name__, url_prefix="/api/v1/competitions", description="Competitions"
)

CompetitionPage = page_schema(schemas.CompetitionSchema, "CompetitionPage")


@blp.route("")
class Competitions(MethodView):
    @authenticated(blp)
    @blp.arguments(schemas.CompetitionListArgsSchema(), location="query")
    @blp.response(200, CompetitionPage)
    @errors(blp, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """My organisation's competitions, newest first."""
        return service.list_competitions(db.session(), user=current_user(), now=clock.now(), **args)

    @authenticated(blp, "manager", "admin")
    @blp.arguments(schemas.CompetitionInSchema())
    @blp.response(201, schemas.CompetitionSchema)
    @errors(blp, 404, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Start a competition between departments I manage (any department, for an admin)."""
        now = clock.now()
        competition = service.create_competition(db.session(), user=current_user(), now=now, **body)
        db.session.commit()
        return service.summary(competition, now)


@blp.route("/<competition_id>/standings")
class Standings(MethodView):
    @authenticated(blp)
    @blp.response(200, schemas.StandingsSchema)
    @errors(blp, 404)
    def get(self, competition_id: str) -> Any:
        """The departments' standings: live while it runs, frozen once finished."""
        return service.standings(
            db.session(), user=current_user(), competition_id=competition_id, now=clock.now()
        )

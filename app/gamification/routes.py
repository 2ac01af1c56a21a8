"""My points ledger and my badges."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app import clock, db
from app.auth.guard import authenticated, current_user
from app.blueprints import Blueprint
from app.gamification import service
from app.gamification.schemas import MyBadgesSchema, PointAwardSchema
from app.languages import caller_locale, caller_locales
from app.pagination import PageArgsSchema, page_schema

blp = Blueprint("points", __name__, url_prefix="/api/v1/me", description="Points")

PointAwardPage = page_schema(PointAwardSchema, "PointAwardPage")


@blp.route("/points")
class MyPoints(MethodView):
    @authenticated(blp)
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, PointAwardPage)
    def get(self, args: dict[str, Any]) -> Any:
        """My points ledger, newest first, each reason in my language."""
        return service.my_points(db.session(), user=current_user(), locale=caller_locale(), **args)


@blp.route("/badges")
class MyBadges(MethodView):
    @authenticated(blp)
    @blp.response(200, MyBadgesSchema)
    def get(self) -> Any:
        """Badges I have earned, and those I can still earn."""
        return service.my_badges(
            db.session(), current_user(), clock.now(), locale=caller_locales()[0]
        )

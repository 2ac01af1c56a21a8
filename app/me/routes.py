"""`GET/PATCH /me`: who I am, my settings, my points, level and streak in one call."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app import clock, db
from app.auth.guard import authenticated, current_user
from app.blueprints import Blueprint
from app.gamification import service as gamification
from app.me import schemas
from app.orgs import service as orgs
from app.orgs.models import User
from app.reviews import service as reviews

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="My profile and progress")


def me_view(user: User) -> dict[str, Any]:
    now = clock.now()
    session = db.session()
    points = gamification.points_summary(session, user, now)
    level = gamification.level_of(points["total"])
    quiet = (
        {"start": user.quiet_hours_start, "end": user.quiet_hours_end}
        if user.quiet_hours_start and user.quiet_hours_end
        else None
    )
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "roles": user.roles,
        "department": user.department,
        "organization": {
            "id": user.org_id,
            "slug": user.organization.slug,
            "name": user.organization.name,
            "default_locale": user.organization.default_locale,
        },
        "locale": user.locale,
        "timezone": user.timezone or user.organization.timezone,
        "quiet_hours": quiet,
        "points": points,
        "level": {"number": level.number, "points_to_next": level.points_to_next},
        "streak": gamification.streak_of(session, user, now),
        "away_until": reviews.away_until(session, user=user, now=now),
        "leaderboard_visibility": gamification.leaderboard_visibility(session, user.id),
        "manages": orgs.departments_managed_by(session, user),
    }


@blp.route("")
class Me(MethodView):
    @authenticated(blp)
    @blp.response(200, schemas.MeSchema)
    def get(self) -> Any:
        """My profile, points, level and streak."""
        return me_view(current_user())

    @authenticated(blp)
    @blp.arguments(schemas.MePatchSchema())
    @blp.response(200, schemas.MeSchema)
    def patch(self, changes: dict[str, Any]) -> Any:
        """Change my name, language, time zone, quiet hours, away days or board visibility."""
        visibility = changes.pop("leaderboard_visibility", None)
        user = orgs.update_profile(
            db.session(), user=current_user(), changes=changes, now=clock.now()
        )
        if visibility:
            gamification.set_leaderboard_visibility(db.session(), user=user, visibility=visibility)
        db.session.commit()
        return me_view(user)

"""Identity endpoints: set-password links (the user list is `GET /admin/users`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from flask.views import MethodView

from app import clock, db
from app.auth.guard import authenticated, current_user
from app.blueprints import Blueprint
from app.identity import schemas, service
from app.openapi import errors
from app.rate_limits import Rule, client_address, limited

blp = Blueprint(
    "identity", __name__, url_prefix="/api/v1", description="Identity: sign-in, provisioning, data"
)


def _link_lifetime(purpose: str) -> timedelta:
    config = current_app.config
    if purpose == "invitation":
        return timedelta(hours=config["INVITATION_HOURS"])
    return timedelta(minutes=config["PASSWORD_RESET_MINUTES"])


def _per_ip_limit() -> str:
    return str(current_app.config["LOGIN_LIMIT_PER_IP"])


@blp.route("/admin/users/<user_id>/password-links")
class PasswordLinks(MethodView):
    @authenticated(blp, "admin")
    @blp.arguments(schemas.PasswordLinkCreateSchema())
    @blp.response(201, schemas.PasswordLinkSchema)
    @errors(blp, 404, 409)
    def post(self, body: dict[str, Any], user_id: str) -> Any:
        """A one-time set-password link (reset or invitation), shown once; older ones stop
        working. We send no e-mail: pass the token on through your own channel."""
        admin = current_user()
        link = service.create_password_link(
            db.session(),
            org_id=admin.org_id,
            user_id=user_id,
            purpose=body["purpose"],
            created_by=admin.id,
            lifetime=_link_lifetime(body["purpose"]),
            now=clock.now(),
        )
        db.session.commit()
        return link


@blp.route("/auth/set-password")
class SetPassword(MethodView):
    @limited(Rule("set-password-ip", _per_ip_limit, client_address))
    @blp.arguments(schemas.SetPasswordSchema())
    @blp.response(200, schemas.PasswordSetSchema)
    @errors(blp, 410)
    def post(self, body: dict[str, Any]) -> Any:
        """Set a password with a one-time link (no login needed); every other login ends."""
        user = service.set_password_with_link(
            db.session(), token=body["token"], password=body["password"], now=clock.now()
        )
        db.session.commit()
        return user

"""Login, token refresh and logout."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from app import clock, db
from app.auth import schemas, service
from app.blueprints import Blueprint
from app.openapi import errors
from app.rate_limits import Rule, client_address, limited, request_json_field

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Log in and out")


def _policy() -> service.TokenPolicy:
    return service.policy_from_config(current_app.config)


def _per_account_limit() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]


def _per_ip_limit() -> str:
    return current_app.config["LOGIN_LIMIT_PER_IP"]


def _account_key() -> str:
    return f"login:{request_json_field('organization')}:{request_json_field('username')}"


@blp.route("/login")
class Login(MethodView):
    @limited(
        Rule("login-ip", _per_ip_limit, client_address),
        Rule("login-account", _per_account_limit, _account_key),
    )
    @blp.arguments(schemas.LoginSchema())
    @blp.response(200, schemas.TokenPairSchema)
    @errors(blp, 401, 429)
    def post(self, body: dict[str, Any]) -> Any:
        """Log in with organisation, username and password."""
        tokens = service.login(db.session(), policy=_policy(), now=clock.now(), **body)
        db.session.commit()
        return tokens


@blp.route("/refresh")
class Refresh(MethodView):
    @limited(Rule("refresh-ip", _per_ip_limit, client_address))
    @blp.arguments(schemas.RefreshTokenSchema())
    @blp.response(200, schemas.TokenPairSchema)
    @errors(blp, 401, 429)
    def post(self, body: dict[str, Any]) -> Any:
        """Trade a refresh token for a new pair; a reused token revokes the whole login."""
        try:
            tokens = service.refresh(
                db.session(), refresh_token=body["refresh_token"], policy=_policy(), now=clock.now()
            )
        except service.RefreshTokenReused:
            db.session.commit()  # the revocation must stick even though the answer is 401
            raise
        db.session.commit()
        return tokens


@blp.route("/logout")
class Logout(MethodView):
    @blp.arguments(schemas.RefreshTokenSchema())
    @blp.response(204)
    def post(self, body: dict[str, Any]) -> None:
        """End the login of this refresh token; its access tokens stop working."""
        service.logout(db.session(), refresh_token=body["refresh_token"], now=clock.now())
        db.session.commit()

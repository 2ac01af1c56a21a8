"""Identity endpoints: set-password links, personal data export and erasure, single sign-on
(the user list is `GET /admin/users`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from authlib.common.urls import add_params_to_uri
from cryptography.fernet import MultiFernet
from flask import current_app, redirect, request, url_for
from flask.views import MethodView
from werkzeug.wrappers import Response

from app import clock, db
from app.audit import service as audit
from app.auth import schemas as auth_schemas
from app.auth.guard import authenticated, current_user
from app.auth.service import policy_from_config
from app.blueprints import Blueprint
from app.encryption import cipher_from_config
from app.errors import Unauthorized, Unprocessable
from app.identity import personal_data, rules, schemas, scim, service, sso
from app.identity.oidc import OidcClient
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
        now = clock.now()
        link = service.create_password_link(
            db.session(),
            org_id=admin.org_id,
            user_id=user_id,
            purpose=body["purpose"],
            created_by=admin.id,
            lifetime=_link_lifetime(body["purpose"]),
            now=now,
        )
        audit.record(
            db.session(),
            org_id=admin.org_id,
            actor_id=admin.id,
            action=f"user.password_link.{link.purpose}",
            target=link.user.id,
            now=now,
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


@blp.route("/me/export")
class MyData(MethodView):
    @authenticated(blp)
    @blp.response(200)
    def get(self) -> Any:
        """Everything stored about me, as JSON: profile, preferences, devices, points ledger,
        attempts with answers, badges, notifications, login records."""
        return personal_data.export_personal_data(
            db.session(), user=current_user(), now=clock.now()
        )


@blp.route("/admin/users/<user_id>/erase")
class Erase(MethodView):
    @authenticated(blp, "admin")
    @blp.response(202, schemas.ErasureSchema)
    @errors(blp, 404)
    def post(self, user_id: str) -> Any:
        """Erase a person's personal data (GDPR): names, username, devices, notifications'
        text and login records go; their points and answers stay as anonymous numbers, so
        boards and insights do not change. Done by the time it answers; recorded in the
        audit log without the erased data."""
        admin = current_user()
        now = clock.now()
        user = personal_data.erase_user(db.session(), org_id=admin.org_id, user_id=user_id, now=now)
        audit.record(
            db.session(),
            org_id=admin.org_id,
            actor_id=admin.id,
            action="user.erase",
            target=user.id,
            now=now,
        )
        db.session.commit()
        return user


def _oidc_client() -> OidcClient:
    """One per process: it keeps the providers' discovery documents and keys."""
    client: OidcClient | None = current_app.extensions.get("oidc_client")
    if client is None:
        client = OidcClient(allow_http=bool(current_app.config["OIDC_ALLOW_HTTP"]))
        current_app.extensions["oidc_client"] = client
    return client


def _cipher() -> MultiFernet:
    config = current_app.config
    return cipher_from_config(config.get("ENCRYPTION_KEYS"), config["SECRET_KEY"])


@blp.route("/admin/integrations/oidc")
class OidcIntegration(MethodView):
    @authenticated(blp, "admin")
    @blp.response(200, schemas.OidcSettingsSchema)
    @errors(blp, 404)
    def get(self) -> Any:
        """The organisation's OpenID Connect provider (the client secret never comes back)."""
        admin = current_user()
        settings = sso.get_settings(db.session(), org_id=admin.org_id)
        return sso.settings_view(settings, admin.organization)

    @authenticated(blp, "admin")
    @blp.arguments(schemas.OidcSettingsInputSchema())
    @blp.response(200, schemas.OidcSettingsSchema)
    @errors(blp, 404, 422)
    def put(self, body: dict[str, Any]) -> Any:
        """Set the provider: issuer, client id (and secret for the dashboard's web flow), the
        username claim, whether unknown people are created (in which department), and
        whether passwords stay on."""
        admin = current_user()
        now = clock.now()
        settings = sso.configure(
            db.session(),
            org=admin.organization,
            changes=body,
            cipher=_cipher(),
            allow_http=bool(current_app.config["OIDC_ALLOW_HTTP"]),
            now=now,
        )
        audit.record(
            db.session(),
            org_id=admin.org_id,
            actor_id=admin.id,
            action="oidc.configure",
            target=settings.issuer,
            details={"client_id": settings.client_id},
            now=now,
        )
        db.session.commit()
        return sso.settings_view(settings, admin.organization)


@blp.route("/auth/oidc/exchange")
class OidcExchange(MethodView):
    @limited(Rule("oidc-exchange-ip", _per_ip_limit, client_address))
    @blp.arguments(schemas.OidcExchangeSchema())
    @blp.response(200, auth_schemas.TokenPairSchema)
    @errors(blp, 401, 503)
    def post(self, body: dict[str, Any]) -> Any:
        """The phone app's sign-in: the ID token from the organisation's provider (got with
        PKCE by the app), verified fully, for the same token pair as `/auth/login`."""
        tokens = sso.sign_in_with_id_token(
            db.session(),
            organization=body["organization"],
            id_token=body["id_token"],
            client=_oidc_client(),
            policy=policy_from_config(current_app.config),
            now=clock.now(),
            login_hours=int(current_app.config["OIDC_LOGIN_HOURS"]),
        )
        db.session.commit()
        return tokens


def _callback_url() -> str:
    return url_for("identity.OidcCallback", _external=True)


@blp.route("/auth/oidc/<organization>/start")
class OidcStart(MethodView):
    @limited(Rule("oidc-start-ip", _per_ip_limit, client_address))
    @blp.arguments(schemas.OidcStartArgsSchema(), location="query")
    @blp.response(302)
    @errors(blp, 401, 422, 503)
    def get(self, args: dict[str, Any], organization: str) -> Any:
        """The dashboard's sign-in: a redirect to the organisation's provider (PKCE, state,
        nonce). The callback ends at `redirect_uri` with `oidc_code`, a one-time code that
        `POST /auth/oidc/token` trades for a token pair (or with `oidc_error`)."""
        if not rules.redirect_allowed(
            args["redirect_uri"],
            own_origin=request.host_url,
            allowed_origins=current_app.config["OIDC_REDIRECT_ORIGINS"].split(","),
        ):
            raise Unprocessable(
                "The sign-in cannot end there.",
                errors={"redirect_uri": ["Not this server nor an allowed origin."]},
            )
        url = sso.start_web_sign_in(
            db.session(),
            organization=organization,
            redirect_uri=args["redirect_uri"],
            callback_url=_callback_url(),
            client=_oidc_client(),
            now=clock.now(),
        )
        db.session.commit()
        return redirect(url, code=302)


@blp.route("/auth/oidc/callback")
class OidcCallback(MethodView):
    @blp.arguments(schemas.OidcCallbackArgsSchema(), location="query")
    @blp.response(302)
    @errors(blp, 401, 503)
    def get(self, args: dict[str, Any]) -> Any:
        """Where the provider sends the browser back; register this URL at the provider."""
        now = clock.now()
        login_state = sso.claim_login_state(db.session(), state=args["state"], now=now)
        ends_at = login_state.redirect_uri
        if args["error"] or not args["code"]:
            db.session.commit()  # the state is used up either way
            reason = args["error"] or "no_code"
            return redirect(add_params_to_uri(ends_at, [("oidc_error", reason)]))
        try:
            finished = sso.finish_web_sign_in(
                db.session(),
                login_state=login_state,
                code=args["code"],
                callback_url=_callback_url(),
                client=_oidc_client(),
                cipher=_cipher(),
                now=now,
            )
        except Unauthorized:
            # Nothing of the attempt is kept but the used-up state, so it cannot be replayed.
            db.session.rollback()
            sso.claim_login_state(db.session(), state=args["state"], now=now)
            db.session.commit()
            return redirect(add_params_to_uri(ends_at, [("oidc_error", "refused")]))
        db.session.commit()
        response: Response = redirect(
            add_params_to_uri(finished.redirect_uri, [("oidc_code", finished.code)])
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


@blp.route("/auth/oidc/token")
class OidcSignInCode(MethodView):
    @limited(Rule("oidc-token-ip", _per_ip_limit, client_address))
    @blp.arguments(schemas.SignInCodeSchema())
    @blp.response(200, auth_schemas.TokenPairSchema)
    @errors(blp, 401)
    def post(self, body: dict[str, Any]) -> Any:
        """Trade the one-time `oidc_code` of a finished web sign-in for a token pair (once,
        within a minute)."""
        tokens = sso.redeem_sign_in_code(
            db.session(),
            code=body["code"],
            policy=policy_from_config(current_app.config),
            now=clock.now(),
            login_hours=int(current_app.config["OIDC_LOGIN_HOURS"]),
        )
        db.session.commit()
        return tokens


@blp.route("/admin/integrations/scim/token")
class ScimTokens(MethodView):
    @authenticated(blp, "admin")
    @blp.response(201, schemas.ScimTokenIssuedSchema)
    def post(self) -> Any:
        """A new bearer token for SCIM 2.0 at `/scim/v2`, shown once (only its hash is kept).
        Give it to the HR system; revoke it with `DELETE .../scim/tokens/{id}`."""
        admin = current_user()
        now = clock.now()
        issued = scim.create_token(db.session(), org_id=admin.org_id, created_by=admin.id, now=now)
        audit.record(
            db.session(),
            org_id=admin.org_id,
            actor_id=admin.id,
            action="scim.token.create",
            target=issued.id,
            now=now,
        )
        db.session.commit()
        return issued


@blp.route("/admin/integrations/scim/tokens")
class ScimTokenList(MethodView):
    @authenticated(blp, "admin")
    @blp.response(200, schemas.ScimTokenListSchema)
    def get(self) -> Any:
        """The organisation's SCIM tokens (never the tokens themselves)."""
        return {"items": scim.list_tokens(db.session(), org_id=current_user().org_id)}


@blp.route("/admin/integrations/scim/tokens/<token_id>")
class ScimTokenById(MethodView):
    @authenticated(blp, "admin")
    @blp.response(204)
    @errors(blp, 404)
    def delete(self, token_id: str) -> None:
        """Revoke a SCIM token: it stops working at once."""
        admin = current_user()
        now = clock.now()
        scim.revoke_token(db.session(), org_id=admin.org_id, token_id=token_id, now=now)
        audit.record(
            db.session(),
            org_id=admin.org_id,
            actor_id=admin.id,
            action="scim.token.revoke",
            target=token_id,
            now=now,
        )
        db.session.commit()

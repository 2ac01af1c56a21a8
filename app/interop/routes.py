"""xAPI connection (admins), badge credentials (learners), and the public issuer documents."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView

from app import clock, db
from app.auth.guard import authenticated, current_user
from app.blueprints import Blueprint
from app.interop import credentials, schemas, service
from app.languages import caller_locales
from app.openapi import errors

admin_blp = Blueprint(
    "interop_admin", __name__, url_prefix="/api/v1/admin", description="Learning records out"
)
me_blp = Blueprint(
    "credentials", __name__, url_prefix="/api/v1/me", description="Badge credentials"
)
public_blp = Blueprint(
    "issuers", __name__, url_prefix="/api/v1/orgs", description="Open Badges issuers (public)"
)

JWT_TYPE = "application/vc+jwt"


@admin_blp.route("/integrations/xapi")
class XapiIntegration(MethodView):
    @authenticated(admin_blp, "admin")
    @admin_blp.response(200, schemas.XapiStatusSchema)
    def get(self) -> Any:
        """The LRS connection (never its password) and how delivery goes."""
        return service.status(db.session(), org_id=current_user().org_id)

    @authenticated(admin_blp, "admin")
    @admin_blp.arguments(schemas.XapiConfigSchema())
    @admin_blp.response(200, schemas.XapiConfigOutSchema)
    @errors(admin_blp, 422)
    def put(self, body: dict[str, Any]) -> Any:
        """Set the organisation's LRS (the password is stored encrypted, never returned)."""
        integration = service.configure(
            db.session(),
            org_id=current_user().org_id,
            endpoint=body["endpoint"],
            username=body["username"],
            password=body.get("password"),
            enabled=body["enabled"],
            now=clock.now(),
        )
        db.session.commit()
        return integration


@admin_blp.route("/integrations/xapi/test")
class XapiTest(MethodView):
    @authenticated(admin_blp, "admin")
    @admin_blp.response(200, schemas.XapiTestSchema)
    @errors(admin_blp, 422, 502)
    def post(self) -> Any:
        """Ask the LRS for one statement; 502 with what it answered when that fails."""
        return service.test_connection(db.session(), org_id=current_user().org_id)


@admin_blp.route("/credentials/<earned_badge_id>/revoke")
class RevokeCredential(MethodView):
    @authenticated(admin_blp, "admin")
    @admin_blp.arguments(schemas.RevokeSchema())
    @admin_blp.response(200, schemas.RevokedSchema)
    @errors(admin_blp, 404)
    def post(self, body: dict[str, Any], earned_badge_id: str) -> Any:
        """Revoke a badge credential (a wrongly granted badge): verifiers then refuse it."""
        result = credentials.revoke(
            db.session(),
            org_id=current_user().org_id,
            earned_badge_id=earned_badge_id,
            reason=body.get("reason"),
            now=clock.now(),
        )
        db.session.commit()
        return result


@admin_blp.route("/credentials/keys/rotate")
class RotateSigningKey(MethodView):
    @authenticated(admin_blp, "admin")
    @admin_blp.response(200, schemas.SigningKeySchema)
    def post(self) -> Any:
        """A new signing key for credentials; the old one stays published for verification."""
        key = credentials.rotate_key(db.session(), org_id=current_user().org_id, now=clock.now())
        db.session.commit()
        return key


@me_blp.route("/badges/<code>/credential")
class MyCredential(MethodView):
    @authenticated(me_blp)
    @me_blp.arguments(schemas.CredentialArgsSchema(), location="query")
    @me_blp.response(200, schemas.CredentialSchema)
    @errors(me_blp, 404, 410)
    def get(self, args: dict[str, Any], code: str) -> Any:
        """My badge as an Open Badges 3.0 credential and its VC-JWT
        (`Accept: application/vc+jwt`: the JWT alone)."""
        user = current_user()
        answer = credentials.my_credential(
            db.session(),
            user=user,
            code=code,
            period=args.get("period"),
            locale=caller_locales()[0],
            now=clock.now(),
        )
        db.session.commit()  # a first credential makes the organisation's key
        if request.accept_mimetypes.best_match(["application/json", JWT_TYPE]) == JWT_TYPE:
            return Response(answer["jwt"], mimetype=JWT_TYPE)
        return answer


@public_blp.route("/<slug>/issuer")
class Issuer(MethodView):
    @public_blp.response(200)
    @errors(public_blp, 404)
    def get(self, slug: str) -> Any:
        """The organisation's Open Badges issuer profile (no login)."""
        return credentials.issuer_profile(db.session(), slug=slug)


@public_blp.route("/<slug>/jwks.json")
class Jwks(MethodView):
    @public_blp.response(200)
    @errors(public_blp, 404)
    def get(self, slug: str) -> Any:
        """The public keys that verify the organisation's credentials (retired ones too)."""
        return credentials.jwks(db.session(), slug=slug)


@public_blp.route("/<slug>/revocations")
class Revocations(MethodView):
    @public_blp.response(200)
    @errors(public_blp, 404)
    def get(self, slug: str) -> Any:
        """The organisation's revoked credentials (the `1EdTechRevocationList` status)."""
        return credentials.revocation_list(db.session(), slug=slug)

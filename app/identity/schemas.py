"""Identity over the wire: the user list, set-password links."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.identity.models import LINK_PURPOSES
from app.orgs.schemas import AdminUserSchema
from app.pagination import PageArgsSchema


class UserListArgsSchema(PageArgsSchema):
    q = ma.fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Part of the username or display name (any case)"},
    )
    department_id = ma.fields.String(
        load_default=None,
        validate=validate.Length(max=26),
        metadata={"description": "This department and every department below it"},
    )
    active = ma.fields.Boolean(load_default=None)


class UserListingSchema(AdminUserSchema):
    last_login_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "The latest sign-in (any method)"}
    )
    never_signed_in = ma.fields.Boolean()
    erased_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "Set when the person's data was erased"}
    )


class PasswordLinkCreateSchema(ma.Schema):
    purpose = ma.fields.String(
        load_default="reset",
        validate=validate.OneOf(LINK_PURPOSES),
        metadata={"description": "`reset`: short-lived; `invitation`: for a first sign-in"},
    )


class PasswordLinkSchema(ma.Schema):
    token = ma.fields.String(
        metadata={"description": "Shown once; give it to the person over your own channel"}
    )
    purpose = ma.fields.String()
    expires_at = ma.fields.DateTime()
    user_id = ma.fields.Function(lambda link: link.user.id)
    username = ma.fields.Function(lambda link: link.user.username)
    organization = ma.fields.Function(lambda link: link.user.organization.slug)


class SetPasswordSchema(ma.Schema):
    token = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = ma.fields.String(required=True, validate=validate.Length(min=8, max=200))


class PasswordSetSchema(ma.Schema):
    organization = ma.fields.Function(lambda user: user.organization.slug)
    username = ma.fields.String()


class ErasureSchema(ma.Schema):
    id = ma.fields.String()
    erased_at = ma.fields.DateTime()


class OidcSettingsInputSchema(ma.Schema):
    issuer = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "Exactly as the provider's tokens name it (`iss`)"},
    )
    client_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))
    client_secret = ma.fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=2000),
        metadata={
            "description": "For the dashboard's web flow; stored encrypted, never "
            "returned. Left out: the stored one is kept; null: removed"
        },
    )
    username_claim = ma.fields.String(
        load_default="preferred_username",
        validate=validate.Length(min=1, max=100),
        metadata={"description": "The ID-token claim that holds the username"},
    )
    create_users = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Create an account for an unknown person (else refuse)"},
    )
    default_department_id = ma.fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=26)
    )
    enabled = ma.fields.Boolean(load_default=True)
    passwords_enabled = ma.fields.Boolean(
        metadata={"description": "false: only admins may still sign in with a password"}
    )


class OidcSettingsSchema(ma.Schema):
    issuer = ma.fields.String()
    client_id = ma.fields.String()
    has_client_secret = ma.fields.Boolean()
    username_claim = ma.fields.String()
    create_users = ma.fields.Boolean()
    default_department_id = ma.fields.String(allow_none=True)
    enabled = ma.fields.Boolean()
    passwords_enabled = ma.fields.Boolean()
    updated_at = ma.fields.DateTime()


class OidcExchangeSchema(ma.Schema):
    organization = ma.fields.String(required=True, validate=validate.Length(min=1, max=63))
    id_token = ma.fields.String(required=True, validate=validate.Length(min=1, max=20_000))


class OidcStartArgsSchema(ma.Schema):
    redirect_uri = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={
            "description": "Where the sign-in ends: a path on this server, or a page "
            "of this server's origin or of one in `OIDC_REDIRECT_ORIGINS`"
        },
    )


class OidcCallbackArgsSchema(ma.Schema):
    state = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    code = ma.fields.String(load_default=None, validate=validate.Length(min=1, max=4000))
    error = ma.fields.String(load_default=None, validate=validate.Length(max=200))

    class Meta:
        unknown = ma.EXCLUDE  # providers add their own (session_state, iss, scope...)


class SignInCodeSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


class ScimTokenIssuedSchema(ma.Schema):
    token = ma.fields.String(
        metadata={"description": "Shown once: the HR system's bearer token for /scim/v2"}
    )
    id = ma.fields.String()
    created_at = ma.fields.DateTime()


class ScimTokenSchema(ma.Schema):
    id = ma.fields.String()
    created_at = ma.fields.DateTime()
    revoked_at = ma.fields.DateTime(allow_none=True)


class ScimTokenListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ScimTokenSchema))

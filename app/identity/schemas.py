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

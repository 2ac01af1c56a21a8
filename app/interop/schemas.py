"""xAPI connections and Open Badges credentials over the wire."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate


class XapiConfigSchema(ma.Schema):
    endpoint = ma.fields.String(
        required=True,
        validate=validate.Length(min=8, max=480),
        metadata={"description": "The LRS's xAPI base URL (statements are POSTed below it)"},
    )
    username = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = ma.fields.String(
        load_only=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "Required the first time; omitted: the stored one is kept"},
    )
    enabled = ma.fields.Boolean(load_default=True)


class XapiConfigOutSchema(ma.Schema):
    endpoint = ma.fields.String(allow_none=True)
    username = ma.fields.String(allow_none=True)
    enabled = ma.fields.Boolean()


class FailedStatementSchema(ma.Schema):
    statement_id = ma.fields.String(allow_none=True)
    verb = ma.fields.String(allow_none=True)
    error = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()


class XapiStatusSchema(XapiConfigOutSchema):
    pending = ma.fields.Integer()
    delivered = ma.fields.Integer()
    failed = ma.fields.Integer()
    last_error = ma.fields.String(allow_none=True)
    last_delivered_at = ma.fields.DateTime(allow_none=True)
    failed_statements = ma.fields.List(
        ma.fields.Nested(FailedStatementSchema),
        metadata={"description": "The newest statements the LRS refused, with its answer"},
    )


class XapiTestSchema(ma.Schema):
    ok = ma.fields.Boolean()
    lrs_status = ma.fields.Integer()


class CredentialArgsSchema(ma.Schema):
    period = ma.fields.String(
        validate=validate.Length(max=40),
        metadata={"description": "Which award of a repeatable badge (a week); default newest"},
    )


class CredentialSchema(ma.Schema):
    credential = ma.fields.Dict(metadata={"description": "The OpenBadgeCredential (JSON-LD)"})
    jwt = ma.fields.String(metadata={"description": "The same credential signed as a VC-JWT"})


class RevokeSchema(ma.Schema):
    reason = ma.fields.String(validate=validate.Length(max=500), allow_none=True)


class RevokedSchema(ma.Schema):
    credential_id = ma.fields.String()
    revoked_at = ma.fields.DateTime()
    reason = ma.fields.String(allow_none=True)


class SigningKeySchema(ma.Schema):
    kid = ma.fields.String()
    algorithm = ma.fields.String()
    created_at = ma.fields.DateTime()

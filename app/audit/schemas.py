"""The audit trail over the wire."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.pagination import PageArgsSchema


class AuditArgsSchema(PageArgsSchema):
    action = ma.fields.String(validate=validate.Length(max=80), load_default=None)
    actor_id = ma.fields.String(validate=validate.Length(max=26), load_default=None)


class AuditEventSchema(ma.Schema):
    id = ma.fields.String()
    actor_id = ma.fields.String(allow_none=True)
    action = ma.fields.String()
    target = ma.fields.String(allow_none=True)
    details = ma.fields.Dict()
    at = ma.fields.AwareDateTime()

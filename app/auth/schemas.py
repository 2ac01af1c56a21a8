from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.orgs.schemas import UserSchema


class LoginSchema(ma.Schema):
    organization = ma.fields.String(required=True, validate=validate.Length(min=1, max=63))
    username = ma.fields.String(required=True, validate=validate.Length(min=1, max=150))
    password = ma.fields.String(required=True, validate=validate.Length(min=1, max=1024))


class RefreshTokenSchema(ma.Schema):
    refresh_token = ma.fields.String(required=True, validate=validate.Length(min=1, max=512))


class TokenPairSchema(ma.Schema):
    access_token = ma.fields.String()
    refresh_token = ma.fields.String()
    token_type = ma.fields.Constant("Bearer")
    expires_in = ma.fields.Integer(metadata={"description": "Seconds the access token lives"})
    user = ma.fields.Nested(UserSchema)

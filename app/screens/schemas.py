"""What goes over the wire for store screens."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate


class ScreenInSchema(ma.Schema):
    department_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=26))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))


class ScreenSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    department_id = ma.fields.String()
    created_at = ma.fields.DateTime()


class CreatedScreenSchema(ScreenSchema):
    url = ma.fields.String(
        metadata={
            "description": "The secret link that opens the screen without a login. "
            "Shown only here: it is stored hashed and cannot be read back."
        }
    )

from __future__ import annotations

import marshmallow as ma


class PointAwardSchema(ma.Schema):
    id = ma.fields.String()
    points = ma.fields.Integer()
    reason = ma.fields.String()
    created_at = ma.fields.DateTime(attribute="earned_at")
    module_id = ma.fields.String(allow_none=True)

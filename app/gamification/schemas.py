from __future__ import annotations

import marshmallow as ma


class PointAwardSchema(ma.Schema):
    id = ma.fields.String()
    points = ma.fields.Integer()
    reason = ma.fields.String()
    created_at = ma.fields.DateTime(attribute="earned_at")
    module_id = ma.fields.String(allow_none=True)


class EarnedBadgeSchema(ma.Schema):
    code = ma.fields.String()
    title = ma.fields.String()
    earned_at = ma.fields.String()
    period = ma.fields.String(
        allow_none=True, metadata={"description": "the week or competition it was earned for"}
    )


class AvailableBadgeSchema(ma.Schema):
    code = ma.fields.String()
    title = ma.fields.String()
    description = ma.fields.String()


class MyBadgesSchema(ma.Schema):
    earned = ma.fields.List(ma.fields.Nested(EarnedBadgeSchema))
    available = ma.fields.List(ma.fields.Nested(AvailableBadgeSchema))

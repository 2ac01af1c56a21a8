"""What the boards look like on the wire."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

PERIOD_HELP = "2026-W48 for a week, 2026-11 for a month, all for all_time; default: the current one"


class UserBoardArgsSchema(ma.Schema):
    scope = ma.fields.String(
        load_default="department", validate=validate.OneOf(["department", "organization"])
    )
    window = ma.fields.String(
        load_default="week", validate=validate.OneOf(["week", "month", "all_time"])
    )
    period = ma.fields.String(
        load_default=None, validate=validate.Length(max=10), metadata={"description": PERIOD_HELP}
    )
    limit = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    department_id = ma.fields.String(
        load_default=None,
        validate=validate.Length(max=26),
        metadata={"description": "scope=department: a department I manage (default: my own)"},
    )


class DepartmentBoardArgsSchema(ma.Schema):
    window = ma.fields.String(
        load_default="week", validate=validate.OneOf(["week", "month", "all_time"])
    )
    period = ma.fields.String(
        load_default=None, validate=validate.Length(max=10), metadata={"description": PERIOD_HELP}
    )
    metric = ma.fields.String(
        load_default="total", validate=validate.OneOf(["total", "per_member"])
    )
    limit = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    parent_id = ma.fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=26),
        metadata={
            "description": "rank this department's sub-departments, each counting everything "
            "below it (e.g. the stores of a region); default: the departments without "
            "sub-departments"
        },
    )


class BoardUserSchema(ma.Schema):
    id = ma.fields.String(
        allow_none=True, metadata={"description": "null when the learner shows as a colleague"}
    )
    display_name = ma.fields.String()
    anonymous = ma.fields.Boolean()


class UserEntrySchema(ma.Schema):
    rank = ma.fields.Integer()
    user = ma.fields.Nested(BoardUserSchema)
    score = ma.fields.Integer()


class MyPlaceSchema(ma.Schema):
    rank = ma.fields.Integer()
    score = ma.fields.Integer()


class UserBoardSchema(ma.Schema):
    scope = ma.fields.String()
    window = ma.fields.String()
    period = ma.fields.String()
    entries = ma.fields.List(ma.fields.Nested(UserEntrySchema))
    me = ma.fields.Nested(MyPlaceSchema, allow_none=True)


class ParentDepartmentSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()


class BoardDepartmentSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    parent = ma.fields.Nested(
        ParentDepartmentSchema,
        allow_none=True,
        metadata={"description": "the department above it (names repeat across stores)"},
    )


class DepartmentEntrySchema(ma.Schema):
    rank = ma.fields.Integer()
    department = ma.fields.Nested(BoardDepartmentSchema)
    score = ma.fields.Raw(
        metadata={"type": "number", "description": "points, or points per active member"}
    )
    points = ma.fields.Integer(metadata={"description": "earned in it and below it"})
    members = ma.fields.Integer(
        metadata={"description": "active members, in it and below it (0: per_member divides by 1)"}
    )


class DepartmentBoardSchema(ma.Schema):
    window = ma.fields.String()
    period = ma.fields.String()
    metric = ma.fields.String()
    parent_id = ma.fields.String(allow_none=True)
    entries = ma.fields.List(ma.fields.Nested(DepartmentEntrySchema))
    mine = ma.fields.Nested(DepartmentEntrySchema, allow_none=True)

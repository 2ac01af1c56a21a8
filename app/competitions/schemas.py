"""Competitions on the wire."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.fields import Moment
from app.pagination import PageArgsSchema


class CompetitionListArgsSchema(PageArgsSchema):
    status = ma.fields.String(
        load_default=None, validate=validate.OneOf(["active", "upcoming", "finished"])
    )


class CompetitionInSchema(ma.Schema):
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    starts_at = Moment(required=True)
    ends_at = Moment(required=True)
    metric = ma.fields.String(required=True, validate=validate.OneOf(["total", "per_member"]))
    department_ids = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=26)),
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "default: every department I may act for"},
    )


class CompetitionSchema(ma.Schema):
    id = ma.fields.String()
    title = ma.fields.String()
    starts_at = ma.fields.DateTime()
    ends_at = ma.fields.DateTime()
    metric = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["upcoming", "active", "finished"]})
    department_ids = ma.fields.List(ma.fields.String())
    winner_department_id = ma.fields.String(allow_none=True)


class StandingDepartmentSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()


class StandingSchema(ma.Schema):
    rank = ma.fields.Integer()
    department = ma.fields.Nested(StandingDepartmentSchema)
    score = ma.fields.Raw(metadata={"type": "number"})
    points = ma.fields.Integer()
    members = ma.fields.Integer()
    reached_at = ma.fields.String(allow_none=True)


class StandingsSchema(ma.Schema):
    competition = ma.fields.Nested(CompetitionSchema)
    entries = ma.fields.List(ma.fields.Nested(StandingSchema))

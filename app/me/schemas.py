from __future__ import annotations

from zoneinfo import available_timezones

import marshmallow as ma
from marshmallow import validate

from app.fields import Day
from app.learning.schemas import LevelSchema, StreakSchema
from app.orgs.schemas import DepartmentRefSchema

KNOWN_TIMEZONES = frozenset(available_timezones())


def known_timezone(name: str) -> None:
    """An IANA zone, checked here rather than listed as an enum: the list of ~600 names made the
    OpenAPI document unusable for client generators (two names collide as identifiers)."""
    if name not in KNOWN_TIMEZONES:
        raise ma.ValidationError(f"Unknown time zone {name!r}; use an IANA name like Europe/Oslo.")


HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="Use HH:MM, 24-hour.")


class QuietHoursSchema(ma.Schema):
    start = ma.fields.String(required=True, validate=HHMM)
    end = ma.fields.String(required=True, validate=HHMM)


class PointsSchema(ma.Schema):
    total = ma.fields.Integer()
    this_week = ma.fields.Integer()


class MeSchema(ma.Schema):
    id = ma.fields.String()
    username = ma.fields.String()
    display_name = ma.fields.String()
    roles = ma.fields.List(ma.fields.String())
    department = ma.fields.Nested(DepartmentRefSchema, allow_none=True)
    organization = ma.fields.Dict()
    locale = ma.fields.String(allow_none=True)
    timezone = ma.fields.String()
    quiet_hours = ma.fields.Nested(QuietHoursSchema, allow_none=True)
    points = ma.fields.Nested(PointsSchema)
    level = ma.fields.Nested(LevelSchema)
    streak = ma.fields.Nested(StreakSchema)
    away_until = Day(
        allow_none=True, metadata={"description": "Reviews paused until this day (vacation)"}
    )
    leaderboard_visibility = ma.fields.String(metadata={"enum": ["everyone", "department"]})
    manages = ma.fields.List(
        ma.fields.Nested(DepartmentRefSchema),
        metadata={
            "description": "The departments I manage (each with everything below it, as in "
            "/insights); empty unless I am a manager"
        },
    )


class MePatchSchema(ma.Schema):
    display_name = ma.fields.String(validate=validate.Length(min=1, max=200))
    locale = ma.fields.String(validate=validate.OneOf(["nb", "nn", "en"]), allow_none=True)
    timezone = ma.fields.String(
        validate=known_timezone,
        metadata={"description": "An IANA time zone name", "example": "Europe/Oslo"},
    )
    quiet_hours = ma.fields.Nested(QuietHoursSchema, allow_none=True)
    away_until = Day(
        allow_none=True,
        metadata={"description": "Away until this day: reviews pause and resume; null ends it"},
    )
    leaderboard_visibility = ma.fields.String(
        validate=validate.OneOf(["everyone", "department"]),
        metadata={"description": "department: outside my department I show as 'A colleague'"},
    )

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.fields import Moment
from app.notifications.messages import TYPES
from app.notifications.models import PLATFORMS
from app.pagination import PageArgsSchema


class DeviceRegisterSchema(ma.Schema):
    token = ma.fields.String(required=True, validate=validate.Length(min=1, max=1024))
    platform = ma.fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    app_version = ma.fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=64)
    )


class DeviceSchema(ma.Schema):
    installation_id = ma.fields.String()
    platform = ma.fields.String()
    app_version = ma.fields.String(allow_none=True)
    created_at = Moment()
    last_seen_at = Moment()


class TypePreferenceSchema(ma.Schema):
    type = ma.fields.String()
    enabled = ma.fields.Boolean()
    description = ma.fields.String()


class QuietHoursOutSchema(ma.Schema):
    start = ma.fields.String()
    end = ma.fields.String()


class PreferencesSchema(ma.Schema):
    types = ma.fields.List(ma.fields.Nested(TypePreferenceSchema))
    locale = ma.fields.String(metadata={"description": "Change through PATCH /me"})
    timezone = ma.fields.String(metadata={"description": "Change through PATCH /me"})
    quiet_hours = ma.fields.Nested(
        QuietHoursOutSchema,
        allow_none=True,
        metadata={"description": "Mine (PATCH /me), else the organisation's default"},
    )
    daily_cap = ma.fields.Integer(metadata={"description": "Pushes per day at most"})


class PreferencesPatchSchema(ma.Schema):
    types = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.OneOf(sorted(TYPES))),
        values=ma.fields.Boolean(),
        required=True,
        metadata={"description": 'type -> pushed or not, e.g. {"streak_at_risk": false}'},
    )


class InboxArgsSchema(PageArgsSchema):
    unread = ma.fields.Boolean(load_default=False, metadata={"description": "Only unread ones"})


class NotificationSchema(ma.Schema):
    id = ma.fields.String()
    type = ma.fields.String()
    title = ma.fields.String()
    body = ma.fields.String()
    data = ma.fields.Dict()
    created_at = Moment()
    read_at = Moment(allow_none=True)


class NudgeSchema(ma.Schema):
    user_ids = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=26)),
        validate=validate.Length(max=1000),
    )
    department_id = ma.fields.String(validate=validate.Length(min=1, max=26))
    message = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))
    only_follow_up = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Only those who need follow-up this week (see /insights)"},
    )

    @ma.validates_schema
    def needs_recipients(self, data: dict[str, object], **_: object) -> None:
        if not data.get("user_ids") and not data.get("department_id"):
            raise ma.ValidationError("Give user_ids or department_id.", "user_ids")


class NudgeSkipSchema(ma.Schema):
    user_id = ma.fields.String()
    reason = ma.fields.String(metadata={"description": "already_nudged_today, inactive"})


class NudgeRecipientSchema(ma.Schema):
    id = ma.fields.String()
    display_name = ma.fields.String()


class NudgeResultSchema(ma.Schema):
    recipients = ma.fields.List(
        ma.fields.Nested(NudgeRecipientSchema),
        metadata={"description": "Who the nudge was queued for"},
    )
    queued = ma.fields.List(ma.fields.String())
    skipped = ma.fields.List(ma.fields.Nested(NudgeSkipSchema))

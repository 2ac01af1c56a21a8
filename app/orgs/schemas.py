"""Users and departments over the wire."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.fields import Day
from app.orgs.models import ROLES

USERNAME = validate.Regexp(
    r"^[A-Za-z0-9._@+-]{1,150}$", error="Letters, digits and . _ @ + - only, at most 150."
)


class DepartmentRefSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()


class UserRefSchema(ma.Schema):
    id = ma.fields.String()
    display_name = ma.fields.String()


class UserSchema(ma.Schema):
    """The `user` object of login and admin answers."""

    id = ma.fields.String()
    username = ma.fields.String()
    display_name = ma.fields.String()
    roles = ma.fields.List(ma.fields.String())
    department = ma.fields.Nested(DepartmentRefSchema, allow_none=True)


_STARTED_ON_DOC = {
    "description": "First working day; onboarding paths count weeks from it (default: the "
    "day the account was created)"
}


class AdminUserSchema(UserSchema):
    active = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    started_on = Day(allow_none=True, metadata=_STARTED_ON_DOC)
    last_active_at = ma.fields.DateTime(allow_none=True)


class DepartmentSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    parent_id = ma.fields.String(allow_none=True)
    managers = ma.fields.List(ma.fields.Nested(UserRefSchema))
    created_at = ma.fields.DateTime()


_name = ma.fields.String(validate=validate.Length(min=1, max=200))
# An id naming another row: never empty (an empty one used to reach the database as a
# foreign key to nothing, a 500).
_REFERENCE = validate.Length(min=1, max=64)
_roles = ma.fields.List(
    ma.fields.String(validate=validate.OneOf(ROLES)), validate=validate.Length(min=1)
)


class DepartmentCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    parent_id = ma.fields.String(load_default=None, allow_none=True, validate=_REFERENCE)
    manager_ids = ma.fields.List(ma.fields.String(validate=_REFERENCE), load_default=list)


class DepartmentPatchSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=200))
    parent_id = ma.fields.String(allow_none=True, validate=_REFERENCE)
    manager_ids = ma.fields.List(ma.fields.String(validate=_REFERENCE))


class UserCreateSchema(ma.Schema):
    username = ma.fields.String(required=True, validate=USERNAME)
    display_name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = ma.fields.String(required=True, validate=validate.Length(min=8, max=200))
    department_id = ma.fields.String(required=True, allow_none=True, validate=_REFERENCE)
    roles = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(ROLES)),
        required=True,
        validate=validate.Length(min=1),
    )
    started_on = Day(load_default=None, allow_none=True, metadata=_STARTED_ON_DOC)


class UserPatchSchema(ma.Schema):
    username = ma.fields.String(validate=USERNAME)
    display_name = ma.fields.String(validate=validate.Length(min=1, max=200))
    password = ma.fields.String(validate=validate.Length(min=8, max=200))
    department_id = ma.fields.String(allow_none=True, validate=_REFERENCE)
    roles = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(ROLES)), validate=validate.Length(min=1)
    )
    active = ma.fields.Boolean()
    started_on = Day(allow_none=True, metadata=_STARTED_ON_DOC)


class RosterErrorSchema(ma.Schema):
    row = ma.fields.Integer()
    field = ma.fields.String()
    message = ma.fields.String()


class RosterDepartmentSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    path = ma.fields.String(metadata={"description": "Names from the top: `Region / Store`"})
    created = ma.fields.Boolean(metadata={"description": "Created by this import"})


class RosterRowSchema(ma.Schema):
    row = ma.fields.Integer(metadata={"description": "Line in the file; the header is 1"})
    username = ma.fields.String()
    action = ma.fields.String(metadata={"enum": ["created", "updated"]})
    department = ma.fields.Nested(RosterDepartmentSchema, allow_none=True)


class RosterReportSchema(ma.Schema):
    created = ma.fields.Integer()
    updated = ma.fields.Integer()
    errors = ma.fields.List(
        ma.fields.Nested(RosterErrorSchema),
        metadata={"description": "Always empty: a roster with problems is refused with 422"},
    )
    rows = ma.fields.List(
        ma.fields.Nested(RosterRowSchema),
        metadata={"description": "What each row did, and the department it got"},
    )
    delimiter = ma.fields.String(
        metadata={"enum": ["comma", "semicolon", "tab"], "description": "As detected"}
    )


class RosterArgsSchema(ma.Schema):
    create_departments = ma.fields.Boolean(load_default=False)

"""What editors send to schedule paths, what learners get for their week, requirements."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from app.fields import Day, Moment
from app.languages import SUPPORTED_LOCALES
from app.orgs.models import ROLES

WEEK_DOC = {"description": "ISO week in the organisation's time zone", "example": "2026-W48"}
STATUS_ENUM = ["locked", "available", "in_progress", "completed"]


class AudienceSchema(ma.Schema):
    department_ids = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        metadata={"description": "Departments, each with all its sub-departments"},
    )
    roles = ma.fields.List(ma.fields.String(), load_default=list, metadata={"enum": list(ROLES)})


class PathStepInSchema(ma.Schema):
    module_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    mandatory = ma.fields.Boolean(load_default=True)


class PathTranslationSchema(ma.Schema):
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


class PathInSchema(ma.Schema):
    week = ma.fields.String(load_default=None, metadata=WEEK_DOC)
    onboarding_week = ma.fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=52),
        metadata={
            "description": "Instead of `week`: a template for the n-th week of each learner's "
            "employment (1 = the week they started)"
        },
    )
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    audience = ma.fields.Nested(AudienceSchema, load_default=dict)
    modules = ma.fields.List(
        ma.fields.Nested(PathStepInSchema), required=True, validate=validate.Length(min=1, max=50)
    )
    due_at = Moment(load_default=None, allow_none=True)
    sequential = ma.fields.Boolean(load_default=False)
    translations = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.OneOf(SUPPORTED_LOCALES)),
        values=ma.fields.Nested(PathTranslationSchema),
        load_default=dict,
        metadata={
            "description": 'The title in other languages, as for modules: {"en": {"title": ...}}'
        },
    )


class AudienceOutSchema(ma.Schema):
    department_ids = ma.fields.List(ma.fields.String(), attribute="audience_department_ids")
    roles = ma.fields.List(ma.fields.String(), attribute="audience_roles")


class PathStepSchema(ma.Schema):
    module_id = ma.fields.String()
    mandatory = ma.fields.Boolean()


class PathSchema(ma.Schema):
    id = ma.fields.String()
    title = ma.fields.String()
    week = ma.fields.String(allow_none=True)
    onboarding_week = ma.fields.Integer(allow_none=True)
    audience = ma.fields.Function(lambda path: AudienceOutSchema().dump(path))
    modules = ma.fields.List(ma.fields.Nested(PathStepSchema), attribute="steps")
    due_at = Moment(allow_none=True)
    sequential = ma.fields.Boolean()
    translations = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(PathTranslationSchema)
    )
    created_at = ma.fields.AwareDateTime()


class EditorPathListArgsSchema(ma.Schema):
    limit = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = ma.fields.String(load_default=None, validate=validate.Length(max=200))
    week = ma.fields.String(load_default=None, metadata=WEEK_DOC)


class WeekArgsSchema(ma.Schema):
    week = ma.fields.String(required=True, metadata=WEEK_DOC)


class ModuleRefSchema(ma.Schema):
    id = ma.fields.String()
    title = ma.fields.String()


class LearnerModuleSchema(ma.Schema):
    id = ma.fields.String()
    title = ma.fields.String()
    estimated_minutes = ma.fields.Integer()
    mandatory = ma.fields.Boolean()
    status = ma.fields.String(
        metadata={
            "enum": STATUS_ENUM,
            "description": "`completed`: an attempt on it was completed, whatever the score",
        }
    )
    passed = ma.fields.Boolean(
        metadata={
            "description": "The path counts the module done: an attempt on it passed (every "
            "question answered, enough of them right); a required module: the requirement is met"
        }
    )
    locked_reason = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Why I may not start it now, in my language (null when I may): "
            "starting it would be 409 with this reason"
        },
    )
    requires = ma.fields.List(
        ma.fields.Nested(ModuleRefSchema),
        metadata={"description": "The modules to pass first (empty when I may start it)"},
    )


class ProgressSchema(ma.Schema):
    completed = ma.fields.Integer(
        metadata={"description": "Modules the path counts done (`passed`)"}
    )
    total = ma.fields.Integer()


class LearnerPathSchema(ma.Schema):
    id = ma.fields.String(metadata={"description": "`required` for the required-training path"})
    title = ma.fields.String()
    mandatory = ma.fields.Boolean()
    required = ma.fields.Boolean(
        metadata={"description": "The competence requirements that need training now"}
    )
    sequential = ma.fields.Boolean()
    due_at = Moment(allow_none=True)
    progress = ma.fields.Nested(ProgressSchema)
    modules = ma.fields.List(ma.fields.Nested(LearnerModuleSchema))


class LearnerWeekSchema(ma.Schema):
    week = ma.fields.String(metadata=WEEK_DOC)
    starts_on = Day()
    ends_on = Day()
    timezone = ma.fields.String()
    paths = ma.fields.List(ma.fields.Nested(LearnerPathSchema))


def dump_learner_week(week: dict[str, Any]) -> dict[str, Any]:
    """What `LearnerWeekSchema().dump(week)` gives for `learner_week`'s result (which has only
    the schema's keys, already JSON types except dates), without marshmallow's per-field work:
    a 3 × 10 week has about 200 fields, and dumping them cost more than building the week.
    `tests/paths/test_week_dump.py` keeps the two equal."""
    return {
        **week,
        "starts_on": week["starts_on"].isoformat(),
        "ends_on": week["ends_on"].isoformat(),
        "paths": [
            {**path, "due_at": path["due_at"].isoformat() if path["due_at"] else None}
            for path in week["paths"]
        ],
    }


class RequirementInSchema(ma.Schema):
    module_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    role = ma.fields.String(load_default=None, allow_none=True, metadata={"enum": [*ROLES, None]})
    department_id = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The department and all its sub-departments"},
    )
    validity_months = ma.fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=120)
    )
    due_within_days = ma.fields.Integer(load_default=30, validate=validate.Range(min=0, max=365))


class RequirementSchema(ma.Schema):
    id = ma.fields.String()
    module_id = ma.fields.String()
    role = ma.fields.String(allow_none=True)
    department_id = ma.fields.String(allow_none=True)
    validity_months = ma.fields.Integer(allow_none=True)
    due_within_days = ma.fields.Integer()
    created_at = Moment()


class MyRequirementSchema(ma.Schema):
    module = ma.fields.Nested(ModuleRefSchema)
    status = ma.fields.String(metadata={"enum": ["valid", "expiring", "expired", "missing"]})
    valid_until = Moment(allow_none=True)
    due_at = Moment(allow_none=True)
    validity_months = ma.fields.Integer(allow_none=True)


class MyRequirementsSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(MyRequirementSchema))

"""The managers' insights over the wire."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.pagination import PageArgsSchema
from app.paths import rules as path_rules

WEEK_DOC = {
    "description": "ISO week in the organisation's time zone (default: the current one)",
    "example": "2026-W48",
}
FORMAT_DOC = {
    "description": "csv or xlsx for a download (also chosen by the Accept header); json by default"
}
RATE_DOC = {"description": "A share between 0 and 1; null when nothing was counted"}


def _valid_week(value: str) -> None:
    try:
        path_rules.parse_week(value)
    except ValueError as error:
        raise ma.ValidationError(str(error)) from None


class WeekArgsSchema(ma.Schema):
    week = ma.fields.String(load_default=None, validate=_valid_week, metadata=WEEK_DOC)


class MembersArgsSchema(PageArgsSchema, WeekArgsSchema):
    format = ma.fields.String(
        load_default=None, validate=validate.OneOf(["json", "csv", "xlsx"]), metadata=FORMAT_DOC
    )
    follow_up = ma.fields.Boolean(
        load_default=False, metadata={"description": "Only those who need follow-up"}
    )


class FormatArgsSchema(ma.Schema):
    format = ma.fields.String(
        load_default=None, validate=validate.OneOf(["json", "csv", "xlsx"]), metadata=FORMAT_DOC
    )


class TrendArgsSchema(ma.Schema):
    weeks = ma.fields.Integer(load_default=12, validate=validate.Range(min=1, max=52))


class QuestionArgsSchema(ma.Schema):
    weeks = ma.fields.Integer(load_default=4, validate=validate.Range(min=1, max=26))


class TrainingRecordArgsSchema(ma.Schema):
    requirement_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=26))


class DepartmentNodeSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    parent_id = ma.fields.String(allow_none=True)
    members = ma.fields.Integer(metadata={"description": "Active users in the subtree"})


class DepartmentTreeSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DepartmentNodeSchema))
    next_cursor = ma.fields.String(allow_none=True, metadata={"description": "Always null"})


class InsightsDepartmentRefSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()


class InsightsPersonSchema(ma.Schema):
    id = ma.fields.String()
    display_name = ma.fields.String()
    username = ma.fields.String()


class WeekFiguresSchema(ma.Schema):
    week = ma.fields.String()
    members = ma.fields.Integer()
    active_members = ma.fields.Integer()
    path_completion_rate = ma.fields.Float(allow_none=True, metadata=RATE_DOC)
    mandatory_compliance_rate = ma.fields.Float(allow_none=True, metadata=RATE_DOC)
    average_score = ma.fields.Float(allow_none=True, metadata=RATE_DOC)
    points = ma.fields.Integer()


class SummarySchema(WeekFiguresSchema):
    department = ma.fields.Nested(InsightsDepartmentRefSchema)


class SummaryListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SummarySchema))


class TrendSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(WeekFiguresSchema))


class InsightsReasonSchema(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE

    code = ma.fields.String(
        metadata={
            "description": "mandatory_overdue, requirement_expired, requirement_overdue, "
            "requirement_expiring, inactive, never_active"
        }
    )
    text = ma.fields.String(metadata={"description": "The reason in the caller's language"})
    days = ma.fields.Integer()
    count = ma.fields.Integer()
    module_id = ma.fields.String()
    module_ids = ma.fields.List(ma.fields.String())
    modules = ma.fields.List(ma.fields.String())
    requirement_id = ma.fields.String()
    requirement = ma.fields.String()


class MemberRowSchema(ma.Schema):
    user = ma.fields.Nested(InsightsPersonSchema)
    department = ma.fields.Nested(InsightsDepartmentRefSchema)
    modules_completed = ma.fields.Integer()
    mandatory_missing = ma.fields.Integer()
    average_score = ma.fields.Float(allow_none=True, metadata=RATE_DOC)
    points = ma.fields.Integer()
    last_active_at = ma.fields.AwareDateTime(allow_none=True)
    needs_follow_up = ma.fields.Boolean()
    follow_up_reasons = ma.fields.List(ma.fields.Nested(InsightsReasonSchema))


class MemberPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(MemberRowSchema))
    next_cursor = ma.fields.String(allow_none=True)


class RequirementColumnSchema(ma.Schema):
    id = ma.fields.String()
    module_id = ma.fields.String()
    title = ma.fields.String()


class RequirementStateSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": "valid, expiring, expired, missing"})
    valid_until = ma.fields.AwareDateTime(allow_none=True)
    due_at = ma.fields.AwareDateTime(allow_none=True)
    passed_at = ma.fields.AwareDateTime(allow_none=True)


class RequirementRowSchema(ma.Schema):
    user = ma.fields.Nested(InsightsPersonSchema)
    department = ma.fields.Nested(InsightsDepartmentRefSchema)
    states = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(RequirementStateSchema),
        metadata={"description": "By requirement id; requirements that do not apply are absent"},
    )


class RequirementMatrixSchema(ma.Schema):
    requirements = ma.fields.List(ma.fields.Nested(RequirementColumnSchema))
    members = ma.fields.List(ma.fields.Nested(RequirementRowSchema))


class InsightsQuestionSchema(ma.Schema):
    module_id = ma.fields.String()
    question_id = ma.fields.String()
    prompt = ma.fields.String()
    answered_by = ma.fields.Integer(metadata={"description": "Different people (at least 5)"})
    answers = ma.fields.Integer()
    wrong_rate = ma.fields.Float()


class QuestionListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(InsightsQuestionSchema))


class InsightsScoreSchema(ma.Schema):
    correct = ma.fields.Integer()
    total = ma.fields.Integer()


class RecordModuleSchema(ma.Schema):
    attempt_id = ma.fields.String()
    module_id = ma.fields.String()
    title = ma.fields.String()
    version = ma.fields.Integer()
    started_at = ma.fields.AwareDateTime()
    completed_at = ma.fields.AwareDateTime()
    score = ma.fields.Nested(InsightsScoreSchema)
    passed = ma.fields.Boolean()


class RecordRequirementSchema(ma.Schema):
    id = ma.fields.String()
    module_id = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.String()
    valid_until = ma.fields.AwareDateTime(allow_none=True)
    due_at = ma.fields.AwareDateTime(allow_none=True)
    first_passed_at = ma.fields.AwareDateTime(allow_none=True)


class UserRecordSchema(ma.Schema):
    user = ma.fields.Nested(InsightsPersonSchema)
    department = ma.fields.Nested(InsightsDepartmentRefSchema, allow_none=True)
    active = ma.fields.Boolean()
    modules = ma.fields.List(ma.fields.Nested(RecordModuleSchema))
    requirements = ma.fields.List(ma.fields.Nested(RecordRequirementSchema))
    streak = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    points = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    last_active_at = ma.fields.AwareDateTime(allow_none=True)
    last_login_at = ma.fields.AwareDateTime(allow_none=True)

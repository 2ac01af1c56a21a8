"""What the phone app sends and gets for modules, attempts and answers. No answer keys here."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.fields import Int32, Moment
from app.openapi import TaggedUnion
from app.paths.schemas import ModuleRefSchema

_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))


class ModuleSummarySchema(ma.Schema):
    id = ma.fields.String()
    title = ma.fields.String()
    summary = ma.fields.String(allow_none=True)
    topic = ma.fields.String(allow_none=True)
    estimated_minutes = ma.fields.Integer()
    locale = ma.fields.String()
    version = ma.fields.Integer()
    status = ma.fields.String(
        metadata={"enum": ["not_started", "in_progress", "completed"], "description": "My progress"}
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


class ModuleListArgsSchema(ma.Schema):
    limit = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = ma.fields.String(load_default=None, validate=validate.Length(max=200))
    topic = ma.fields.String(load_default=None, validate=validate.Length(max=64))


class CardSchema(ma.Schema):
    id = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": ["text", "image", "video"]})
    body = ma.fields.String(
        allow_none=True, metadata={"description": "Markdown; raw HTML is neutralised"}
    )
    body_html = ma.fields.String(allow_none=True, metadata={"description": "Sanitised HTML"})
    media_url = ma.fields.String(allow_none=True)


class ChoiceSchema(ma.Schema):
    id = ma.fields.String()
    text = ma.fields.String()


class QuestionSchema(ma.Schema):
    id = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": ["single_choice", "multiple_choice", "true_false"]})
    prompt = ma.fields.String()
    choices = ma.fields.List(ma.fields.Nested(ChoiceSchema))


class ModuleSchema(ma.Schema):
    id = ma.fields.String()
    version = ma.fields.Integer()
    title = ma.fields.String()
    summary = ma.fields.String(allow_none=True)
    locale = ma.fields.String()
    estimated_minutes = ma.fields.Integer()
    cards = ma.fields.List(ma.fields.Nested(CardSchema))
    questions = ma.fields.List(ma.fields.Nested(QuestionSchema))


class AttemptSchema(ma.Schema):
    id = ma.fields.String()
    module_id = ma.fields.String()
    module_version = ma.fields.Integer()
    started_at = ma.fields.DateTime()
    questions_total = ma.fields.Integer()


class AnswerInSchema(ma.Schema):
    question_id = _id
    choice_ids = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(min=1, max=10),
    )
    answered_at = Moment(load_default=None, allow_none=True)


class FeedbackSchema(ma.Schema):
    question_id = ma.fields.String()
    correct = ma.fields.Boolean()
    correct_choice_ids = ma.fields.List(ma.fields.String())
    explanation = ma.fields.String()
    points_awarded = ma.fields.Integer()


class ScoreSchema(ma.Schema):
    correct = ma.fields.Integer()
    total = ma.fields.Integer()


class LevelSchema(ma.Schema):
    number = ma.fields.Integer()
    points_to_next = ma.fields.Integer(allow_none=True)


class StreakSchema(ma.Schema):
    current = ma.fields.Integer()
    longest = ma.fields.Integer()
    freezes = ma.fields.Integer()


class BadgeEarnedSchema(ma.Schema):
    code = ma.fields.String()
    title = ma.fields.String()
    earned_at = ma.fields.String()


class CompletionSchema(ma.Schema):
    attempt_id = ma.fields.String()
    score = ma.fields.Nested(ScoreSchema)
    passed = ma.fields.Boolean()
    points_awarded = ma.fields.Integer(
        metadata={"description": "Points this completion paid (bonuses); answers paid their own"}
    )
    points_total = ma.fields.Integer()
    level = ma.fields.Nested(LevelSchema)
    streak = ma.fields.Nested(StreakSchema)
    new_badges = ma.fields.List(ma.fields.Nested(BadgeEarnedSchema))


class OfflineAnswerSchema(ma.Schema):
    question_id = _id
    choice_ids = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(min=1, max=10),
    )
    answered_at = Moment(load_default=None, allow_none=True)


class OfflineAttemptEventSchema(ma.Schema):
    """A whole attempt done offline (`type: attempt`)."""

    client_id = ma.fields.UUID(
        required=True, metadata={"description": "Made by the phone, unique per user"}
    )
    type = ma.fields.String(required=True, validate=validate.OneOf(["attempt"]))
    module_id = _id
    module_version = Int32(required=True, validate=validate.Range(min=1))
    started_at = Moment(load_default=None, allow_none=True)
    completed_at = Moment(required=True)
    answers = ma.fields.List(
        ma.fields.Nested(OfflineAnswerSchema), required=True, validate=validate.Length(max=50)
    )


# Every kind of offline event, by its `type`.
OFFLINE_EVENT_SCHEMAS: dict[str, type[ma.Schema]] = {"attempt": OfflineAttemptEventSchema}


class SyncInSchema(ma.Schema):
    events = ma.fields.List(
        # Each event is validated on its own by the view: a bad one is rejected in the
        # results without refusing the batch.
        TaggedUnion("type", OFFLINE_EVENT_SCHEMAS),
        required=True,
        validate=validate.Length(min=1, max=100),
    )


class SyncResultSchema(ma.Schema):
    client_id = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["applied", "duplicate", "rejected"]})
    reason = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Why an event was rejected, readable (a short code for an unknown "
            "module or version)"
        },
    )
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        allow_none=True,
        metadata={
            "description": "A rejected event's problems keyed by field path "
            "(`answers[1].choice_ids`), as in every validation error"
        },
    )
    points_awarded = ma.fields.Integer()
    attempt_id = ma.fields.String(allow_none=True)


class SyncOutSchema(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(SyncResultSchema))

"""Spaced review over the wire: due questions (never the answer key) and review answers."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.fields import Day, Moment


class ReviewChoiceSchema(ma.Schema):
    id = ma.fields.String()
    text = ma.fields.String()


class ReviewItemSchema(ma.Schema):
    question_id = ma.fields.String()
    module_id = ma.fields.String()
    module_title = ma.fields.String()
    module_version = ma.fields.Integer()
    kind = ma.fields.String(metadata={"enum": ["single_choice", "multiple_choice", "true_false"]})
    prompt = ma.fields.String()
    choices = ma.fields.List(ma.fields.Nested(ReviewChoiceSchema))
    due_at = Moment()
    box = ma.fields.Integer(metadata={"description": "Leitner box, 1 (new or missed) to 6"})


class ReviewPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ReviewItemSchema))
    next_cursor = ma.fields.String(allow_none=True)
    remaining_today = ma.fields.Integer(
        metadata={"description": "How many more questions today's session holds"}
    )
    paused_until = Day(allow_none=True, metadata={"description": "Set while a vacation hold is on"})


class ReviewAnswerInSchema(ma.Schema):
    choice_ids = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(max=20),
    )


class ReviewFeedbackSchema(ma.Schema):
    question_id = ma.fields.String()
    correct = ma.fields.Boolean()
    correct_choice_ids = ma.fields.List(ma.fields.String())
    explanation = ma.fields.String()
    points_awarded = ma.fields.Integer()
    next_due_at = Moment()
    box = ma.fields.Integer()

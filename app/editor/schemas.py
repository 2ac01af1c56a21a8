"""What editors send and get. Unlike the learner's schemas, these include answer keys."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.content.document import ModuleDocumentSchema
from app.editor.service import STATUSES
from app.fields import Int32
from app.learning.schemas import ModuleSchema as LearnerModuleSchema


class PersonSchema(ma.Schema):
    id = ma.fields.String()
    display_name = ma.fields.String()


def _warnings_field() -> ma.fields.Field:
    return ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        dump_only=True,
        metadata={
            "description": "Not errors: what makes the module guessable or strays from the "
            "package format's house rules, keyed by field path like errors"
        },
    )


class ModuleCreatedSchema(ma.Schema):
    id = ma.fields.String()
    status = ma.fields.String(metadata={"enum": list(STATUSES)})
    version = ma.fields.Integer(allow_none=True, metadata={"description": "Newest published"})
    warnings = _warnings_field()


class DraftSchema(ModuleDocumentSchema):
    """The draft document plus its editing state; PUT may send the read-only fields back."""

    id = ma.fields.String(dump_only=True)
    status = ma.fields.String(dump_only=True, metadata={"enum": list(STATUSES)})
    version = ma.fields.Integer(dump_only=True, allow_none=True)
    revision = ma.fields.Integer(dump_only=True, metadata={"description": "Bumped by each save"})
    created_at = ma.fields.DateTime(dump_only=True)
    created_by = ma.fields.String(dump_only=True, allow_none=True)
    updated_at = ma.fields.DateTime(dump_only=True)
    published_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    has_unpublished_changes = ma.fields.Boolean(dump_only=True)
    warnings = _warnings_field()
    cards = ma.fields.List(ma.fields.Dict())
    questions = ma.fields.List(ma.fields.Dict())
    translations = ma.fields.Dict()


class ModuleListArgsSchema(ma.Schema):
    limit = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = ma.fields.String(load_default=None, validate=validate.Length(max=200))
    status = ma.fields.String(load_default=None, validate=validate.OneOf(STATUSES))


class ModuleListItemSchema(ma.Schema):
    """A module in the editor's list (dumped from the Module row and its draft)."""

    id = ma.fields.String()
    key = ma.fields.String(allow_none=True)
    title = ma.fields.Function(lambda module: module.draft.get("title"))
    topic = ma.fields.Function(lambda module: module.draft.get("topic"), allow_none=True)
    status = ma.fields.String(metadata={"enum": list(STATUSES)})
    version = ma.fields.Integer(attribute="current_version", allow_none=True)
    revision = ma.fields.Integer(attribute="draft_revision")
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class PublishedSchema(ma.Schema):
    id = ma.fields.String()
    version = ma.fields.Integer()
    published_at = ma.fields.DateTime()
    published_by = ma.fields.String(allow_none=True)
    warnings = _warnings_field()
    unchanged = ma.fields.Boolean(
        metadata={
            "description": "true: the draft equals this version, so nothing new was published"
        }
    )


class StatusSchema(ma.Schema):
    id = ma.fields.String()
    status = ma.fields.String()
    version = ma.fields.Integer(allow_none=True)


class VersionSchema(ma.Schema):
    version = ma.fields.Integer()
    title = ma.fields.String()
    published_at = ma.fields.DateTime()
    published_by = ma.fields.Nested(PersonSchema, allow_none=True)


class EventSchema(ma.Schema):
    id = ma.fields.String()
    action = ma.fields.String()
    at = ma.fields.DateTime()
    actor = ma.fields.Nested(PersonSchema, allow_none=True)
    revision = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer(allow_none=True)


class PreviewArgsSchema(ma.Schema):
    locale = ma.fields.String(load_default=None, validate=validate.OneOf(["nb", "nn", "en"]))


class PreviewSchema(LearnerModuleSchema):
    """Exactly what `GET /modules/{id}` will answer once this draft is published, and the
    draft's warnings."""

    warnings = _warnings_field()


class ExportArgsSchema(ma.Schema):
    source = ma.fields.String(
        load_default="published",
        validate=validate.OneOf(["published", "draft"]),
        metadata={"description": "published: the current version (the draft if never published)"},
    )
    format = ma.fields.String(load_default=None, validate=validate.OneOf(["zip", "json"]))


class ImportedModuleSchema(ma.Schema):
    id = ma.fields.String()
    key = ma.fields.String()
    title = ma.fields.String()
    version = ma.fields.Integer(allow_none=True)


class PackageErrorSchema(ma.Schema):
    file = ma.fields.String(allow_none=True, metadata={"description": "Path, or modules[i]"})
    field = ma.fields.String(allow_none=True, metadata={"description": "Field path in it"})
    message = ma.fields.String()


class PackageReportSchema(ma.Schema):
    created = ma.fields.List(ma.fields.Nested(ImportedModuleSchema))
    updated = ma.fields.List(ma.fields.Nested(ImportedModuleSchema))
    unchanged = ma.fields.List(ma.fields.Nested(ImportedModuleSchema))
    errors = ma.fields.List(
        ma.fields.Nested(PackageErrorSchema),
        metadata={"description": "Always empty: a package with problems is refused with 422"},
    )
    warnings = ma.fields.List(
        ma.fields.Nested(PackageErrorSchema),
        metadata={
            "description": "Not errors (the import goes ahead): what makes the content "
            "guessable or strays from the house rules; `file` null for the whole package"
        },
    )


class MediaSchema(ma.Schema):
    id = ma.fields.String()
    url = ma.fields.String()
    width = ma.fields.Integer()
    height = ma.fields.Integer()
    content_type = ma.fields.String()
    bytes = ma.fields.Integer()
    created_at = ma.fields.DateTime()


class StatsArgsSchema(ma.Schema):
    version = Int32(load_default=None, validate=validate.Range(min=1))


class WrongChoiceSchema(ma.Schema):
    choice_id = ma.fields.String()
    text = ma.fields.String()
    count = ma.fields.Integer()


class QuestionStatsSchema(ma.Schema):
    question_id = ma.fields.String()
    position = ma.fields.Integer()
    prompt = ma.fields.String()
    answers = ma.fields.Integer()
    correct = ma.fields.Integer()
    correct_rate = ma.fields.Float(allow_none=True, metadata={"description": "0..1"})
    most_chosen_wrong_choice = ma.fields.Nested(WrongChoiceSchema, allow_none=True)


class VersionTotalsSchema(ma.Schema):
    version = ma.fields.Integer()
    published_at = ma.fields.DateTime()
    attempts = ma.fields.Integer()
    completions = ma.fields.Integer()
    average_score = ma.fields.Float(allow_none=True, metadata={"description": "0..1"})
    pass_rate = ma.fields.Float(allow_none=True)


class StatsSchema(ma.Schema):
    module_id = ma.fields.String()
    version = ma.fields.Integer()
    attempts = ma.fields.Integer()
    completions = ma.fields.Integer()
    average_score = ma.fields.Float(
        allow_none=True, metadata={"description": "Mean share of questions right, 0..1"}
    )
    pass_rate = ma.fields.Float(allow_none=True)
    questions = ma.fields.List(ma.fields.Nested(QuestionStatsSchema))
    versions = ma.fields.List(ma.fields.Nested(VersionTotalsSchema))

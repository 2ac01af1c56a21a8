"""The module document: the editor's body and a package's module file share this shape.

Validation collects every problem at once, each keyed by its field path
(`questions[2].choices`), so an editor can fix everything in one go.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import marshmallow as ma
from marshmallow import ValidationError, validate, validates_schema

from app.content.markdown import link_targets
from app.errors import flatten_validation_messages

CARD_KINDS = ("text", "image", "video")
QUESTION_KINDS = ("single_choice", "multiple_choice", "true_false")
LOCALES = ("nb", "nn", "en")
KEY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,99}$"
KEY_RULE = "Lowercase letters a-z, digits and hyphens, starting with a letter or digit; at most 100."
# Links and images in card bodies; anything else (javascript:, data:, file:) is refused on save.
SAFE_LINK_SCHEMES = ("", "https", "http", "mailto")


class DocumentCardSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=validate.OneOf(CARD_KINDS))
    body = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=8000))
    media_id = ma.fields.String(load_default=None, allow_none=True)
    # No default: drafts never carry it (import turns a path into media_id), so a document
    # looks the same whether it was typed in or imported, and hashes the same.
    media = ma.fields.String(allow_none=True, metadata={"description": "Package only: a path"})
    url = ma.fields.Url(load_default=None, allow_none=True, schemes={"https", "http"})

    # Checked even when another field has an error, so every problem of a card shows at once;
    # a field that was sent but refused already has its own message.
    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def check_kind(self, data: dict[str, Any], original: Any, **_: Any) -> None:
        refused = _refused_fields(data, original)
        kind = data.get("kind")
        errors: dict[str, list[str]] = {}
        if kind == "text" and not (data.get("body") or "").strip() and "body" not in refused:
            errors["body"] = ["A text card needs a non-empty body."]
        has_image = data.get("media_id") or data.get("media") or data.get("url")
        if kind == "image" and not has_image and not refused & {"media_id", "media", "url"}:
            errors["media_id"] = ["An image card needs media_id (or a url)."]
        if kind == "video" and not data.get("url") and "url" not in refused:
            errors["url"] = ["A video card needs a url."]
        if errors:
            raise ValidationError(errors)


def _refused_fields(data: dict[str, Any], original: Any) -> set[str]:
    """The fields that were sent but did not load (they carry their own error already)."""
    return set(original) - set(data) if isinstance(original, dict) else set()


class DocumentChoiceSchema(ma.Schema):
    text = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))
    correct = ma.fields.Boolean(required=True)


class DocumentQuestionSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=validate.OneOf(QUESTION_KINDS))
    prompt = ma.fields.String(required=True, validate=validate.Length(min=1, max=1000))
    explanation = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))
    choices = ma.fields.List(
        ma.fields.Nested(DocumentChoiceSchema),
        required=True,
        validate=validate.Length(min=2, max=8, error="A question needs 2 to 8 choices."),
    )

    # Checked even when the prompt or explanation has an error, and every answer-key problem
    # is listed: an editor fixes a question in one go. When a choice itself did not load, the
    # key is not judged from the others (it would invent a second, misleading error).
    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def check_answer_key(self, data: dict[str, Any], original: Any, **_: Any) -> None:
        sent = original.get("choices") if isinstance(original, dict) else None
        choices = data.get("choices")
        if not isinstance(choices, list) or not isinstance(sent, list) or len(sent) != len(choices):
            return
        if not all(isinstance(c, dict) and {"text", "correct"} <= set(c) for c in choices):
            return
        kind = data.get("kind")
        correct = sum(1 for choice in choices if choice.get("correct"))
        problems = []
        if kind == "single_choice" and correct != 1:
            problems.append("A single_choice question needs exactly one correct choice.")
        if kind == "true_false" and (len(choices) != 2 or correct != 1):
            problems.append("A true_false question needs exactly two choices, one of them correct.")
        if kind == "multiple_choice" and correct < 1:
            problems.append("A multiple_choice question needs at least one correct choice.")
        texts = [choice.get("text", "").strip().casefold() for choice in choices]
        if len(set(texts)) != len(texts):
            problems.append("Two choices have the same text.")
        if problems:
            raise ValidationError({"choices": problems})


class TranslatedCardSchema(ma.Schema):
    body = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=8000))


class TranslatedChoiceSchema(ma.Schema):
    text = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))


class TranslatedQuestionSchema(ma.Schema):
    prompt = ma.fields.String(required=True, validate=validate.Length(min=1, max=1000))
    explanation = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))
    choices = ma.fields.List(ma.fields.Nested(TranslatedChoiceSchema), required=True)


class TranslationSchema(ma.Schema):
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    summary = ma.fields.String(load_default=None, allow_none=True)
    cards = ma.fields.List(ma.fields.Nested(TranslatedCardSchema), required=True)
    questions = ma.fields.List(ma.fields.Nested(TranslatedQuestionSchema), required=True)


class ModuleDocumentSchema(ma.Schema):
    key = ma.fields.String(
        load_default=None, validate=validate.Regexp(KEY_PATTERN, error=KEY_RULE)
    )
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    summary = ma.fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=1000)
    )
    topic = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    locale = ma.fields.String(load_default=None, validate=validate.OneOf(LOCALES))
    estimated_minutes = ma.fields.Integer(load_default=3, validate=validate.Range(min=1, max=15))
    prerequisites = ma.fields.List(ma.fields.String(), load_default=list)
    cards = ma.fields.List(
        ma.fields.Nested(DocumentCardSchema),
        required=True,
        validate=validate.Length(min=1, max=20, error="A module needs 1 to 20 cards."),
    )
    questions = ma.fields.List(
        ma.fields.Nested(DocumentQuestionSchema),
        required=True,
        validate=validate.Length(min=1, max=20, error="A module needs 1 to 20 questions."),
    )
    translations = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.OneOf(LOCALES)),
        values=ma.fields.Nested(TranslationSchema),
        load_default=dict,
    )

    @validates_schema(skip_on_field_errors=False)
    def check_translations_align(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, Any] = {}
        cards = data.get("cards") or []
        questions = data.get("questions") or []
        for locale, translation in (data.get("translations") or {}).items():
            if locale == data.get("locale"):
                errors.setdefault(f"translations.{locale}", []).append(
                    "A translation into the module's own language is not allowed."
                )
            if len(translation.get("cards", [])) != len(cards):
                errors.setdefault(f"translations.{locale}.cards", []).append(
                    f"Has {len(translation.get('cards', []))} cards; the module has {len(cards)}."
                )
            for index, card in enumerate(translation.get("cards", [])[: len(cards)]):
                if cards[index].get("kind") == "text" and not (card.get("body") or "").strip():
                    errors.setdefault(f"translations.{locale}.cards[{index}].body", []).append(
                        "A text card needs a non-empty body."
                    )
            translated = translation.get("questions", [])
            if len(translated) != len(questions):
                errors.setdefault(f"translations.{locale}.questions", []).append(
                    f"Has {len(translated)} questions; the module has {len(questions)}."
                )
            for index, question in enumerate(translated[: len(questions)]):
                want = len(questions[index].get("choices") or [])
                if len(question.get("choices", [])) != want:
                    errors.setdefault(
                        f"translations.{locale}.questions[{index}].choices", []
                    ).append(f"Has {len(question.get('choices', []))} choices; needs {want}.")
        if errors:
            raise ValidationError(errors)


_schema = ModuleDocumentSchema()


@dataclass
class Findings:
    """What checking a module document found, by field path (`questions[2].choices`).

    Every check adds what it finds here instead of stopping, so an editor sees everything at
    once. (Warnings, which never refuse, come from `app.content.quality`.)
    """

    errors: dict[str, list[str]] = field(default_factory=dict)

    def error(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def error_count(self) -> int:
        return sum(len(messages) for messages in self.errors.values())


def check_module_document(
    raw: Any,
    *,
    default_locale: str,
    required_locales: tuple[str, ...] = (),
    media_ids: Collection[str] | None = None,
) -> tuple[dict[str, Any] | None, Findings]:
    """The cleaned document (None when there are errors) and everything found in it.

    `media_ids`, when given, are the uploaded images an image card's `media_id` may name.
    """
    findings = Findings()
    if not isinstance(raw, dict):
        findings.error("_schema", "A module must be an object.")
        return None, findings
    document: dict[str, Any] | None = None
    try:
        document = _schema.load(raw, unknown=ma.RAISE)
    except ValidationError as error:
        for path, messages in flatten_validation_messages(
            error.messages, by_location=False
        ).items():
            for message in messages:
                findings.error(path, message)
    # The checks below read the raw body so they report alongside the schema's errors.
    own_locale = raw.get("locale") if raw.get("locale") in LOCALES else default_locale
    translations = raw.get("translations")
    translations = translations if isinstance(translations, dict) else {}
    for locale in required_locales:
        if locale != own_locale and locale not in translations:
            findings.error(
                "translations",
                f"Your organisation requires every module in {locale!r}; add translations.{locale}.",
            )
    for path, body in _card_bodies(raw):
        for problem in unsafe_links(body):
            findings.error(path, problem)
    if media_ids is not None:
        for index, card in enumerate(_as_list(raw.get("cards"))):
            media_id = card.get("media_id") if isinstance(card, dict) else None
            if isinstance(media_id, str) and media_id not in media_ids:
                findings.error(
                    f"cards[{index}].media_id",
                    "No uploaded image with this id in your organisation; "
                    "upload it with POST /editor/media first.",
                )
    if findings.errors or document is None:
        return None, findings
    document["locale"] = document.get("locale") or default_locale
    return document, findings


def validate_document(
    raw: Any,
    *,
    default_locale: str,
    required_locales: tuple[str, ...] = (),
    media_ids: Collection[str] | None = None,
) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """The cleaned document, or every error keyed by field path."""
    document, findings = check_module_document(
        raw, default_locale=default_locale, required_locales=required_locales, media_ids=media_ids
    )
    return document, findings.errors


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _card_bodies(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, Markdown) of every card body, translations included."""
    bodies = [
        (f"cards[{index}].body", card["body"])
        for index, card in enumerate(_as_list(raw.get("cards")))
        if isinstance(card, dict) and isinstance(card.get("body"), str)
    ]
    translations = raw.get("translations")
    for locale, translation in (translations if isinstance(translations, dict) else {}).items():
        if not isinstance(translation, dict):
            continue
        for index, card in enumerate(_as_list(translation.get("cards"))):
            if isinstance(card, dict) and isinstance(card.get("body"), str):
                bodies.append((f"translations.{locale}.cards[{index}].body", card["body"]))
    return bodies


def unsafe_links(markdown: str) -> list[str]:
    """Why the links and images of a card body are refused (empty when they are safe)."""
    problems = []
    for target in link_targets(markdown):
        scheme = urlsplit(target.strip()).scheme.lower()
        if scheme not in SAFE_LINK_SCHEMES:
            problems.append(
                f"Links and images may only use https, http or mailto addresses, not {scheme}:"
                " (show pictures with an image card)."
            )
    return problems


def document_hash(document: dict[str, Any]) -> str:
    """A stable fingerprint of a document: unchanged content publishes nothing new."""
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()

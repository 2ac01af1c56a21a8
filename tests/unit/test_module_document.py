"""The module document's validation rules, one by one."""

from __future__ import annotations

import pytest

from app.content.document import document_hash, validate_document
from tests.factories import module_document


def errors_of(document, **kwargs):
    clean, errors = validate_document(document, default_locale="nb", **kwargs)
    assert (clean is None) == bool(errors)
    return errors


def test_a_good_document_passes_and_keeps_its_fields():
    clean, errors = validate_document(module_document(), default_locale="nb")
    assert errors == {}
    assert clean["title"] == "Kjølekjeden"
    assert len(clean["questions"]) == 3


def test_locale_defaults_to_the_organisations():
    document = module_document()
    del document["locale"]
    document["translations"] = {}
    clean, _ = validate_document(document, default_locale="nn")
    assert clean["locale"] == "nn"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"cards": []}, "cards"),
        ({"questions": []}, "questions"),
        ({"cards": [{"kind": "text", "body": "  "}]}, "cards[0].body"),
        ({"cards": [{"kind": "image"}]}, "cards[0].media_id"),
        ({"cards": [{"kind": "video"}]}, "cards[0].url"),
        ({"cards": [{"kind": "hologram", "body": "x"}]}, "cards[0].kind"),
        ({"estimated_minutes": 0}, "estimated_minutes"),
        ({"locale": "sv"}, "locale"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_each_rule_names_its_field(change, field):
    document = module_document(**change)
    document["translations"] = {}
    assert field in errors_of(document)


def test_a_single_choice_question_needs_exactly_one_correct_choice():
    document = module_document()
    document["questions"][0]["choices"][1]["correct"] = True
    assert errors_of(document)["questions[0].choices"] == [
        "A single_choice question needs exactly one correct choice."
    ]


def test_true_false_needs_two_choices_one_correct():
    document = module_document()
    document["questions"][1]["choices"].append({"text": "Kanskje", "correct": False})
    assert "questions[1].choices" in errors_of(document)


def test_multiple_choice_needs_a_correct_choice():
    document = module_document()
    for choice in document["questions"][2]["choices"]:
        choice["correct"] = False
    assert "questions[2].choices" in errors_of(document)


def test_duplicate_choice_texts_are_refused():
    document = module_document()
    document["questions"][0]["choices"][1]["text"] = "0–4 °C"
    assert "questions[0].choices" in errors_of(document)


def test_translations_must_line_up_with_the_module():
    document = module_document()
    document["translations"]["en"]["cards"].pop()
    document["translations"]["en"]["questions"][0]["choices"].pop()
    errors = errors_of(document)
    assert "translations.en.cards" in errors
    assert "translations.en.questions[0].choices" in errors


def test_every_error_is_reported_at_once():
    document = module_document(title="", estimated_minutes=99)
    document["questions"][0]["choices"][1]["correct"] = True
    errors = errors_of(document)
    assert {"title", "estimated_minutes", "questions[0].choices"} <= set(errors)


def test_a_required_language_must_be_there():
    document = module_document(translations={})
    assert "translations" in errors_of(document, required_locales=("en",))


def test_the_hash_ignores_key_order():
    a = module_document()
    b = dict(reversed(list(module_document().items())))
    assert document_hash(a) == document_hash(b)

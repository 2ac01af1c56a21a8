"""Validation that teaches: one test per rule, each error keyed by its field path."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests import factories
from tests.editor.conftest import API, create, image_bytes, upload


def post(client, headers, body) -> Any:
    return client.post(f"{API}/modules", json=body, headers=headers)


def doc(**changes: Any) -> dict[str, Any]:
    return factories.module_document(**changes)


def with_question(index: int, **changes: Any) -> dict[str, Any]:
    body = doc()
    body["questions"][index].update(changes)
    return body


def with_translation(mutate) -> dict[str, Any]:
    body = doc()
    mutate(body["translations"]["en"])
    return body


Q0 = factories.BASE_DOCUMENT["questions"][0]

RULES = [
    ("title required", {k: v for k, v in doc().items() if k != "title"}, "title", "Missing data"),
    ("empty title", doc(title=""), "title", "Length must be between 1 and 200"),
    ("at least one card", doc(cards=[]), "cards", "A module needs 1 to 20 cards."),
    ("at least one question", doc(questions=[]), "questions", "1 to 20 questions"),
    (
        "card kind",
        doc(cards=[{"kind": "audio", "body": "x"}]),
        "cards[0].kind",
        "Must be one of",
    ),
    (
        "text card with empty body",
        doc(cards=[{"kind": "text", "body": "   "}]),
        "cards[0].body",
        "A text card needs a non-empty body.",
    ),
    (
        "image card needs an image",
        doc(cards=[{"kind": "image", "body": "Bildetekst"}]),
        "cards[0].media_id",
        "An image card needs media_id",
    ),
    (
        "video card needs a url",
        doc(cards=[{"kind": "video"}]),
        "cards[0].url",
        "A video card needs a url.",
    ),
    (
        "url must be http(s)",
        doc(cards=[{"kind": "video", "url": "ftp://example.com/v.mp4"}]),
        "cards[0].url",
        "Not a valid URL",
    ),
    (
        "package paths are for packages",
        doc(cards=[{"kind": "image", "media": "media/a.png"}]),
        "cards[0].media",
        "File paths only work inside packages",
    ),
    (
        "uploaded image must exist",
        doc(cards=[{"kind": "image", "media_id": "01NOSUCHMEDIA0000000000000"}]),
        "cards[0].media_id",
        "No uploaded image with this id in your organisation",
    ),
    (
        "single_choice has exactly one correct",
        with_question(0, choices=[{"text": "A", "correct": True}, {"text": "B", "correct": True}]),
        "questions[0].choices",
        "A single_choice question needs exactly one correct choice.",
    ),
    (
        "true_false has two choices, one correct",
        with_question(
            1,
            choices=[
                {"text": "Sant", "correct": True},
                {"text": "Usant", "correct": False},
                {"text": "Kanskje", "correct": False},
            ],
        ),
        "questions[1].choices",
        "A true_false question needs exactly two choices, one of them correct.",
    ),
    (
        "multiple_choice has a correct choice",
        with_question(
            2, choices=[{"text": "A", "correct": False}, {"text": "B", "correct": False}]
        ),
        "questions[2].choices",
        "A multiple_choice question needs at least one correct choice.",
    ),
    (
        "choices differ",
        with_question(
            0, choices=[{"text": "Ja", "correct": True}, {"text": " ja ", "correct": False}]
        ),
        "questions[0].choices",
        "Two choices have the same text.",
    ),
    (
        "two to eight choices",
        with_question(0, choices=[{"text": "Alene", "correct": True}]),
        "questions[0].choices",
        "A question needs 2 to 8 choices.",
    ),
    (
        "question kind",
        with_question(0, kind="essay"),
        "questions[0].kind",
        "Must be one of",
    ),
    ("explanation required", with_question(0, explanation=""), "questions[0].explanation", ""),
    (
        "choice needs correct",
        with_question(0, choices=[{"text": "A"}, {"text": "B", "correct": True}]),
        "questions[0].choices[0].correct",
        "Missing data",
    ),
    ("unknown field", doc(colour="red"), "colour", "Unknown field."),
    ("locale", doc(locale="sv"), "locale", "Must be one of"),
    ("estimated minutes", doc(estimated_minutes=60), "estimated_minutes", "Must be greater"),
    ("key format", doc(key="Not A Key"), "key", "Lowercase letters a-z, digits and hyphens"),
    (
        "no translation into the module's own language",
        doc(translations={"nb": copy.deepcopy(factories.BASE_DOCUMENT["translations"]["en"])}),
        "translations.nb",
        "A translation into the module's own language is not allowed.",
    ),
    (
        "translation has every card",
        with_translation(lambda t: t["cards"].pop()),
        "translations.en.cards",
        "Has 1 cards; the module has 2.",
    ),
    (
        "translated text card is not empty",
        with_translation(lambda t: t["cards"][1].update(body="")),
        "translations.en.cards[1].body",
        "A text card needs a non-empty body.",
    ),
    (
        "translation has every question",
        with_translation(lambda t: t["questions"].pop()),
        "translations.en.questions",
        "Has 2 questions; the module has 3.",
    ),
    (
        "translation has every choice",
        with_translation(lambda t: t["questions"][0]["choices"].pop()),
        "translations.en.questions[0].choices",
        "Has 2 choices; needs 3.",
    ),
    (
        "translation locale",
        doc(translations={"de": factories.BASE_DOCUMENT["translations"]["en"]}),
        "translations.de.key",
        "Must be one of",
    ),
    (
        "no javascript links",
        doc(cards=[{"kind": "text", "body": "[Klikk](javascript:alert(1))"}]),
        "cards[0].body",
        "not javascript:",
    ),
    (
        "no data images",
        doc(cards=[{"kind": "text", "body": "![x](data:image/png;base64,iVBORw0KGgo=)"}]),
        "cards[0].body",
        "not data:",
    ),
    (
        "no unsafe links in translations",
        with_translation(lambda t: t["cards"][0].update(body="<vbscript:msgbox>")),
        "translations.en.cards[0].body",
        "not vbscript:",
    ),
    (
        "unknown prerequisite",
        doc(prerequisites=["01NOSUCHMODULE000000000000"]),
        "prerequisites[0]",
        "No module with this id in your organisation.",
    ),
]


@pytest.mark.parametrize(
    ("body", "path", "message"), [r[1:] for r in RULES], ids=[r[0] for r in RULES]
)
def test_rule(client, as_editor, body, path, message):
    response = post(client, as_editor, body)
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    errors = response.json["errors"]
    assert path in errors, errors
    assert any(message in m for m in errors[path]), errors[path]


def test_body_must_be_an_object(client, as_editor):
    response = post(client, as_editor, ["not", "a", "module"])
    assert response.status_code == 422
    assert response.json["errors"] == {"_schema": ["A module must be an object."]}


def test_every_error_at_once(client, as_editor):
    body = with_question(
        0, choices=[{"text": "A", "correct": True}, {"text": "B", "correct": True}]
    )
    body["cards"].append({"kind": "text", "body": ""})
    body["title"] = ""
    body["translations"]["en"]["questions"].pop()
    response = post(client, as_editor, body)
    assert response.status_code == 422
    assert {
        "title",
        "cards[2].body",
        "questions[0].choices",
        "translations.en.cards",
        "translations.en.questions",
    } <= set(response.json["errors"])
    assert "problem" in response.json["detail"]


def test_required_translations_of_the_organisation(client, session, org, as_editor):
    org.settings = {"required_locales": ["en", "nn"]}
    session.flush()
    response = post(client, as_editor, doc())
    assert response.status_code == 422
    assert response.json["errors"]["translations"] == [
        "Your organisation requires every module in 'nn'; add translations.nn."
    ]
    # Reported together with the schema's own errors, not instead of them.
    response = post(client, as_editor, doc(title="", translations={}))
    assert set(response.json["errors"]) == {"title", "translations"}
    assert len(response.json["errors"]["translations"]) == 2


def test_required_translation_of_the_own_language_is_not_needed(client, session, org, as_editor):
    org.settings = {"required_locales": ["nb", "en"]}
    session.flush()
    assert post(client, as_editor, doc()).status_code == 201


def test_another_organisations_image_does_not_exist_here(client, as_editor, as_other_org_admin):
    theirs = upload(client, as_other_org_admin, image_bytes()).json["id"]
    response = post(client, as_editor, doc(cards=[{"kind": "image", "media_id": theirs}]))
    assert response.status_code == 422
    assert "cards[0].media_id" in response.json["errors"]


def test_own_uploaded_image_is_accepted(client, as_editor):
    mine = upload(client, as_editor, image_bytes()).json["id"]
    cards = [{"kind": "image", "media_id": mine}, {"kind": "text", "body": "Tekst"}]
    response = post(client, as_editor, doc(cards=cards))
    assert response.status_code == 201, response.json


def test_prerequisite_of_another_organisation_is_unknown(client, session, other_org, as_editor):
    theirs = factories.publish_module(session, other_org, doc())
    response = post(client, as_editor, doc(prerequisites=[theirs.id]))
    assert response.json["errors"]["prerequisites[0]"] == [
        "No module with this id in your organisation."
    ]


def test_prerequisite_cannot_be_the_module_itself(client, as_editor, draft):
    response = client.put(
        f"{API}/modules/{draft['id']}",
        json=doc(prerequisites=[draft["id"]]),
        headers={**as_editor, "If-Match": draft["etag"]},
    )
    assert response.json["errors"]["prerequisites[0]"] == ["A module cannot require itself."]


def test_prerequisite_cycle_is_refused(client, session, org, as_editor, draft):
    # A published module that requires the draft: the draft may not require it back.
    other = factories.publish_module(session, org, doc(), prerequisite_ids=[draft["id"]])
    response = client.put(
        f"{API}/modules/{draft['id']}",
        json=doc(prerequisites=[other.id]),
        headers={**as_editor, "If-Match": draft["etag"]},
    )
    assert response.status_code == 422
    assert "cycle" in response.json["errors"]["prerequisites[0]"][0]


def test_valid_prerequisite_is_kept(client, as_editor, module, draft):
    response = client.put(
        f"{API}/modules/{draft['id']}",
        json=doc(prerequisites=[module.id]),
        headers={**as_editor, "If-Match": draft["etag"]},
    )
    assert response.status_code == 200
    assert response.json["prerequisites"] == [module.id]


def test_key_already_used_in_the_organisation(client, as_editor):
    create(client, as_editor, doc(key="kjolekjeden"))
    response = post(client, as_editor, doc(key="kjolekjeden"))
    assert response.json["errors"]["key"] == ["Another module of your organisation has this key."]


def test_two_problems_in_one_question_are_both_reported(client, as_editor):
    # A field error (empty prompt) used to hide the answer-key check of the same question.
    body = with_question(
        0, prompt="", choices=[{"text": "A", "correct": False}, {"text": "B", "correct": False}]
    )
    response = post(client, as_editor, body)
    assert response.status_code == 422
    errors = response.json["errors"]
    assert "questions[0].prompt" in errors
    assert errors["questions[0].choices"] == [
        "A single_choice question needs exactly one correct choice."
    ]


def test_every_answer_key_problem_of_a_question_is_reported(client, as_editor):
    body = with_question(
        0, choices=[{"text": "Ja", "correct": True}, {"text": " ja ", "correct": True}]
    )
    errors = post(client, as_editor, body).json["errors"]
    assert errors["questions[0].choices"] == [
        "A single_choice question needs exactly one correct choice.",
        "Two choices have the same text.",
    ]


def test_a_card_with_a_bad_field_still_gets_its_kind_checked(client, as_editor):
    body = doc(cards=[{"kind": "video", "body": 5}])
    errors = post(client, as_editor, body).json["errors"]
    assert "cards[0].body" in errors
    assert errors["cards[0].url"] == ["A video card needs a url."]


def test_an_invalid_choice_does_not_add_a_misleading_answer_key_error(client, as_editor):
    # One choice lacks `correct`: that is the error; counting the rest would invent another.
    body = with_question(0, choices=[{"text": "A"}, {"text": "B", "correct": False}])
    errors = post(client, as_editor, body).json["errors"]
    assert "questions[0].choices[0].correct" in errors
    assert "questions[0].choices" not in errors


def test_publish_reports_every_problem_of_the_draft(client, session, as_editor, draft):
    from app.content.models import Module

    module = session.get(Module, draft["id"])
    broken = copy.deepcopy(module.draft)
    broken["questions"][0]["prompt"] = ""
    broken["questions"][0]["choices"][0]["correct"] = False
    module.draft = broken
    session.flush()
    response = client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    assert response.status_code == 422
    assert {"questions[0].prompt", "questions[0].choices"} <= set(response.json["errors"])

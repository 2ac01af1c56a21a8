"""Warnings about guessable content and the package format's house rules, rule by rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.content.quality import module_warnings, package_warnings
from tests import factories


def single(prompt: str, options: list[str], right: int) -> dict[str, Any]:
    return {
        "kind": "single_choice",
        "prompt": prompt,
        "explanation": "Fordi.",
        "choices": [{"text": text, "correct": i == right} for i, text in enumerate(options)],
    }


def true_false(answer: bool) -> dict[str, Any]:
    return {
        "kind": "true_false",
        "prompt": "Påstand.",
        "explanation": "Fordi.",
        "choices": [{"text": "Sant", "correct": answer}, {"text": "Usant", "correct": not answer}],
    }


def document(*questions: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A module in the house style with these questions (no translation unless given)."""
    base = factories.module_document(translations={})
    base["cards"] = [*base["cards"], {"kind": "text", "body": "Meld avvik."}]
    if questions:
        base["questions"] = list(questions)
    base.update(changes)
    return base


def messages(found: dict[str, list[str]], field: str = "questions") -> list[str]:
    return found.get(field, [])


def test_a_module_in_the_house_style_has_no_warnings():
    assert module_warnings(document()) == {}


def test_the_test_factorys_module_is_warned_only_for_its_two_cards():
    assert module_warnings(factories.module_document()) == {
        "cards": ["Has 2 cards; a module should have 3 to 5."]
    }


@pytest.mark.parametrize(
    ("answers", "warned"),
    [
        ((False, False, False), True),
        ((True, True, True, False), True),  # 3 of 4 is more than seven in ten
        ((False, False, True), False),
        ((True, True, False, False, True), False),
        ((False, False), False),  # too few to call it a pattern
    ],
)
def test_one_true_false_answer_dominating_is_warned(answers, warned):
    found = messages(module_warnings(document(*(true_false(a) for a in answers))))
    assert any("true/false" in message for message in found) == warned, found


def test_the_right_option_longest_in_most_questions_is_warned_per_language():
    questions = [
        single("Hvor kaldt?", ["0–4 °C i hele kjeden", "8 °C", "12 °C"], 0),
        single("Hvor lenge?", ["1 time", "2 timer", "Til varen er sjekket helt"], 2),
        single("Hvem melder?", ["Kassen", "Den som oppdager avviket", "Sjefen"], 1),
        single("Hva først?", ["Veie", "Telle varene", "Ringe"], 0),
    ]
    found = messages(module_warnings(document(*questions)))
    assert found == [
        "The right option is the longest in 3 of the 4 single-choice questions in this module "
        "(nb): a learner who picks the longest passes."
    ]
    english = copy.deepcopy(questions)
    english[0]["choices"][0]["text"] = "4 °C"
    module = document(*questions)
    module["translations"] = {
        "en": {
            "title": "T",
            "cards": [{"body": "x"}] * 3,
            "questions": [
                {
                    "prompt": q["prompt"],
                    "explanation": "Because.",
                    "choices": [{"text": c["text"]} for c in q["choices"]],
                }
                for q in english
            ],
        }
    }
    # In English the first right option is no longer the longest: 2 of 4 is not most.
    assert not any("(en)" in m for m in messages(module_warnings(module)))


def test_the_right_option_shortest_in_most_questions_is_warned_too():
    questions = [
        single("Hvor kaldt?", ["4 °C", "8 °C eller mer", "Romtemperatur"], 0),
        single("Hvem melder?", ["Den som ser det", "Sjefen", "Kassen alene"], 1),
        single("Hva først?", ["Ringer lederen", "Venter en time", "Ring"], 2),
    ]
    assert messages(module_warnings(document(*questions))) == [
        "The right option is the shortest in 3 of the 3 single-choice questions in this "
        "module (nb): a learner who picks the shortest passes."
    ]


def test_the_right_option_in_the_same_position_in_most_questions_is_warned():
    options = ["a", "b", "c"]
    same = [single(f"Spørsmål {n}?", options, 1) for n in range(3)]
    varied = [*same[:2], single("Spørsmål 3?", options, 0), single("Spørsmål 4?", options, 2)]
    assert messages(module_warnings(document(*same))) == [
        "The right option is number 2 in 3 of the 3 single-choice questions in this module: "
        "vary its position."
    ]
    assert messages(module_warnings(document(*varied))) == []


def test_only_the_right_option_repeating_the_prompts_words_is_warned_where_it_happens():
    echo = single(
        "Hvilken temperatur skal kjølevarer ha?",
        ["Samme som rommet", "Kjølevarer skal ha 0–4 °C", "Under 10 °C"],
        1,
    )
    fair = single(
        "Hvilken temperatur skal kjølevarer ha?",
        ["Kjølevarer tåler 10 °C", "Kjølevarer skal ha 0–4 °C", "Under 10 °C"],
        1,
    )
    found = module_warnings(document(echo, true_false(True), true_false(False)))
    assert found == {
        "questions[0].choices": [
            "Only the right option repeats words of the prompt (nb): a learner can pick it "
            "without knowing the answer."
        ]
    }
    assert module_warnings(document(fair, true_false(True), true_false(False))) == {}


def test_house_rules_are_warned_with_their_field_paths():
    module = document(
        true_false(True),
        single("Hva?", ["a", "b"], 0),
        true_false(False),
        topic="baking",
        estimated_minutes=12,
    )
    module["questions"][0]["choices"].reverse()  # Usant first
    module["cards"] = module["cards"][:1]
    module["translations"] = {
        "en": {
            "title": "T",
            "cards": [{"body": "x"}],
            "questions": [
                {
                    "prompt": "p",
                    "explanation": "e",
                    "choices": [{"text": "False"}, {"text": "True"}],
                },
                {"prompt": "p", "explanation": "e", "choices": [{"text": "a"}, {"text": "b"}]},
                {"prompt": "p", "explanation": "e", "choices": [{"text": "Yes"}, {"text": "No"}]},
            ],
        }
    }
    found = module_warnings(module)
    assert set(found) == {
        "cards",
        "topic",
        "estimated_minutes",
        "questions[0].choices",
        "questions[1].choices",
        "translations.en.questions[0].choices",
        "translations.en.questions[2].choices",
    }
    assert found["questions[1].choices"] == [
        "Has 2 choices; a single_choice question should have 3 to 4."
    ]


def test_a_package_is_warned_as_a_whole_when_its_modules_pool_into_a_pattern():
    # Each module has only two true/false questions: too few to warn about, but together
    # every one of them is false.
    modules = {
        f"modules/m{n}.yaml": document(
            true_false(False), single("Hva?", ["a", "b", "c"], n), true_false(False), key=f"m{n}"
        )
        for n in range(3)
    }
    assert all(module_warnings(module) == {} for module in modules.values())
    found = package_warnings(modules)
    assert [(w.file, w.field) for w in found] == [(None, None)]
    assert found[0].message.startswith("6 of the 6 true/false questions in this package")
    modules["modules/m1.yaml"]["questions"][0] = true_false(True)
    modules["modules/m2.yaml"]["questions"][0] = true_false(True)
    assert package_warnings(modules) == []


@given(st.lists(st.booleans(), min_size=1, max_size=5))
def test_true_false_warning_holds_exactly_when_one_answer_is_at_least_three_and_over_70(answers):
    found = messages(module_warnings(document(*(true_false(a) for a in answers))))
    top = max(answers.count(True), answers.count(False))
    assert any("true/false" in m for m in found) == (top >= 3 and top > 0.7 * len(answers))

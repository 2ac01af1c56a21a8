"""Grading answers against a version's answer key. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SINGLE_ANSWER_KINDS = ("single_choice", "true_false")


@dataclass(frozen=True)
class KeyedQuestion:
    id: str
    kind: str
    choice_ids: tuple[str, ...]
    correct_choice_ids: tuple[str, ...]


@dataclass(frozen=True)
class AnswerKey:
    questions: dict[str, KeyedQuestion]


_keys: dict[str, AnswerKey] = {}


def answer_key(version_id: str, content: dict[str, Any]) -> AnswerKey:
    """The answer key of a version. Versions never change, so it is safe to keep per process."""
    key = _keys.get(version_id)
    if key is None:
        key = AnswerKey(
            questions={
                question["id"]: KeyedQuestion(
                    id=question["id"],
                    kind=question["kind"],
                    choice_ids=tuple(choice["id"] for choice in question["choices"]),
                    correct_choice_ids=tuple(
                        choice["id"] for choice in question["choices"] if choice["correct"]
                    ),
                )
                for question in content["questions"]
            }
        )
        if len(_keys) > 4096:
            _keys.clear()
        _keys[version_id] = key
    return key


def answer_problems(question: KeyedQuestion | None, choice_ids: list[str]) -> dict[str, list[str]]:
    """Why an answer cannot be graded, keyed by field; empty when it can."""
    if question is None:
        return {"question_id": ["Not a question of this attempt's module version."]}
    if not choice_ids:
        return {"choice_ids": ["Choose at least one answer."]}
    if len(set(choice_ids)) != len(choice_ids):
        return {"choice_ids": ["A choice is given more than once."]}
    unknown = [choice for choice in choice_ids if choice not in question.choice_ids]
    if unknown:
        return {"choice_ids": [f"Not a choice of this question: {choice}" for choice in unknown]}
    if question.kind in SINGLE_ANSWER_KINDS and len(choice_ids) != 1:
        return {"choice_ids": [f"A {question.kind} question takes exactly one choice."]}
    return {}


def is_correct(question: KeyedQuestion, choice_ids: list[str]) -> bool:
    return set(choice_ids) == set(question.correct_choice_ids)


def passed(correct: int, answered: int, total: int, threshold_percent: int) -> bool:
    """Every question answered and at least the threshold share right (docs/game-rules.md)."""
    return total > 0 and answered >= total and correct * 100 >= threshold_percent * total

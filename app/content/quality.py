"""Warnings about valid content that learners could pass by guessing, or that strays from the
package format's house rules (`content/README.md`). Pure rules: nothing here refuses a module.

Each warning carries a field path like validation errors do (`questions[2].choices`,
`translations.en.questions`). What cannot be judged honestly from the text alone (whether an
option answers its prompt at all, whether an explanation has one or two sentences) is not
checked.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

TOPICS = (
    "food-safety",
    "cold-chain",
    "customer-service",
    "checkout",
    "age-restricted-sales",
    "hms",
    "gdpr",
    "security",
)
CARDS = (3, 5)
QUESTIONS = (3, 5)
MINUTES = (2, 5)
CHOICES = {"single_choice": (3, 4), "multiple_choice": (3, 5)}
TRUE_FALSE_TEXTS = {"nb": ("Sant", "Usant"), "nn": ("Sant", "Usant"), "en": ("True", "False")}

# A pattern counts from this many questions on, and when it holds in more than this share.
MIN_QUESTIONS = 3
MOST = 0.5  # the right option longest, shortest or in one position: more than half
DOMINANT_ANSWER = 0.7  # one true/false answer: more than seven in ten

# Words too common to give an answer away, in the languages the content is written in.
_STOPWORDS = frozenset(
    """
    alle andre bare blir både denne dere deres dette disse eller etter fordi fra før gjør hadde
    han hans har hun hva hvem hvilke hvilken hvilket hvis hvor hvordan hvorfor ikke inn kan kunne
    med men mens noen når også over sier skal slik som til uten ved vil være vår våre
    about after also been before being does each from have into just more most must only other
    over should some such than that their them then there these they this those under very what
    when where which while will with would your
    """.split()  # noqa: SIM905 - a block of words reads better than a list of strings
)
_WORD = re.compile(r"[^\W\d_]{4,}")
_STEM = 5  # Norwegian and English inflect at the end: «kunden», «kundene» and «kunde» match


@dataclass(frozen=True)
class ContentWarning:
    """One warning: where (`file` for packages, `field` as in validation errors) and why."""

    file: str | None
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class Item:
    """A question as the rules see it: its kind, which options are right, and per language
    the field path of the question, its prompt and its option texts."""

    kind: str
    correct: tuple[bool, ...]
    texts: dict[str, tuple[str, str, tuple[str, ...]]]


def module_warnings(document: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every warning about one (valid) module document, keyed by field path."""
    found: dict[str, list[str]] = {}
    items = questions_of(document)
    for field, message in (
        *_house_rules(document, items),
        *(("questions", m) for m in _patterns(items, "this module")),
        *_echoes(items),
    ):
        found.setdefault(field, []).append(message)
    return found


def package_warnings(documents: Mapping[str, Mapping[str, Any]]) -> list[ContentWarning]:
    """Warnings about each module of a package (by file), then about the package as a whole:
    a pattern spread thin over many modules is as guessable as one inside a module."""
    found = [
        ContentWarning(file, field, message)
        for file, document in documents.items()
        for field, messages in module_warnings(document).items()
        for message in messages
    ]
    if len(documents) > 1:
        items = [item for document in documents.values() for item in questions_of(document)]
        found.extend(ContentWarning(None, None, m) for m in _patterns(items, "this package"))
    return found


def questions_of(document: Mapping[str, Any]) -> list[Item]:
    """The questions of a document with their texts in its own language and translations."""
    own = str(document.get("locale") or "nb")
    questions = _as_list(document.get("questions"))
    texts: list[dict[str, tuple[str, str, tuple[str, ...]]]] = [{} for _ in questions]
    languages: list[tuple[str, str, list[dict[str, Any]]]] = [(own, "questions", questions)]
    translations = document.get("translations")
    for locale, translation in (translations if isinstance(translations, dict) else {}).items():
        if isinstance(translation, dict) and locale != own:
            translated = _as_list(translation.get("questions"))
            languages.append((str(locale), f"translations.{locale}.questions", translated))
    for locale, prefix, translated in languages:
        for index, question in enumerate(translated[: len(questions)]):
            options = tuple(str(c.get("text") or "") for c in _as_list(question.get("choices")))
            texts[index][locale] = (
                f"{prefix}[{index}]",
                str(question.get("prompt") or ""),
                options,
            )
    return [
        Item(
            kind=str(question.get("kind")),
            correct=tuple(bool(c.get("correct")) for c in _as_list(question.get("choices"))),
            texts=texts[index],
        )
        for index, question in enumerate(questions)
    ]


# --- house rules ---------------------------------------------------------------------------


def _house_rules(document: Mapping[str, Any], items: list[Item]) -> Iterator[tuple[str, str]]:
    cards = _as_list(document.get("cards"))
    if not CARDS[0] <= len(cards) <= CARDS[1]:
        yield "cards", f"Has {len(cards)} cards; a module should have {CARDS[0]} to {CARDS[1]}."
    if not QUESTIONS[0] <= len(items) <= QUESTIONS[1]:
        yield (
            "questions",
            f"Has {len(items)} questions; a module should have {QUESTIONS[0]} to {QUESTIONS[1]}.",
        )
    if document.get("topic") not in TOPICS:
        yield "topic", f"Should be one of: {', '.join(TOPICS)}."
    minutes = document.get("estimated_minutes")
    if isinstance(minutes, int) and not MINUTES[0] <= minutes <= MINUTES[1]:
        yield "estimated_minutes", f"A nano-module takes {MINUTES[0]} to {MINUTES[1]} minutes."
    for index, item in enumerate(items):
        if (
            item.kind in CHOICES
            and not CHOICES[item.kind][0] <= len(item.correct) <= (CHOICES[item.kind][1])
        ):
            low, high = CHOICES[item.kind]
            yield (
                f"questions[{index}].choices",
                f"Has {len(item.correct)} choices; a {item.kind} question should have "
                f"{low} to {high}.",
            )
        if item.kind != "true_false":
            continue
        for locale, (path, _, options) in item.texts.items():
            expected = TRUE_FALSE_TEXTS.get(locale)
            if expected is not None and options != expected:
                yield (
                    f"{path}.choices",
                    f"A true_false question in {locale!r} has the choices {expected[0]!r} and "
                    f"{expected[1]!r}, in that order.",
                )


# --- guessability --------------------------------------------------------------------------


def _patterns(items: list[Item], where: str) -> Iterator[str]:
    """Answer patterns across questions that a learner could exploit without knowing."""
    answers = Counter(item.correct[0] for item in items if _is_true_false(item))
    if answers:
        answer, count = answers.most_common(1)[0]
        total = sum(answers.values())
        if count >= MIN_QUESTIONS and count > DOMINANT_ANSWER * total:
            yield (
                f"{count} of the {total} true/false questions in {where} are "
                f"{'true' if answer else 'false'}: a learner who always guesses that passes."
            )
    singles = [item for item in items if item.kind == "single_choice" and sum(item.correct) == 1]
    positions = Counter(item.correct.index(True) for item in singles)
    if positions:
        position, count = positions.most_common(1)[0]
        if count >= MIN_QUESTIONS and count > MOST * len(singles):
            yield (
                f"The right option is number {position + 1} in {count} of the {len(singles)} "
                f"single-choice questions in {where}: vary its position."
            )
    locales = sorted({locale for item in singles for locale in item.texts})
    # Making every right option short is as easy to spot as making it long.
    for locale in locales:
        asked = [item for item in singles if locale in item.texts]
        for extreme, sign in (("longest", 1), ("shortest", -1)):
            count = sum(1 for item in asked if _right_is_extreme(item, locale, sign))
            if count >= MIN_QUESTIONS and count > MOST * len(asked):
                yield (
                    f"The right option is the {extreme} in {count} of the {len(asked)} "
                    f"single-choice questions in {where} ({locale}): a learner who picks the "
                    f"{extreme} passes."
                )


def _echoes(items: list[Item]) -> Iterator[tuple[str, str]]:
    for item in items:
        if item.kind not in CHOICES:
            continue
        for locale, (path, prompt, options) in item.texts.items():
            if len(options) == len(item.correct) >= 3 and _only_right_echoes(
                prompt, options, item.correct
            ):
                yield (
                    f"{path}.choices",
                    f"Only the right option repeats words of the prompt ({locale}): a learner "
                    "can pick it without knowing the answer.",
                )


def _is_true_false(item: Item) -> bool:
    return item.kind == "true_false" and len(item.correct) == 2 and sum(item.correct) == 1


def _right_is_extreme(item: Item, locale: str, sign: int) -> bool:
    """Whether the one right option is strictly longer (sign 1) or shorter (sign -1) than
    every wrong one, in one language."""
    options = item.texts[locale][2]
    if len(options) != len(item.correct) or len(options) < 3:
        return False
    lengths = [sign * len(text.strip()) for text in options]
    right = max(n for n, ok in zip(lengths, item.correct, strict=True) if ok)
    return right > max(n for n, ok in zip(lengths, item.correct, strict=True) if not ok)


def _only_right_echoes(prompt: str, options: tuple[str, ...], correct: tuple[bool, ...]) -> bool:
    """Every right option shares a word with the prompt and no wrong option does."""
    words = _stems(prompt)
    if not words:
        return False
    echoes = [bool(_stems(option) & words) for option in options]
    rights = [echo for echo, ok in zip(echoes, correct, strict=True) if ok]
    wrongs = [echo for echo, ok in zip(echoes, correct, strict=True) if not ok]
    return bool(rights) and all(rights) and bool(wrongs) and not any(wrongs)


def _stems(text: str) -> set[str]:
    words = (word.casefold() for word in _WORD.findall(text))
    return {word[:_STEM] for word in words if word not in _STOPWORDS}


def _as_list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []

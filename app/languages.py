"""The caller's languages, best first: their own setting, then the request's
Accept-Language, then their organisation's default. One rule for every view that localises
(module texts, feedback, paths, reviews, badge titles), and the texts of our own that users
read (`in_language`: lock reasons, ledger reasons, the anonymous name on boards...)."""

from __future__ import annotations

from collections.abc import Mapping

from flask import request

from app.auth.guard import current_principal

SUPPORTED_LOCALES = ("nb", "nn", "en")


def caller_locales() -> list[str]:
    principal = current_principal()
    wanted = [principal.locale] if principal.locale else []
    accepted = request.accept_languages.best_match(SUPPORTED_LOCALES)
    # "no" (Norwegian) in a phone's settings means bokmål for our content.
    if not accepted and request.accept_languages.best_match(["no"]):
        accepted = "nb"
    if accepted:
        wanted.append(accepted)
    return [*wanted, principal.organization.default_locale]


def in_language(texts: Mapping[str, str], locale: str | None) -> str:
    """One of our own texts (not content) in `locale`: nynorsk falls back to bokmål, any
    other missing language to English, which every text has."""
    if locale and locale in texts:
        return texts[locale]
    if locale == "nn" and "nb" in texts:
        return texts["nb"]
    return texts["en"]


def caller_locale() -> str:
    """The one language to answer the caller in (the first of `caller_locales`)."""
    return caller_locales()[0]

"""The caller's languages, best first: their own setting, then the request's
Accept-Language, then their organisation's default. One rule for every view that localises
(module texts, feedback, paths, reviews, badge titles)."""

from __future__ import annotations

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

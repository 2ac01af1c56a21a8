"""The managers' figures as pure functions: rates, who needs follow-up and why, in words.

Nothing here reads the clock or the database; `now` and the facts are passed in. The
definitions are written out for people in `docs/insights.md`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEFAULT_INACTIVE_DAYS = 14


def rate(numerator: int, denominator: int) -> float | None:
    """A share between 0 and 1 rounded to four decimals; None when nothing was counted."""
    if denominator <= 0:
        return None
    return round(numerator / denominator, 4)


def score(correct: int, total: int) -> float | None:
    """The share of questions answered right over the attempts counted; None without any."""
    return rate(correct, total)


@dataclass(frozen=True, slots=True)
class Assignment:
    """A module of a person's paths in a week: mandatory in any of them, due at the earliest
    due time of the paths that make it mandatory (None: no due time)."""

    module_id: str
    mandatory: bool
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class RequirementFact:
    """Where one person stands on one requirement (`paths.rules.requirement_state`)."""

    requirement_id: str
    module_id: str
    title: str
    status: str  # valid | expiring | expired | missing
    valid_until: datetime | None
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a person needs follow-up: a machine code, its parameters and a sentence."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self, locales: Iterable[str]) -> dict[str, Any]:
        return {"code": self.code, "text": reason_text(self, locales), **self.params}


def follow_up_reasons(
    *,
    assignments: Iterable[Assignment],
    completed: set[str],
    module_titles: Mapping[str, str],
    requirements: Iterable[RequirementFact],
    last_active_at: datetime | None,
    member_since: datetime,
    inactive_days: int,
    now: datetime,
) -> list[Reason]:
    """Everything a manager should act on for one person, most pressing first: mandatory work
    past its due time, requirements expired or missing past their due time, requirements
    expiring within the window, and no learning for `inactive_days` or more."""
    reasons: list[Reason] = []
    overdue = sorted(
        (a for a in assignments if a.mandatory and a.module_id not in completed),
        key=lambda a: a.module_id,
    )
    overdue = [a for a in overdue if a.due_at is not None and a.due_at <= now]
    if overdue:
        reasons.append(
            Reason(
                "mandatory_overdue",
                {
                    "count": len(overdue),
                    "module_ids": [a.module_id for a in overdue],
                    "modules": [module_titles.get(a.module_id, a.module_id) for a in overdue],
                },
            )
        )
    for fact in sorted(requirements, key=lambda f: (f.title, f.requirement_id)):
        base = {"requirement_id": fact.requirement_id, "module_id": fact.module_id}
        if fact.status == "expired" and fact.valid_until is not None:
            days = (now - fact.valid_until).days
            reasons.append(
                Reason("requirement_expired", {**base, "requirement": fact.title, "days": days})
            )
        elif fact.status == "missing" and fact.due_at is not None and fact.due_at <= now:
            days = (now - fact.due_at).days
            reasons.append(
                Reason("requirement_overdue", {**base, "requirement": fact.title, "days": days})
            )
    for fact in sorted(requirements, key=lambda f: (f.valid_until or now, f.requirement_id)):
        if fact.status == "expiring" and fact.valid_until is not None:
            days = max(0, (fact.valid_until - now).days)
            reasons.append(
                Reason("requirement_expiring", {"requirement_id": fact.requirement_id,
                                                "module_id": fact.module_id,
                                                "requirement": fact.title, "days": days})
            )  # fmt: skip
    if last_active_at is None:
        days = (now - member_since).days
        if days >= inactive_days:
            reasons.append(Reason("never_active", {"days": days}))
    else:
        days = (now - last_active_at).days
        if days >= inactive_days:
            reasons.append(Reason("inactive", {"days": days}))
    return reasons


# --- words ---------------------------------------------------------------------------------

_TEXTS: dict[str, dict[str, str]] = {
    "nb": {
        "mandatory_overdue.1": "obligatorisk modul på overtid ({modules})",
        "mandatory_overdue.n": "{count} obligatoriske moduler på overtid ({modules})",
        "requirement_expired": "{requirement} gikk ut for {days} dager siden",
        "requirement_overdue": "{requirement} mangler, skulle vært tatt for {days} dager siden",
        "requirement_expiring": "{requirement} går ut om {days} dager",
        "inactive": "ikke aktiv på {days} dager",
        "never_active": "ikke aktiv ennå ({days} dager siden start)",
    },
    "nn": {
        "mandatory_overdue.1": "obligatorisk modul på overtid ({modules})",
        "mandatory_overdue.n": "{count} obligatoriske modular på overtid ({modules})",
        "requirement_expired": "{requirement} gjekk ut for {days} dagar sidan",
        "requirement_overdue": "{requirement} manglar, skulle vore teken for {days} dagar sidan",
        "requirement_expiring": "{requirement} går ut om {days} dagar",
        "inactive": "ikkje aktiv på {days} dagar",
        "never_active": "ikkje aktiv enno ({days} dagar sidan start)",
    },
    "en": {
        "mandatory_overdue.1": "mandatory module overdue ({modules})",
        "mandatory_overdue.n": "{count} mandatory modules overdue ({modules})",
        "requirement_expired": "{requirement} expired {days} days ago",
        "requirement_overdue": "{requirement} missing, was due {days} days ago",
        "requirement_expiring": "{requirement} expires in {days} days",
        "inactive": "not active for {days} days",
        "never_active": "not active yet ({days} days since start)",
    },
}


def pick_language(locales: Iterable[str]) -> str:
    """The first of the caller's languages that has texts (English otherwise)."""
    return next((locale for locale in locales if locale in _TEXTS), "en")


def reason_text(reason: Reason, locales: Iterable[str]) -> str:
    texts = _TEXTS[pick_language(locales)]
    key = reason.code
    if key == "mandatory_overdue":
        key += ".1" if reason.params.get("count") == 1 else ".n"
    params = dict(reason.params)
    if "modules" in params:
        params["modules"] = ", ".join(params["modules"])
    return texts[key].format(**params)


def reasons_text(reasons: Iterable[Reason], locales: Iterable[str]) -> str:
    """One line for a spreadsheet cell."""
    return "; ".join(reason_text(reason, locales) for reason in reasons)

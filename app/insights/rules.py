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
    requirements: Iterable[RequirementFact],
    last_active_at: datetime | None,
    member_since: datetime,
    inactive_days: int,
    now: datetime,
) -> list[Reason]:
    """Everything a manager should act on for one person, most pressing first: mandatory work
    past its due time, requirements expired or missing past their due time, requirements
    expiring within the window, and no learning for `inactive_days` or more. The reasons name
    modules and requirements by id only, so they hold for every language; `with_titles` adds
    the titles for the caller."""
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
                {"count": len(overdue), "module_ids": [a.module_id for a in overdue]},
            )
        )
    # By id here; `with_titles` orders these by title in the caller's language.
    for fact in sorted(requirements, key=lambda f: f.requirement_id):
        base = {"requirement_id": fact.requirement_id, "module_id": fact.module_id}
        if fact.status == "expired" and fact.valid_until is not None:
            days = (now - fact.valid_until).days
            reasons.append(Reason("requirement_expired", {**base, "days": days}))
        elif fact.status == "missing" and fact.due_at is not None and fact.due_at <= now:
            days = (now - fact.due_at).days
            reasons.append(Reason("requirement_overdue", {**base, "days": days}))
    for fact in sorted(requirements, key=lambda f: (f.valid_until or now, f.requirement_id)):
        if fact.status == "expiring" and fact.valid_until is not None:
            days = max(0, (fact.valid_until - now).days)
            reasons.append(
                Reason(
                    "requirement_expiring",
                    {"requirement_id": fact.requirement_id, "module_id": fact.module_id,
                     "days": days},
                )
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


_BY_TITLE = ("requirement_expired", "requirement_overdue")


def with_titles(reasons: Iterable[Reason], titles: Mapping[str, str]) -> list[Reason]:
    """The reasons with the titles of their modules and requirements in the caller's language
    (`modules`, `requirement`), expired and overdue requirements ordered by that title."""
    titled: list[Reason] = []
    for reason in reasons:
        params = dict(reason.params)
        if "module_ids" in params:
            params["modules"] = [titles.get(m, m) for m in params["module_ids"]]
        elif "requirement_id" in params:
            params["requirement"] = titles.get(params["module_id"], params["module_id"])
        titled.append(Reason(reason.code, params))
    ordered = iter(
        sorted(
            (r for r in titled if r.code in _BY_TITLE),
            key=lambda r: (r.params["requirement"], r.params["requirement_id"]),
        )
    )
    return [next(ordered) if r.code in _BY_TITLE else r for r in titled]


def cache_use(age: float, max_age: float, took: float = 0.0) -> str:
    """What to do with figures computed `age` seconds ago (in `took` seconds) when none may be
    shown older than `max_age`: `use` them until it is time to `refresh` them (one process
    recomputes, everyone still gets them), early enough for the refresh to be done before the
    bound (twice as long as they took, at least a second, at most half the bound); at
    `max_age` or beyond, `recompute` (and also when they were computed for a later moment
    than now: a clock set back, a past `now`)."""
    if age < 0 or age >= max_age:
        return "recompute"
    ahead = min(max_age / 2, max(1.0, 2 * took))
    return "use" if age < max_age - ahead else "refresh"


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

"""The pure parts of the insights cache: when kept figures may be shown, and titling reasons."""

from __future__ import annotations

from app.insights.rules import Reason, cache_use, with_titles


def test_kept_figures_are_used_then_refreshed_then_never_shown_at_the_bound():
    # Quick to compute: refreshed from a second before the bound.
    assert [cache_use(age, 4, took=0.05) for age in (0, 2.99, 3, 3.99, 4, 60)] == [
        "use", "use", "refresh", "refresh", "recompute", "recompute",
    ]  # fmt: skip
    # Slow (a region): from twice as long before it, but never before half the bound.
    assert [cache_use(age, 4, took=0.75) for age in (2.49, 2.5)] == ["use", "refresh"]
    assert [cache_use(age, 4, took=3) for age in (1.99, 2)] == ["use", "refresh"]
    # Computed for a later moment than now (a past `now` asked, a clock set back): recompute.
    assert cache_use(-0.5, 4) == "recompute"


def test_titles_are_added_in_the_callers_language_and_order_the_requirements():
    reasons = [
        Reason("mandatory_overdue", {"count": 2, "module_ids": ["m1", "m2"]}),
        Reason("requirement_expired", {"requirement_id": "r1", "module_id": "m3", "days": 3}),
        Reason("requirement_overdue", {"requirement_id": "r2", "module_id": "m4", "days": 1}),
        Reason("requirement_expiring", {"requirement_id": "r3", "module_id": "m5", "days": 9}),
        Reason("inactive", {"days": 20}),
    ]
    titles = {"m1": "Kjølekjeden", "m2": "Allergener", "m3": "Truck", "m4": "Hygiene"}
    titled = with_titles(reasons, titles)
    assert [r.code for r in titled] == [
        "mandatory_overdue", "requirement_overdue", "requirement_expired",
        "requirement_expiring", "inactive",
    ]  # fmt: skip
    assert titled[0].params["modules"] == ["Kjølekjeden", "Allergener"]
    assert [r.params.get("requirement") for r in titled[1:4]] == ["Hygiene", "Truck", "m5"]
    assert (
        titled[0].as_dict(["en"])["text"] == "2 mandatory modules overdue (Kjølekjeden, Allergener)"
    )
    assert "modules" not in reasons[0].params  # the kept reasons are left as they were

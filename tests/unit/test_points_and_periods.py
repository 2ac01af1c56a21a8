"""Points rules, levels, periods (ISO week 53, DST) and composite scores as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.gamification import rules as points
from app.leaderboards import rules


def test_org_rules_override_the_defaults_and_ignore_unknown_keys():
    merged = points.points_rules({"points": {"per_correct_answer": 3, "daily_cap": 50, "x": 1}})
    assert merged == {
        "per_correct_answer": 3,
        "first_try_bonus": 5,
        "completion_bonus": 20,
        "perfect_score_bonus": 15,
        "daily_cap": 50,
    }
    assert points.points_rules({}) == points.DEFAULT_POINTS_RULES


@pytest.mark.parametrize(
    ("pay", "earned_today", "cap", "expected"),
    [(10, 0, None, 10), (10, 95, 100, 5), (10, 100, 100, 0), (10, 120, 100, 0), (10, 0, 100, 10)],
)
def test_daily_cap(pay, earned_today, cap, expected):
    assert points.capped(pay, earned_today=earned_today, daily_cap=cap) == expected


def test_answer_payments_use_source_keys_that_pay_only_improvement():
    rules_ = points.points_rules({})
    first = points.answer_payments(
        rules_, module_id="M", question_id="Q", nth_correct=2, first_try=True
    )
    assert [(p.points, p.source) for p in first] == [
        (10, "module:M:correct:2"),
        (5, "module:M:first-try:Q"),
    ]
    again = points.answer_payments(
        rules_, module_id="M", question_id="Q", nth_correct=2, first_try=False
    )
    assert [p.source for p in again] == ["module:M:correct:2"]


def test_completion_payments():
    rules_ = points.points_rules({})
    assert [
        p.points for p in points.completion_payments(rules_, module_id="M", correct=3, total=3)
    ] == [20, 15]
    assert [
        p.points for p in points.completion_payments(rules_, module_id="M", correct=2, total=3)
    ] == [20]


@pytest.mark.parametrize(
    ("total", "number", "to_next"),
    [(0, 1, 100), (99, 1, 1), (100, 2, 150), (10_999, 12, 1), (11_000, 13, None), (-5, 1, 105)],
)
def test_levels(total, number, to_next):
    level = points.level_for(total)
    assert (level.number, level.points_to_next) == (number, to_next)


def test_iso_week_53_exists_in_2026_and_not_in_2025():
    period = rules.parse_period("week", "2026-W53", "Europe/Oslo")
    assert period.start == datetime(2026, 12, 27, 23, 0, tzinfo=UTC)
    assert period.end == datetime(2027, 1, 3, 23, 0, tzinfo=UTC)
    # New Year's Eve 2026 in Oslo is in 2026-W53, and so is 2 January 2027.
    assert (
        rules.period_at("week", datetime(2027, 1, 2, 12, tzinfo=UTC), "Europe/Oslo").key
        == "2026-W53"
    )
    with pytest.raises(ValueError, match="not a week"):
        rules.parse_period("week", "2025-W53", "Europe/Oslo")


@pytest.mark.parametrize(
    "text", ["2026-48", "2026W48", "W48", "2026-W00", "2026-W54", "", "2026-W4"]
)
def test_bad_weeks(text):
    with pytest.raises(ValueError):
        rules.parse_period("week", text, "UTC")


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "26-11", "all"])
def test_bad_months(text):
    with pytest.raises(ValueError):
        rules.parse_period("month", text, "UTC")


def test_all_time_has_one_period():
    assert rules.parse_period("all_time", "all", "UTC").key == "all"
    with pytest.raises(ValueError):
        rules.parse_period("all_time", "2026", "UTC")


def test_dst_weeks_are_an_hour_shorter_or_longer():
    spring = rules.parse_period("week", "2026-W13", "Europe/Oslo")  # clocks go forward 29 March
    autumn = rules.parse_period("week", "2026-W43", "Europe/Oslo")  # clocks go back 25 October
    assert spring.end - spring.start == timedelta(hours=167)
    assert autumn.end - autumn.start == timedelta(hours=169)
    # The week starts at local midnight on Monday, whatever the offset.
    assert spring.start == datetime(2026, 3, 22, 23, tzinfo=UTC)
    assert autumn.end == datetime(2026, 10, 25, 23, tzinfo=UTC)


def test_periods_follow_the_organisations_time_zone():
    moment = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)  # Sunday evening in UTC
    assert rules.period_at("week", moment, "Europe/Oslo").key == "2026-W48"
    assert rules.period_at("week", moment, "Pacific/Auckland").key == "2026-W49"  # Monday there
    assert (
        rules.period_at("month", datetime(2026, 11, 30, 23, 30, tzinfo=UTC), "Europe/Oslo").key
        == "2026-12"
    )


@pytest.mark.parametrize("window", rules.WINDOWS)
def test_composite_scores_are_exact_in_a_double_and_order_correctly(window):
    period = rules.period_at(window, datetime(2026, 11, 25, tzinfo=UTC), "Europe/Oslo")
    biggest = rules.composite(window, rules.MAX_POINTS[window], rules.FACTOR[window] - 1)
    assert biggest < 2**53 and float(biggest) == biggest
    early = rules.ticks_left(period, period.start + timedelta(seconds=10))
    late = rules.ticks_left(period, period.end - timedelta(hours=2))
    assert rules.composite(window, 50, early) > rules.composite(window, 50, late)
    assert rules.composite(window, 51, 0) > rules.composite(window, 50, rules.FACTOR[window] - 1)
    assert rules.split(window, float(rules.composite(window, 50, early))) == (50, early)


@given(
    moments=st.lists(
        st.datetimes(
            min_value=datetime(2020, 1, 1),
            max_value=datetime(2030, 12, 31),
            timezones=st.just(UTC),
        ),
        min_size=1,
        max_size=30,
    ),
    window=st.sampled_from(["week", "month", "all_time"]),
    timezone=st.sampled_from(["Europe/Oslo", "America/New_York", "Pacific/Auckland"]),
)
def test_the_remembered_current_period_is_always_the_period_of_now(moments, window, timezone):
    """Board reads remember the current period; clocks that jump back and forth (and across
    DST changes and year ends) still get the period that contains them."""
    from app.leaderboards.service import _current_period

    for moment in moments:
        assert _current_period(window, moment, timezone) == rules.period_at(
            window, moment, timezone
        )


LINEAGE = {"kasse": ("kasse", "store", "region"), "store": ("store", "region"), "lager": ("lager",)}


def test_an_award_counts_for_its_department_and_every_department_above_it():
    award = rules.Award("u1", "kasse", 10, datetime(2026, 11, 25, 10, tzinfo=UTC))
    keys = {(p.window, board, member) for p, board, member in rules.board_keys(
        award, "Europe/Oslo", LINEAGE["kasse"]
    )}  # fmt: skip
    for window in rules.WINDOWS:
        assert {(b, m) for w, b, m in keys if w == window} == {
            ("users:org", "u1"),
            *((f"users:dept:{d}", "u1") for d in ("kasse", "store", "region")),
            *(("depts", d) for d in ("kasse", "store", "region")),
        }
    alone = rules.board_keys(award, "Europe/Oslo")  # no lineage: the department alone
    assert {board for _, board, _ in alone} == {"users:org", "users:dept:kasse", "depts"}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["u1", "u2", "u3"]),
            st.sampled_from([None, "kasse", "store", "lager"]),
            st.integers(1, 30),
            st.integers(0, 6 * 24 * 3600),
        ),
        max_size=30,
    )
)
def test_a_tally_rolls_up_as_the_awards_one_by_one_would(rows):
    """The rebuild's roll-up (once per member) equals counting each award on every board
    `board_keys` names (what the live updates do)."""
    start = datetime(2026, 11, 23, 0, tzinfo=UTC)
    awards = [rules.Award(u, d, p, start + timedelta(seconds=s)) for u, d, p, s in rows]
    expected: dict = {}
    for award in awards:
        line = LINEAGE[award.department_id] if award.department_id else None
        for period, board, member in rules.board_keys(award, "UTC", line):
            slot = expected.setdefault((period.window, period.key, board), {}).get(member)
            points, reached = (0, award.earned_at) if slot is None else slot
            expected[(period.window, period.key, board)][member] = (
                points + award.points,
                max(reached, award.earned_at),
            )
    tallied = rules.tally(awards, "UTC", LINEAGE.__getitem__)
    assert {
        key: {m: (s.points, s.reached_at) for m, s in standings.items()}
        for key, standings in tallied.items()
    } == expected

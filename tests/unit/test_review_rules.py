"""The Leitner scheduler: properties that must hold for any sequence of answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.reviews import rules

moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
boxes = st.integers(min_value=1, max_value=rules.TOP_BOX)
gaps = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400))


@given(boxes, moments, gaps)
def test_intervals_never_shrink_after_a_right_answer(box, due_at, late):
    card = rules.Card(box, due_at)
    now = due_at + late
    after = rules.after_review(card, correct=True, now=now)
    assert after.box >= card.box
    assert after.due_at - now >= rules.interval(card.box)
    again = rules.after_review(after, correct=True, now=after.due_at)
    assert again.due_at - after.due_at >= after.due_at - now


@given(boxes, moments, gaps)
def test_a_wrong_answer_brings_the_question_back_soon(box, due_at, late):
    now = due_at + late
    after = rules.after_review(rules.Card(box, due_at), correct=False, now=now)
    assert after.box == 1
    assert now < after.due_at <= now + timedelta(days=1)


@given(st.lists(st.booleans(), min_size=1, max_size=30), moments)
def test_any_answer_sequence_keeps_cards_in_range_and_in_the_future(answers, start):
    card = rules.first_card(correct=answers[0], now=start)
    now = start
    for correct in answers[1:]:
        now = card.due_at
        card = rules.after_review(card, correct=correct, now=now)
        assert 1 <= card.box <= rules.TOP_BOX
        assert card.due_at > now


@given(st.booleans(), moments)
def test_first_card_wrong_comes_back_first(correct, now):
    card = rules.first_card(correct=correct, now=now)
    wrong = rules.first_card(correct=False, now=now)
    assert wrong.due_at <= card.due_at
    assert wrong.due_at == now + timedelta(days=1)


@given(
    st.lists(moments, max_size=20),
    moments,
    st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=120)),
)
def test_the_away_hold_shifts_every_due_date_by_the_time_away(dues, now, away):
    shift = rules.hold_shift(now=now, current_until=None, new_until=now + away)
    assert shift == away
    shifted = rules.shift_all(dues, shift)
    assert [after - before for before, after in zip(dues, shifted, strict=True)] == [away] * len(
        dues
    )


@given(
    moments,
    st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=60)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)),
)
def test_ending_a_hold_early_gives_back_the_unused_time(start, planned, used):
    until = start + planned
    shift_in = rules.hold_shift(now=start, current_until=None, new_until=until)
    back = start + min(used, planned)
    shift_out = rules.hold_shift(now=back, current_until=until, new_until=None)
    # Net effect: due dates moved on by exactly the time actually away.
    assert shift_in + shift_out == back - start


@given(moments, st.timedeltas(min_value=timedelta(days=1), max_value=timedelta(days=60)))
def test_moving_the_return_date_moves_due_dates_by_the_difference(now, away):
    first = now + away
    later = first + timedelta(days=3)
    assert rules.hold_shift(now=now, current_until=first, new_until=later) == timedelta(days=3)
    assert rules.hold_shift(now=now, current_until=None, new_until=now - away) == timedelta(0)


@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30))
def test_sampling_is_stable_and_respects_the_extremes(user_id, question_id):
    assert rules.sampled(user_id, question_id, 0) is False
    assert rules.sampled(user_id, question_id, 100) is True
    assert rules.sampled(user_id, question_id, 37) == rules.sampled(user_id, question_id, 37)

"""The store screens' pure rules."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.screens import rules


def test_a_token_is_stored_as_its_sha256() -> None:
    token = secrets.token_urlsafe(rules.TOKEN_BYTES)
    assert rules.looks_like_token(token)
    assert rules.hash_token(token) == hashlib.sha256(token.encode()).hexdigest()


def test_only_token_shaped_strings_are_looked_up() -> None:
    assert not rules.looks_like_token("a" * 42)
    assert not rules.looks_like_token("a" * 44)
    assert not rules.looks_like_token("a" * 42 + "/")
    assert rules.looks_like_token("A-_" + "9" * 40)


def test_path_completion_counts_people_with_a_path() -> None:
    weeks = [
        [(2, 2), (1, 1)],  # done
        [(2, 2), (0, 1)],  # one path left
        [],  # no path this week: not counted
        [(0, 0)],  # an empty path: not counted
        [(3, 3)],  # done
    ]
    assert rules.path_completion(weeks) == (2, 3)


@given(st.lists(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=3)))
def test_never_more_done_than_counted(weeks: list[list[tuple[int, int]]]) -> None:
    done, of = rules.path_completion(weeks)
    assert 0 <= done <= of <= len(weeks)


def test_opted_out_learners_are_a_colleague_on_a_screen() -> None:
    assert rules.screen_name("Kari", False, "en kollega") == "Kari"
    assert rules.screen_name("Kari", True, "en kollega") == "en kollega"
    assert rules.screen_name(None, False, "a colleague") == "a colleague"


def test_the_etag_follows_the_content_only() -> None:
    content = {"board": [{"rank": 1, "name": "Kari", "points": 30}], "path": None}
    same = {"path": None, "board": [{"points": 30, "name": "Kari", "rank": 1}]}
    assert rules.content_etag(content) == rules.content_etag(same)
    other = {"board": [{"rank": 1, "name": "Kari", "points": 31}], "path": None}
    assert rules.content_etag(content) != rules.content_etag(other)


def test_refresh_windows_are_shorter_while_competing() -> None:
    moment = datetime(2026, 12, 6, 10, 0, 59, tzinfo=UTC)
    later = datetime(2026, 12, 6, 10, 1, 1, tzinfo=UTC)
    assert rules.refresh_bucket(moment, competing=True) != rules.refresh_bucket(
        later, competing=True
    )
    assert rules.refresh_bucket(moment, competing=False) == rules.refresh_bucket(
        later, competing=False
    )


def test_an_event_frame_has_its_id_type_and_data_and_ends_with_a_blank_line() -> None:
    frame = rules.event_frame(b'{"a": 1}', event="screen", event_id='"abc"')
    assert frame == b'id: "abc"\nevent: screen\ndata: {"a": 1}\n\n'


def test_data_of_several_lines_is_a_data_line_each() -> None:
    assert rules.event_frame("one\ntwo") == b"data: one\ndata: two\n\n"
    assert rules.event_frame("") == b"data: \n\n"


@given(st.text(alphabet=st.characters(blacklist_characters="\r\n\x00"), max_size=40))
def test_any_one_line_id_frames_as_one_field(value: str) -> None:
    frame = rules.event_frame("x", event_id=value).decode()
    assert frame.split("\n")[0] == f"id: {value}" and frame.endswith("\n\n")
    assert frame.count("\n\n") == 1  # one event: one blank line, at its end


def test_an_id_or_type_of_two_lines_is_refused() -> None:
    with pytest.raises(ValueError):
        rules.event_frame("x", event_id="a\nb")
    with pytest.raises(ValueError):
        rules.event_frame("x", event="a\rb")


def test_the_heartbeat_is_an_event_the_page_sees_and_retry_a_field() -> None:
    # A data line that is not empty: a browser dispatches no event without data.
    assert rules.heartbeat_frame() == b"event: ping\ndata: {}\n\n"
    assert rules.retry_frame(5000) == b"retry: 5000\n\n"


def test_a_stream_opens_with_the_screen_unless_the_browser_has_it() -> None:
    assert rules.send_first_screen(None, '"e1"')
    assert rules.send_first_screen('"e0"', '"e1"')
    assert not rules.send_first_screen('"e1"', '"e1"')

"""Pure rules of the store screens: the link's secret, what the TV shows, and its version."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

# 32 random bytes, URL-safe base64 without padding: 43 characters, 256 bits.
TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")

# How many learners the TV lists: a board readable across a room.
BOARD_SIZE = 10
# How often a TV asks whether anything changed, in seconds (see benchmarks/README.md).
POLL_SECONDS = 5
# What nothing announces (a renamed colleague, a new hire, other stores' points in a
# competition) shows within these many seconds: while the store is in a competition, its
# place moves with the others' points; otherwise only names and head counts can change.
COMPETING_REFRESH_SECONDS = 60
# A department's screen is rendered at most this often: a lone change shows at once (within
# the stream watcher's second), a department answering all at once sees its screen move
# every this many seconds. Renderings are shared by every process and TV of a department,
# so this bounds the screens' rendering work by the number of busy departments, not of TVs
# (see docs/screens.md, "How soon a change shows").
RENDER_MIN_SECONDS = 3
# What nothing announces outside a competition (a rename, a new hire, a new path this week)
# shows within these many seconds.
QUIET_REFRESH_SECONDS = 300


def hash_token(token: str) -> str:
    """What is stored of a link's secret: its sha256, hex (the secret has 256 bits of
    entropy, so a fast hash is enough: nobody can guess their way back)."""
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(token: str) -> bool:
    """Whether `token` could be a secret we issued (anything else is a 404 without a query)."""
    return _TOKEN_SHAPE.fullmatch(token) is not None


def path_completion(weeks: Iterable[Sequence[tuple[int, int]]]) -> tuple[int, int]:
    """(done, of): of the people with a path this week, how many completed every module of
    every one of them; each week is its paths' (completed, total)."""
    done = of = 0
    for paths in weeks:
        counted = [(completed, total) for completed, total in paths if total > 0]
        if not counted:
            continue
        of += 1
        done += all(completed >= total for completed, total in counted)
    return done, of


def screen_name(display_name: str | None, department_only: bool, colleague: str) -> str:
    """How a learner is named on a TV: a screen hangs where others pass by, so whoever chose
    to be named only to their own department is "a colleague" there."""
    if display_name is None or department_only:
        return colleague
    return display_name


def refresh_bucket(now: datetime, *, competing: bool) -> int:
    """Which refresh window `now` falls in (part of the screen's version)."""
    seconds = COMPETING_REFRESH_SECONDS if competing else QUIET_REFRESH_SECONDS
    return int(now.timestamp()) // seconds


def rendering_current(same_stamp: bool, rendered_at: float | None, moment: float) -> bool:
    """Whether the kept rendering is what a TV should show at `moment` (unix seconds): its
    inputs have not moved, or it is younger than RENDER_MIN_SECONDS (while a department's
    board keeps changing, its screen moves every RENDER_MIN_SECONDS, not at every change)."""
    if same_stamp:
        return True
    return rendered_at is not None and 0 <= moment - rendered_at < RENDER_MIN_SECONDS


def stamp(*parts: object) -> str:
    """A version of the screen's inputs: equal stamps, equal screens."""
    return "|".join("" if part is None else str(part) for part in parts)


def content_etag(content: Mapping[str, Any]) -> str:
    """The ETag of what the screen shows (without its `changed_at`, which follows from it)."""
    digest = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f'"{digest[:32]}"'


# --- the event stream (`/screens/<token>/events`) -------------------------------------------

# What a browser waits before reconnecting a dropped stream by itself (the page closes a
# dropped stream and asks `/live` first, so this matters only to other clients).
STREAM_RETRY_MS = 5000
# Beyond its process's cap, a stream is refused with 503 and this Retry-After: the page
# polls `/live` meanwhile.
STREAM_REFUSED_RETRY_AFTER_SECONDS = 60


def event_frame(
    data: bytes | str, *, event: str | None = None, event_id: str | None = None
) -> bytes:
    """One Server-Sent Event: `id:` (what a reconnecting browser sends as Last-Event-ID),
    `event:` (its type; a message without), and its data, a `data:` line per line of it."""
    if isinstance(data, bytes):
        data = data.decode()
    lines = []
    if event_id is not None:
        lines.append(f"id: {_one_line(event_id)}")
    if event is not None:
        lines.append(f"event: {_one_line(event)}")
    lines.extend(f"data: {line}" for line in data.splitlines() or [""])
    return ("\n".join(lines) + "\n\n").encode()


def heartbeat_frame() -> bytes:
    """What a quiet stream sends every so often: an event, not a comment, because the page
    must see it (EventSource dispatches no comments) to tell a quiet stream from a server
    that froze; a proxy sees bytes either way."""
    return event_frame("{}", event="ping")


def retry_frame(milliseconds: int) -> bytes:
    """How long a browser waits before reconnecting by itself."""
    return f"retry: {int(milliseconds)}\n\n".encode()


def _one_line(value: str) -> str:
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError("an event's id or type is one line")
    return value


def send_first_screen(last_event_id: str | None, etag: str) -> bool:
    """Whether a stream opens with the screen: not for a browser that has it already (its
    Last-Event-ID is the screen's ETag)."""
    return last_event_id != etag

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
# A department's screen is rendered at most this often: a lone change shows at the next poll,
# a department answering all at once sees its screen move every this many seconds.
RENDER_MIN_SECONDS = 10
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

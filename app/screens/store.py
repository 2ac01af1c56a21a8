"""The screens' adapter to Redis: what a screen's version is made of, and the last rendered
screen of each department, shared by every process.

A TV asks every few seconds whether anything changed. Answering that takes one command (an
MGET) and no query: the department's board version (counted up by every award to one of its
people, in the boards' own update script), the boards' build token (new with every
rebuild), the department's count of completed modules (`note_completions`, after each
completion's commit) and the screen last rendered for the department, with its stamp and
ETag. Only when the stamp moved is the screen rendered again, and then for every process and
every TV of the department at once (`keep_rendered`). The rendering travels with every poll:
a couple of kilobytes cost less than a second round trip for the TVs that need it.

Reading this state does not mark the organisation's boards as read (a board read does), so
a TV's poll never makes the next answer announce itself to every process.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from app.leaderboards import store as boards

# Rendered screens outlive a quiet weekend; a stamp that moved renders anew anyway.
KEPT_SECONDS = 3 * 24 * 3600


# Outside the boards' `nl:{org}:` keys (scanned by their rebuilds), in the organisation's
# hash slot all the same (the `{org}` tag), so that one MGET reads them with the boards'.


def rendered_key(org_id: str, department_id: str) -> str:
    return f"nl:screens:{{{org_id}}}:rendered:{department_id}"


def completions_key(org_id: str, department_id: str) -> str:
    """Counted up after every commit that completed a module of one of the department's
    people: what the screen's path completion is computed for."""
    return f"nl:screens:{{{org_id}}}:completions:{department_id}"


@dataclass(frozen=True, slots=True)
class Rendered:
    """A department's screen as last rendered: its body, ETag and time of the last change,
    and the stamp of the inputs it was rendered from, when (unix seconds)."""

    stamp: str
    etag: str
    rendered_at: float
    changed_at: str
    body: bytes

    def encode(self) -> bytes:
        # The stamp, ETag and times hold no tab or newline (versions, tokens, ISO times).
        head = "\t".join((self.stamp, self.etag, repr(self.rendered_at), self.changed_at))
        return head.encode() + b"\n" + self.body

    @classmethod
    def decode(cls, raw: bytes) -> Rendered | None:
        head, _, body = raw.partition(b"\n")
        parts = head.decode().split("\t")
        if len(parts) != 4:
            return None  # written by another version of this code: render anew
        stamp, etag, rendered_at, changed_at = parts
        return cls(stamp, etag, float(rendered_at), changed_at, body)


@dataclass(frozen=True, slots=True)
class ScreenState:
    board_version: str | None  # the department's weekly board version (None: no points yet)
    built: str | None  # the organisation's boards' build token (None: not built)
    completions: str | None  # the department's completions count (None: none counted)
    rendered: Rendered | None  # the department's screen as last rendered, if kept


def read_state(client: redis.Redis, org_id: str, department_id: str, period: str) -> ScreenState:
    """The inputs' versions and the last rendering, in one command (the keys share the
    organisation's hash slot, so this holds on a Redis Cluster too)."""
    return _state(client.mget(_state_keys(org_id, department_id, period)))


def read_states(
    client: redis.Redis, departments: Sequence[tuple[str, str, str]]
) -> list[ScreenState]:
    """`read_state` of each (organisation, department, period), in one round trip: what a
    process's stream watcher asks every second for the departments it has streams open for."""
    pipe = client.pipeline(transaction=False)
    for org_id, department_id, period in departments:
        pipe.mget(_state_keys(org_id, department_id, period))
    return [_state(values) for values in pipe.execute()]


def _state_keys(org_id: str, department_id: str, period: str) -> list[str]:
    return [
        boards.version_key(org_id, f"users:dept:{department_id}", "week", period),
        boards.built_key(org_id),
        completions_key(org_id, department_id),
        rendered_key(org_id, department_id),
    ]


def _state(values: Sequence[Any]) -> ScreenState:
    version, built, completions, rendered = values
    return ScreenState(
        _text(version),
        _text(built),
        _text(completions),
        Rendered.decode(bytes(rendered)) if rendered is not None else None,
    )


def keep_rendered(client: redis.Redis, org_id: str, department_id: str, rendered: Rendered) -> None:
    client.set(rendered_key(org_id, department_id), rendered.encode(), ex=KEPT_SECONDS)


def note_completions(client: redis.Redis, departments: Iterable[tuple[str, str]]) -> None:
    """Count a completion for each (organisation, department), in one round trip."""
    pipe = client.pipeline(transaction=False)
    for org_id, department_id in departments:
        key = completions_key(org_id, department_id)
        pipe.incr(key)
        pipe.expire(key, KEPT_SECONDS)
    pipe.execute()


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value

"""The screens' adapter to Redis: what a screen's version is made of, and the last rendered
screen of each department, shared by every process.

A TV asks every few seconds whether anything changed. Answering that takes at most one round
trip: the department's board version (counted up by every award to one of its people, in the
boards' own update script), the boards' build token (new with every rebuild), and the stamp
and ETag of the screen last rendered for the department. Only when the stamp moved is the
screen rendered again (once, by whichever process gets there first). A process keeps what it
read until a change of the organisation's boards is announced (`service.live_screen`).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from app.leaderboards import store as boards

# Rendered screens outlive a quiet weekend; a stamp that moved renders anew anyway.
KEPT_SECONDS = 3 * 24 * 3600


def rendered_key(org_id: str, department_id: str) -> str:
    return f"nl:{{{org_id}}}:screen:{department_id}"


@dataclass(frozen=True, slots=True)
class ScreenState:
    board_version: str | None  # the department's weekly board version (None: no points yet)
    built: str | None  # the organisation's boards' build token (None: not built)
    stamp: str | None  # of the screen last rendered for the department
    etag: str | None
    rendered_at: float | None  # when (unix seconds)


def read_state(
    client: redis.Redis, org_id: str, department_id: str, period: str, *, held_for: int
) -> ScreenState:
    """The inputs' versions and the last rendering's stamp and ETag, in one round trip. Like
    a board read, it sets the organisation's reads-held mark, so that the next change of its
    boards is announced to every process (which may then keep this answer until it is)."""
    pipe = client.pipeline(transaction=False)
    pipe.set(boards.reads_held_key(org_id), 1, ex=held_for)
    pipe.get(boards.version_key(org_id, f"users:dept:{department_id}", "week", period))
    pipe.get(boards.built_key(org_id))
    pipe.hmget(rendered_key(org_id, department_id), ["stamp", "etag", "rendered_at"])
    _, version, built, (stamp, etag, rendered_at) = pipe.execute()
    return ScreenState(
        _text(version),
        _text(built),
        _text(stamp),
        _text(etag),
        float(rendered_at) if rendered_at is not None else None,
    )


@dataclass(frozen=True, slots=True)
class Rendered:
    etag: str
    body: bytes
    changed_at: str


def read_rendered(client: redis.Redis, org_id: str, department_id: str) -> Rendered | None:
    etag, body, changed_at = client.hmget(
        rendered_key(org_id, department_id), ["etag", "body", "changed_at"]
    )
    if etag is None or body is None or changed_at is None:
        return None
    return Rendered(_text(etag) or "", bytes(body), _text(changed_at) or "")


def keep_rendered(
    client: redis.Redis,
    org_id: str,
    department_id: str,
    stamp: str,
    rendered: Rendered,
    rendered_at: float,
) -> None:
    key = rendered_key(org_id, department_id)
    pipe = client.pipeline(transaction=True)
    pipe.hset(
        key,
        mapping={
            "stamp": stamp,
            "etag": rendered.etag,
            "body": rendered.body,
            "changed_at": rendered.changed_at,
            "rendered_at": repr(rendered_at),
        },
    )
    pipe.expire(key, KEPT_SECONDS)
    pipe.execute()


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value

"""What a board read needs, cached per process so a read costs no query and, while the
organisation's boards are unchanged, no Redis round trip either: what Redis answered, the
names and privacy choices of the learners shown, whether the organisation's boards await a
repair, and the active members per department.

- What Redis answered is kept per organisation until any of its boards changes: a board
  update publishes the organisation's key on the invalidation channel from inside its own
  script (`store.apply_increments`) whenever a read came since the last such message (every
  read marks the organisation, `store.reads_held_key`), the updating process drops its copy
  at once, and a rebuild publishes after its swap.
- Names and privacy choices are dropped everywhere (`app.caching`) when a flush changes a
  user's display name or department or a learner's board visibility (`_forget_changed`).
- The repair marker is dropped when it is set (after a failed board update, outside any
  request's transaction) and when a rebuild clears it. A process that missed the message
  (its subscription outlived a Redis outage) sees the marker within `REPAIR_CHECK_SECONDS`.
- Member counts are not invalidated: they live for a minute in a Redis hash that every
  process shares (stamped with a random token in its "" field) and for a minute here.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

import redis
from sqlalchemy import Select, String, any_, bindparam, event, func, inspect, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app.caching import LocalCache, invalidate, invalidate_committed
from app.leaderboards import store
from app.leaderboards.models import BoardRepair
from app.orgs.models import User

log = logging.getLogger(__name__)

T = TypeVar("T")


# --- what Redis answered ---------------------------------------------------------------------

# How long an answer is kept at most. Changes do not wait for it: an update announces itself
# from inside its own script, and a process whose subscription dropped empties its caches.
# It bounds what nothing announces (a lost publish after a rebuild's swap). Each viewer has
# answers of their own: with a thousand viewers rereading a quiet organisation's boards (the
# load test), one read in six missed at 60 seconds, and a miss costs a round trip and about
# half a remembered read's CPU again.
READS_SECONDS = 300
# How long a read marks the organisation's boards as read (`store.reads_held_key`): longer
# than any process keeps its answer, by a margin for the time between the read and keeping it.
READS_HELD_SECONDS = READS_SECONDS + 60
READS_KEPT_PER_ORG = 5_000  # reads per organisation (each viewer's own, per board) at most

# org id -> {what was asked: (until when, what Redis answered)}. The dict under an
# organisation fills as its boards are read and is replaced, never emptied in place, when they
# change; each answer also expires on its own, so a missed announcement is bounded and the
# answers do not all lapse at once.
_reads: LocalCache[dict[tuple[Any, ...], tuple[float, Any]]] = LocalCache(
    "leaderboards.reads", ttl=10 * READS_SECONDS
)


def remembered_read(org_id: str, asked: tuple[Any, ...], read: Callable[[], T]) -> T:
    """What Redis answered to `asked` since the organisation's boards last changed (within
    `READS_SECONDS`), or `read()` (kept unless a change was announced while it ran)."""
    held = _reads.get(org_id)
    now = time.monotonic()
    if held is not None:
        until, answer = held.get(asked, (0.0, None))
        if until > now:
            known: T = answer
            return known
    generation = _reads.generation
    fresh = read()
    entry = (now + READS_SECONDS, fresh)
    if held is None:
        _reads.put(org_id, {asked: entry}, loaded_at=generation)
    elif _reads.generation == generation and len(held) < READS_KEPT_PER_ORG:
        held[asked] = entry  # an announced change replaces `held` rather than emptying it
    return fresh


def change_announcement(org_id: str) -> str:
    """The invalidation message a board update publishes (`app.caching` reads it)."""
    return json.dumps({"cache": _reads.name, "keys": [org_id]})


def boards_changed(org_ids: Iterable[str]) -> None:
    """Forget this process's copies at once; the update's own message tells the others."""
    _reads.drop(list(org_ids))


def boards_rebuilt(org_id: str) -> None:
    invalidate_committed(_reads, org_id)


# --- names and privacy -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoardName:
    display_name: str
    department_id: str | None
    department_only: bool  # leaderboard_visibility "department": "a colleague" to outsiders


_names: LocalCache[BoardName] = LocalCache("leaderboards.names", ttl=600)


def _names_statement(dialect: str) -> Select[str, str, str | None, str]:
    from app.gamification.models import PlayerProfile

    ids = (
        User.id == any_(bindparam("ids", type_=postgresql.ARRAY(String)))
        if dialect == "postgresql"  # one array parameter: the same SQL for any number of ids
        else User.id.in_(bindparam("ids", expanding=True))
    )
    return (
        select(User.id, User.display_name, User.department_id, PlayerProfile.leaderboard_visibility)
        .outerjoin(PlayerProfile, PlayerProfile.user_id == User.id)
        .where(ids)
    )


_names_statements: dict[str, Select[str, str, str | None, str]] = {}  # per dialect, built once


def board_names(session: Session, user_ids: Iterable[str]) -> dict[str, BoardName]:
    """{user id: name facts} for the users that exist; one query for those not cached."""

    def load(missing: list[str]) -> dict[str, BoardName]:
        connection = session.connection()
        dialect = connection.dialect.name
        statement = _names_statements.get(dialect)
        if statement is None:
            statement = _names_statements[dialect] = _names_statement(dialect)
        return {
            user_id: BoardName(display_name, department_id, visibility == "department")
            for user_id, display_name, department_id, visibility in connection.execute(
                statement, {"ids": missing}
            )
        }

    return _names.fetch_many(user_ids, load, session=session)


_NAME_FIELDS = ("display_name", "department_id")


@event.listens_for(Session, "after_flush")
def _forget_changed(session: Session, _flush_context: Any) -> None:
    """A renamed or moved user, or a changed board visibility, is shown anew everywhere."""
    from app.gamification.models import PlayerProfile

    changed: list[str] = []
    for obj in session.dirty:
        if isinstance(obj, User):
            attrs = inspect(obj).attrs
            if any(attrs[field].history.has_changes() for field in _NAME_FIELDS):
                changed.append(obj.id)
        elif (
            isinstance(obj, PlayerProfile)
            and inspect(obj).attrs.leaderboard_visibility.history.has_changes()
        ):
            changed.append(obj.user_id)
    for obj in session.new:  # the first profile of a user may come with a visibility
        if isinstance(obj, PlayerProfile) and obj.leaderboard_visibility not in (None, "everyone"):
            changed.append(obj.user_id)
    if changed:
        invalidate(session, _names, *changed)


# --- the repair marker -----------------------------------------------------------------------

REPAIR_CHECK_SECONDS = 30

_repairs: LocalCache[bool] = LocalCache("leaderboards.repairs", ttl=REPAIR_CHECK_SECONDS)


def needs_repair(session: Session, org_id: str) -> bool:
    """Whether a board update of the organisation failed since its last rebuild."""
    marked = _repairs.fetch(
        org_id,
        lambda: (
            session.scalar(select(BoardRepair.org_id).where(BoardRepair.org_id == org_id))
            is not None
        ),
    )
    return bool(marked)


def repair_marked(org_ids: Iterable[str]) -> None:
    """The organisations were marked for repair (committed outside any request's session)."""
    invalidate_committed(_repairs, *org_ids)


def repair_cleared(session: Session, org_id: str) -> None:
    invalidate(session, _repairs, org_id)


def repair_marked_in(session: Session, org_ids: Iterable[str]) -> None:
    """The organisations were marked for repair in `session`'s transaction."""
    invalidate(session, _repairs, *org_ids)


# --- active members per department -----------------------------------------------------------

MEMBER_COUNTS_SECONDS = 60


@dataclass(frozen=True, slots=True)
class MemberCounts:
    stamp: str  # the "" field of the Redis hash these came from
    counts: Mapping[str, int]  # department id -> active members


_member_counts: LocalCache[MemberCounts] = LocalCache(
    "leaderboards.member_counts", ttl=MEMBER_COUNTS_SECONDS
)


def member_counts(
    session: Session, client: redis.Redis, org_id: str, stamp: str | None
) -> MemberCounts:
    """{department id: active members} for the whole organisation (every department's points
    per member are needed to rank any of them). `stamp`: the Redis hash's "" field as read
    with the board (None: there was no hash). Counting scans the organisation's users
    (100 000 at a large retailer), so the counts are shared in Redis for a minute and kept
    here for a minute too: a new hire or a deactivation shows within two. (The stamp of a
    board read cannot tell whether this copy is older than the hash: that read may be
    remembered from before the copy was loaded.)"""
    cached = _member_counts.get(org_id)
    if cached is not None:
        return cached
    generation = _member_counts.generation
    loaded = _load_member_counts(session, client, org_id, known=stamp is not None)
    _member_counts.put(org_id, loaded, loaded_at=generation)
    return loaded


def _load_member_counts(
    session: Session, client: redis.Redis, org_id: str, *, known: bool
) -> MemberCounts:
    cache_key = store.member_counts_key(org_id)
    if known:
        try:
            fields = client.hgetall(cache_key)
        except redis.RedisError:
            fields = {}
        stamp = fields.pop(b"", None)
        if stamp is not None:
            return MemberCounts(
                stamp.decode(),
                MappingProxyType({dep.decode(): int(count) for dep, count in fields.items()}),
            )
    counts = _count_active_members(session, org_id)
    stamp_text = secrets.token_hex(8)
    try:
        with client.pipeline(transaction=True) as pipe:
            # The "" field stamps this counting, and marks an organisation without members as
            # counted too.
            mapping: dict[str | bytes, int | str] = {"": stamp_text}
            mapping.update(counts)
            pipe.delete(cache_key)
            pipe.hset(cache_key, mapping=mapping)
            pipe.expire(cache_key, MEMBER_COUNTS_SECONDS)
            pipe.execute()
    except redis.RedisError:
        log.warning("could not cache member counts of %s", org_id)
    return MemberCounts(stamp_text, MappingProxyType(counts))


def _count_active_members(session: Session, org_id: str) -> dict[str, int]:
    rows = session.execute(
        select(User.department_id, func.count())
        .where(User.org_id == org_id, User.active.is_(True), User.department_id.is_not(None))
        .group_by(User.department_id)
    )
    return {dep_id: int(count) for dep_id, count in rows if dep_id is not None}


def members_stamp(client: redis.Redis, org_id: str) -> str | None:
    """The stamp of the shared member counts, for reads that did not fetch it with the board."""
    try:
        stamp = client.hget(store.member_counts_key(org_id), "")
    except redis.RedisError:
        return None
    return None if stamp is None else bytes(stamp).decode()

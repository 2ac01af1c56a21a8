"""The boards in Redis: one sorted set per organisation, board and period.

Keys: `nl:{<org_id>}:<board>:<window>:<period>` where board is `users:org`,
`users:dept:<department_id>` or `depts`, e.g. `nl:{01J...}:users:dept:01K...:week:2026-W48`.
The `{org}` hash tag keeps one organisation's keys in one Redis Cluster slot, so an update
script and a rebuild's MULTI/RENAME may touch several of them at once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.exceptions import NoScriptError

from app.leaderboards import rules
from app.redis_connections import is_cluster


class _Lua:
    """A script of this module, run by its SHA1 (EVALSHA) and loaded into Redis when Redis
    lacks it. redis-py's `register_script` would hash the text again on every call, which
    cost a board read from Redis a twentieth of its CPU."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()

    def __call__(self, client: redis.Redis, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:  # a new or restarted Redis
            client.script_load(self.text)
            return client.evalsha(self.sha, len(keys), *keys, *args)


# Adds points to a member and keeps the ticks of the later achievement (the smaller number),
# so the result does not depend on the order in which awards arrive, and counts the board's
# version up (`version_key`); then announces the change on a pub/sub channel, if given, when
# a reader may hold an answer from before it (`reads_held_key`).
# KEYS: board, its version key, board, its version key..., then the organisation's
# reads-held mark; ARGV per board: member, points, ticks, factor, expire-at (unix seconds,
# 0 = never); then the channel ('' for none) and the message.
_ADD = _Lua(
    """
for i = 1, #KEYS - 1, 2 do
  local key, version = KEYS[i], KEYS[i + 1]
  local base = (i - 1) / 2 * 5
  local member = ARGV[base + 1]
  local points = tonumber(ARGV[base + 2])
  local ticks = tonumber(ARGV[base + 3])
  local factor = tonumber(ARGV[base + 4])
  local expire_at = tonumber(ARGV[base + 5])
  local old = redis.call('ZSCORE', key, member)
  if old then
    old = tonumber(old)
    local old_points = math.floor(old / factor)
    local old_ticks = old - old_points * factor
    points = points + old_points
    if old_ticks < ticks then ticks = old_ticks end
  end
  redis.call('ZADD', key, string.format('%.0f', points * factor + ticks), member)
  redis.call('INCR', version)
  if expire_at > 0 then
    redis.call('EXPIREAT', key, expire_at)
    redis.call('EXPIREAT', version, expire_at)
  end
end
if ARGV[#ARGV - 1] ~= '' and redis.call('DEL', KEYS[#KEYS]) == 1 then
  redis.call('PUBLISH', ARGV[#ARGV - 1], ARGV[#ARGV])
end
return (#KEYS - 1) / 2
"""
)

# Archived periods are read from the database; their keys linger this long for readers in flight.
ARCHIVED_KEY_GRACE_SECONDS = 3600
# Keys of a period expire on their own this long after it ends, even if archiving never runs.
PERIOD_KEY_LIFETIME_SECONDS = 40 * 24 * 3600


def key(org_id: str, board: str, window: str, period: str) -> str:
    return f"nl:{{{org_id}}}:{board}:{window}:{period}"


def version_key(org_id: str, board: str, window: str, period: str) -> str:
    """A board's version: counted up by every update (outside the board keys' pattern). With
    the built marker's token (new with every rebuild) it names the board's content."""
    return f"nl:{{{org_id}}}:version:{board}:{window}:{period}"


def member_counts_key(org_id: str) -> str:
    """A short-lived hash of active members per department (outside the board keys' pattern)."""
    return f"nl:members:{{{org_id}}}"


def reads_held_key(org_id: str) -> str:
    """Present while a process may hold an answer of the organisation's boards that an update
    would make stale: every read sets it, and an update announces itself only when it takes
    it away. Announcing every update instead cost each process a wake-up per answer (about
    0.13 ms of CPU per message, measured in a test process); now a stream of answers with
    nobody reading the boards announces nothing, and a read between answers costs one
    announcement.
    It expires when no remembered read can still be held (the read says how long)."""
    return f"nl:{{{org_id}}}:reads-held"


# The boards' layout: `v2` counts an award on the boards of every department above its own
# too. A deploy that changes the layout changes the marker's name, so every organisation's
# boards are rebuilt on their next read, as after a Redis that lost its data.
BOARDS_LAYOUT = "v2"


def built_key(org_id: str) -> str:
    """Present while the organisation's boards are complete (a lost Redis loses it too)."""
    return f"nl:{{{org_id}}}:built:{BOARDS_LAYOUT}"


def expire_at(period: rules.Period) -> int:
    if period.window == "all_time":
        return 0
    return int(period.end.timestamp()) + PERIOD_KEY_LIFETIME_SECONDS


@dataclass(frozen=True)
class Increment:
    org_id: str
    board: str
    period: rules.Period
    member: str
    points: int
    ticks: int


def apply_increments(
    client: redis.Redis,
    increments: Sequence[Increment],
    *,
    channel: str = "",
    announcement: Callable[[str], str] | None = None,
) -> None:
    """Add every increment in one round trip (one script call per organisation), each
    organisation's call publishing `announcement(org_id)` on `channel` when given."""
    by_org: dict[str, list[Increment]] = {}
    for inc in increments:
        by_org.setdefault(inc.org_id, []).append(inc)
    calls: list[tuple[list[str], list[str | int]]] = []
    for org_id, items in by_org.items():
        keys: list[str] = []
        for i in items:
            parts = (org_id, i.board, i.period.window, i.period.key)
            keys += [key(*parts), version_key(*parts)]
        keys.append(reads_held_key(org_id))
        args: list[str | int] = []
        for i in items:
            args += [
                i.member,
                i.points,
                i.ticks,
                rules.FACTOR[i.period.window],
                expire_at(i.period),
            ]
        args += [channel, announcement(org_id) if announcement and channel else ""]
        calls.append((keys, args))
    if len(calls) == 1 or is_cluster(client):
        # One organisation (every answer): EVALSHA alone, loading the script only if Redis
        # lacks it; a pipeline would ask SCRIPT EXISTS first, a second round trip. On a Redis
        # Cluster each organisation's call goes to its own node (whose script cache it fills).
        for call in calls:
            _ADD(client, *call)
        return
    # Several organisations in one commit (a job's): the pipeline loads the script if need be.
    script = client.register_script(_ADD.text)
    pipe = client.pipeline(transaction=False)
    for keys, args in calls:
        script(keys=keys, args=args, client=pipe)
    pipe.execute()


@dataclass(frozen=True)
class BoardRead:
    top: list[tuple[str, float]]  # (member, composite), best first
    my_rank: int | None  # 1-based
    my_score: float | None
    built: bool
    exists: bool
    members_stamp: str | None = None  # see `member_counts_key`


# One board read in one round trip and one reply: the top (member, score, member, score...),
# whether the board and the built marker exist, my rank and score, and the member-count
# stamp; and it sets the reads-held mark unless the answer is not held (0 seconds). (A
# pipeline of the same commands cost redis-py five encodings, five replies and a score
# conversion per row.) KEYS: board, built marker, member counts, reads-held mark; ARGV: the
# last rank to return (-1: everyone), me ('' for nobody), seconds the answer may be held.
_READ = _Lua(
    """
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[4], '1', 'EX', ARGV[3])
end
local top = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]), 'WITHSCORES')
local rank, score = false, false
if ARGV[2] ~= '' then
  rank = redis.call('ZREVRANK', KEYS[1], ARGV[2])
  score = redis.call('ZSCORE', KEYS[1], ARGV[2])
end
return {top, redis.call('EXISTS', KEYS[1]), redis.call('EXISTS', KEYS[2]), rank, score,
        redis.call('HGET', KEYS[3], '')}
"""
)


def read_board(
    client: redis.Redis,
    *,
    org_id: str,
    board: str,
    window: str,
    period: str,
    limit: int,
    me: str | None,
    held_for: int,
) -> BoardRead:
    """Top `limit` (limit <= 0: everyone), my place and the member-count stamp, in one round
    trip; the caller may keep the answer `held_for` seconds (`reads_held_key`; 0: it keeps
    nothing, and the next update need not announce itself)."""
    keys = [
        key(org_id, board, window, period),
        built_key(org_id),
        member_counts_key(org_id),
        reads_held_key(org_id),
    ]
    top, exists, built, rank, score, stamp = _READ(
        client, keys, [limit - 1 if limit > 0 else -1, me or "", held_for]
    )
    return BoardRead(
        top=[(_text(top[i]), float(top[i + 1])) for i in range(0, len(top), 2)],
        my_rank=None if rank is None else int(rank) + 1,
        my_score=None if score is None else float(score),
        built=bool(built),
        exists=bool(exists),
        members_stamp=None if stamp is None else _text(stamp),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class WholeBoard:
    tag: str | None  # names the board's content: an equal tag, an equal board (None: missing)
    entries: list[tuple[str, int]] | None  # (member, composite) best first; None: as held
    built: bool
    members_stamp: str | None


# The whole board unless the reader holds it already: its tag is the rebuild's token (in the
# built marker) and the board's version; it sets the reads-held mark. KEYS: board, version,
# built marker, member counts, reads-held mark; ARGV: the tag the reader holds ('' for
# none), seconds the answer may be held.
_READ_WHOLE = _Lua(
    """
redis.call('SET', KEYS[5], '1', 'EX', ARGV[2])
local built = redis.call('GET', KEYS[3])
local stamp = redis.call('HGET', KEYS[4], '')
if redis.call('EXISTS', KEYS[1]) == 0 then return {false, built, stamp, {}} end
local tag = (built or '') .. '/' .. (redis.call('GET', KEYS[2]) or '0')
if built and tag == ARGV[1] then return {tag, built, stamp, false} end
return {tag, built, stamp, redis.call('ZREVRANGE', KEYS[1], 0, -1, 'WITHSCORES')}
"""
)


def read_whole_board(
    client: redis.Redis,
    *,
    org_id: str,
    board: str,
    window: str,
    period: str,
    held: str | None,
    held_for: int,
) -> WholeBoard:
    """Every member of a board with its score, unless the board is still the one `held` (its
    tag), in one round trip: a reader that ranks every member (departments per member) gets,
    parses and ranks 2 000 values only when the board changed."""
    parts = (org_id, board, window, period)
    keys = [
        key(*parts),
        version_key(*parts),
        built_key(org_id),
        member_counts_key(org_id),
        reads_held_key(org_id),
    ]
    tag, built, stamp, pairs = _READ_WHOLE(client, keys, [held or "", held_for])
    entries = None
    if pairs is not None:
        entries = [(_text(pairs[i]), int(float(pairs[i + 1]))) for i in range(0, len(pairs), 2)]
    return WholeBoard(
        tag=None if tag is None else _text(tag),
        entries=entries,
        built=built is not None,
        members_stamp=None if stamp is None else _text(stamp),
    )


def replace_org_boards(
    client: redis.Redis,
    org_id: str,
    boards: dict[tuple[str, str, str], list[tuple[str, int]]],
    periods: dict[tuple[str, str], rules.Period],
) -> int:
    """Write every board of one organisation to temporary keys, then swap them in atomically.

    `boards` maps (window, period, board) to ranked (member, composite). Keys of the
    organisation that the rebuild did not produce are deleted in the same transaction.
    """
    token = secrets.token_hex(6)
    tmp_prefix = f"nl:{{{org_id}}}:tmp:{token}:"
    pipe = client.pipeline(transaction=False)
    renames: list[tuple[str, str]] = []
    for (window, period_key, board), entries in boards.items():
        if not entries:
            continue
        final = key(org_id, board, window, period_key)
        tmp = tmp_prefix + final
        for start in range(0, len(entries), 5000):
            chunk = entries[start : start + 5000]
            pipe.zadd(tmp, {member: score for member, score in chunk})
        when = expire_at(periods[(window, period_key)])
        if when:
            pipe.expireat(tmp, when)
        renames.append((tmp, final))
    pipe.execute()
    existing = set(_org_board_keys(client, org_id)) - {final for _, final in renames}
    keys = [name for pair in renames for name in pair] + sorted(existing) + [built_key(org_id)]
    _SWAP(client, keys, [len(renames), token])
    return len(renames)


# Renames the rebuilt boards over the live ones, deletes the organisation's boards the rebuild
# did not produce and sets the built marker's new token (every board's tag changes), all at
# once. A script rather than MULTI/EXEC: Redis Cluster clients refuse multi-key commands such
# as RENAME in a pipeline, and every key here shares the organisation's slot. KEYS: temporary,
# final, temporary, final..., then the stale boards, then the built marker; ARGV: the number of
# renames, the token.
_SWAP = _Lua(
    """
local renames = tonumber(ARGV[1])
for i = 1, renames * 2, 2 do
  redis.call('RENAME', KEYS[i], KEYS[i + 1])
end
for i = renames * 2 + 1, #KEYS - 1 do
  redis.call('DEL', KEYS[i])
end
redis.call('SET', KEYS[#KEYS], ARGV[2])
return renames
"""
)


def _org_board_keys(client: redis.Redis, org_id: str) -> Iterable[str]:
    prefix = f"nl:{{{org_id}}}:"
    for pattern in ("users:*", "depts:*"):
        for name in client.scan_iter(match=_escape(prefix) + pattern, count=1000):
            yield name.decode() if isinstance(name, bytes) else name


def _escape(text: str) -> str:
    # `{` and `}` are literal in glob patterns except `[`, `*`, `?` and `\`: escape those only.
    return "".join("\\" + ch if ch in "[]*?\\" else ch for ch in text)


def expire_period(client: redis.Redis, org_id: str, window: str, period: str) -> None:
    """Let an archived period's keys go soon (readers now use the archive)."""
    pipe = client.pipeline(transaction=False)
    suffix = f":{window}:{period}"
    for name in _org_board_keys(client, org_id):
        if name.endswith(suffix):
            pipe.expire(name, ARCHIVED_KEY_GRACE_SECONDS)
    pipe.execute()


def forget_built(client: redis.Redis, org_id: str) -> None:
    client.delete(built_key(org_id))


def acquire_rebuild_lock(client: redis.Redis, org_id: str, seconds: int = 120) -> bool:
    """At most one repair per organisation at a time (it expires if its holder dies)."""
    return bool(client.set(f"nl:{{{org_id}}}:rebuilding", "1", nx=True, ex=seconds))


def release_rebuild_lock(client: redis.Redis, org_id: str) -> None:
    client.delete(f"nl:{{{org_id}}}:rebuilding")

"""Leaderboards: updating Redis after each commit, reading boards, repairing and archiving them.

The ledger is the truth. Redis holds the current boards as sorted sets (`store.py`); finished
weeks and months are archived to the database and read from there. When Redis missed an
update (it was down), the organisation is marked in `leaderboard_repairs` and its boards are
rebuilt on the next read; with Redis down, boards are computed from the ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import redis
from flask import current_app
from sqlalchemy import delete, event, func, insert, inspect, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from app import caching, metrics
from app.auth.principal import OrgFactsLike, UserFactsLike
from app.db import insert_for
from app.errors import Forbidden, NotFound, Unprocessable
from app.extensions import get_redis
from app.languages import in_language
from app.leaderboards import facts, rules, store
from app.leaderboards.models import ArchivedPeriod, ArchivedStanding, BoardRepair
from app.orgs import facts as org_facts
from app.orgs.models import Department, Organization, User

log = logging.getLogger(__name__)

# How a learner who keeps their name to their department shows to everyone else.
ANONYMOUS_NAMES = {"nb": "En kollega", "nn": "Ein kollega", "en": "A colleague"}


# --- writing: after the commit ------------------------------------------------------------


@dataclass
class _Pending:
    increments: list[store.Increment]
    bind: Engine | Connection
    callback: Any = None


def queue_award(
    session: Session,
    *,
    org_id: str,
    org_timezone: str,
    user_id: str,
    department_id: str | None,
    points: int,
    earned_at: datetime,
    now: datetime,
) -> None:
    """Schedule an award's board updates for after the commit (all of a transaction's in one go);
    none with LEADERBOARDS_LIVE=0."""
    award = rules.Award(user_id, department_id, points, earned_at)
    current_week = _current_period("week", now, org_timezone)
    if earned_at < current_week.start:
        _mark_archive_stale(session, org_id, award, org_timezone)
    if not current_app.config.get("LEADERBOARDS_LIVE", True):
        return  # LEADERBOARDS_LIVE=0: boards change only with `leaderboards rebuild`
    pending = _pending(session)
    lineage = (
        org_facts.department_facts(session, org_id).lineage(department_id)
        if department_id
        else None
    )
    for period, board, member in rules.board_keys(award, org_timezone, lineage):
        pending.increments.append(
            store.Increment(
                org_id, board, period, member, points, rules.ticks_left(period, earned_at)
            )
        )


def _pending(session: Session) -> _Pending:
    """The batch of board updates of the current (sub)transaction.

    One batch per savepoint: if a savepoint is rolled back, its batch's callback is dropped
    with it (see `db.after_commit`), and the batches of work that will commit stay.
    """
    from app.db import after_commit, pending_after_commit

    if not session.in_transaction():
        session.begin()
    transaction = session.get_nested_transaction() or session.get_transaction()
    batches: dict[Any, _Pending] = session.info.setdefault("leaderboard_pending", {})
    pending = batches.get(transaction)
    if pending is not None and pending.callback in pending_after_commit(session):
        return pending
    client = get_redis()
    bind = session.get_bind()
    pending = _Pending(increments=[], bind=bind)

    def flush() -> None:
        batches.pop(transaction, None)
        increments, pending.increments = pending.increments, []
        if increments:
            apply_or_mark_dirty(client, bind, increments)

    pending.callback = flush
    batches[transaction] = pending
    after_commit(session, flush)
    return pending


def apply_or_mark_dirty(
    client: redis.Redis, bind: Engine | Connection, increments: list[store.Increment]
) -> None:
    """Apply the increments in one pipeline, telling every process that the boards changed
    (`facts.remembered_read`); if Redis fails, mark the organisations for repair."""
    try:
        store.apply_increments(
            client,
            increments,
            channel=caching.channel(client),
            announcement=facts.change_announcement,
        )
        facts.boards_changed({inc.org_id for inc in increments})
    except redis.RedisError as error:
        org_ids = sorted({inc.org_id for inc in increments})
        log.warning("leaderboard update failed (%s); marking %s for repair", error, org_ids)
        _mark_dirty(bind, org_ids)


def _mark_dirty(bind: Engine | Connection, org_ids: list[str]) -> None:
    # Runs after the commit, so it needs its own transaction (or, in tests, the joined one).
    def write(connection: Connection) -> None:
        insert = insert_for(connection.dialect.name)
        for org_id in org_ids:
            connection.execute(
                insert(BoardRepair)
                .values(org_id=org_id, marked_at=datetime.now(UTC))
                .on_conflict_do_nothing(index_elements=["org_id"])
            )

    if isinstance(bind, Engine):
        with bind.begin() as connection:
            write(connection)
    else:
        write(bind)
    facts.repair_marked(org_ids)


@event.listens_for(Session, "after_flush")
def _rebuild_after_a_move(session: Session, _flush_context: Any) -> None:
    """A department moved under another parent: the boards of the departments above it count
    what was earned below it, so its organisation's boards are rebuilt from the ledger (with
    the new tree) on their next read, like boards that missed an update."""
    org_ids = sorted(
        {
            obj.org_id
            for obj in session.dirty
            if isinstance(obj, Department) and inspect(obj).attrs.parent_id.history.has_changes()
        }
    )
    if not org_ids:
        return
    connection = session.connection()
    upsert = insert_for(connection.dialect.name)
    for org_id in org_ids:
        connection.execute(
            upsert(BoardRepair)
            .values(org_id=org_id, marked_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["org_id"])
        )
    facts.repair_marked_in(session, org_ids)


def _mark_archive_stale(session: Session, org_id: str, award: rules.Award, tz: str) -> None:
    for window in ("week", "month"):
        period = rules.period_at(window, award.earned_at, tz)
        session.execute(
            update(ArchivedPeriod)
            .where(
                ArchivedPeriod.org_id == org_id,
                ArchivedPeriod.window == window,
                ArchivedPeriod.period == period.key,
            )
            .values(stale=True)
        )


# --- computing from the ledger ------------------------------------------------------------


def ledger_awards(
    session: Session, org_id: str, start: datetime | None = None, end: datetime | None = None
) -> Iterable[rules.Award]:
    """The organisation's ledger rows as board awards, streamed."""
    from app.gamification.models import PointAward

    stmt = select(
        PointAward.user_id, PointAward.department_id, PointAward.points, PointAward.earned_at
    ).where(PointAward.org_id == org_id)
    if start is not None:
        stmt = stmt.where(PointAward.earned_at >= start)
    if end is not None:
        stmt = stmt.where(PointAward.earned_at < end)
    for user_id, department_id, points, earned_at in session.execute(
        stmt.execution_options(yield_per=10_000)
    ):
        yield rules.Award(user_id, department_id, points, earned_at)


def _tally(
    session: Session, org: OrgFactsLike, awards: Iterable[rules.Award]
) -> dict[tuple[str, str, str], dict[str, rules.Standing]]:
    """`rules.tally` over the organisation's department tree as it is now."""
    return rules.tally(awards, org.timezone, org_facts.department_facts(session, org.id).lineage)


class Ranked(NamedTuple):
    """One row of a board. A tuple rather than a frozen dataclass: a board read from Redis
    makes one per row, and the per-member ranking thousands, which a tuple makes in about half
    the time."""

    member: str
    points: int
    ticks: int


def _ranked_from_ledger(
    session: Session, org: OrgFactsLike, period: rules.Period, board: str
) -> list[Ranked]:
    start = None if period.window == "all_time" else period.start
    end = None if period.window == "all_time" else period.end
    tallies = _tally(session, org, ledger_awards(session, org.id, start, end))
    standings = tallies.get((period.window, period.key, board), {})
    return [
        Ranked(member, *rules.split(period.window, score))
        for member, score in rules.ranked(period.window, period, standings.values())
    ]


def rebuild_org(
    session: Session,
    client: redis.Redis,
    org: OrgFactsLike,
    now: datetime,
    *,
    ledger: Session | None = None,
) -> int:
    """Recompute every live board of one organisation from the ledger and swap it in.

    `ledger` is where the ledger is read (a replica as fresh as `session`; default `session`).
    """
    started = datetime.now(UTC)
    ledger = ledger or session
    archived = {
        (window, period)
        for window, period in ledger.execute(
            select(ArchivedPeriod.window, ArchivedPeriod.period).where(
                ArchivedPeriod.org_id == org.id, ArchivedPeriod.stale.is_(False)
            )
        )
    }
    periods: dict[tuple[str, str], rules.Period] = {}
    boards: dict[tuple[str, str, str], list[tuple[str, int]]] = {}
    tallies = _tally(session, org, ledger_awards(ledger, org.id))
    for (window, period_key, board), standings in tallies.items():
        if (window, period_key) in archived:
            continue
        period = periods.setdefault(
            (window, period_key), rules.parse_period(window, period_key, org.timezone)
        )
        if store.expire_at(period) and store.expire_at(period) <= now.timestamp():
            continue  # long gone: reads of it fall back to the ledger
        boards[(window, period_key, board)] = rules.ranked(window, period, standings.values())
    written = store.replace_org_boards(client, org.id, boards, periods)
    facts.boards_rebuilt(org.id)
    session.execute(
        delete(BoardRepair).where(BoardRepair.org_id == org.id, BoardRepair.marked_at <= started)
    )
    facts.repair_cleared(session, org.id)
    return written


def rebuild_all(
    session: Session,
    *,
    now: datetime,
    client: redis.Redis | None = None,
    ledger: Session | None = None,
) -> int:
    """`leaderboards rebuild`: every organisation's boards from the ledger (read from `ledger`,
    default `session`); returns keys written."""
    client = client or get_redis()
    return sum(
        rebuild_org(session, client, org, now, ledger=ledger)
        for org in session.scalars(select(Organization))
    )


# --- archiving ----------------------------------------------------------------------------


def archive_finished_periods(session: Session, *, now: datetime) -> int:
    """Copy every finished, not yet archived week and month to the database; returns periods.

    Safe to run twice. Their Redis keys expire soon after the commit.
    """
    count = 0
    for org in session.scalars(select(Organization)):
        count += _archive_org(session, org, now)
    return count


def _archive_org(session: Session, org: Organization, now: datetime) -> int:
    done = {
        (w, p): stale
        for w, p, stale in session.execute(
            select(ArchivedPeriod.window, ArchivedPeriod.period, ArchivedPeriod.stale).where(
                ArchivedPeriod.org_id == org.id
            )
        )
    }
    todo: dict[tuple[str, str], rules.Period] = {}
    tallies: dict[tuple[str, str, str], dict[str, rules.Standing]] = {}
    for window in ("week", "month"):
        current = rules.period_at(window, now, org.timezone)
        oldest_open = _oldest_unarchived_start(session, org, window, done)
        if oldest_open is None or oldest_open >= current.start:
            continue
        for key_, standings in _tally(
            session, org, ledger_awards(session, org.id, oldest_open, current.start)
        ).items():
            if key_[0] == window and done.get((key_[0], key_[1])) is not False:
                tallies[key_] = standings
                todo.setdefault(
                    (key_[0], key_[1]), rules.parse_period(key_[0], key_[1], org.timezone)
                )
    for period in todo.values():
        _write_archive(session, org, period, tallies)
    if todo:
        client = get_redis()
        from app.db import after_commit

        def expire() -> None:
            for window, period_key in todo:
                try:
                    store.expire_period(client, org.id, window, period_key)
                except redis.RedisError:
                    log.warning("could not expire archived board keys of %s", org.id)

        after_commit(session, expire)
    return len(todo)


def _oldest_unarchived_start(
    session: Session, org: Organization, window: str, done: dict[tuple[str, str], bool]
) -> datetime | None:
    from app.gamification.models import PointAward

    stale = [
        rules.parse_period(w, p, org.timezone).start
        for (w, p), is_stale in done.items()
        if w == window and is_stale
    ]
    archived_ends = [rules.parse_period(w, p, org.timezone).end for (w, p) in done if w == window]
    first_award = session.scalar(
        select(func.min(PointAward.earned_at)).where(PointAward.org_id == org.id)
    )
    if first_award is None:
        return None
    candidates = [*stale, max(archived_ends) if archived_ends else first_award]
    return min(candidates)


def _write_archive(
    session: Session,
    org: OrgFactsLike,
    period: rules.Period,
    tallies: dict[tuple[str, str, str], dict[str, rules.Standing]],
) -> None:
    session.execute(
        delete(ArchivedStanding).where(
            ArchivedStanding.org_id == org.id,
            ArchivedStanding.window == period.window,
            ArchivedStanding.period == period.key,
        )
    )
    rows: list[dict[str, Any]] = []
    for (window, period_key, board), standings in tallies.items():
        if (window, period_key) != (period.window, period.key):
            continue
        by_member = {s.member: s for s in standings.values()}
        for rank, (member, _score) in enumerate(
            rules.ranked(window, period, standings.values()), start=1
        ):
            rows.append(
                {
                    "org_id": org.id,
                    "window": window,
                    "period": period_key,
                    "board": board,
                    "member_id": member,
                    "rank": rank,
                    "points": by_member[member].points,
                    "reached_at": by_member[member].reached_at,
                }
            )
    if rows:
        session.execute(insert(ArchivedStanding), rows)
    marker = session.get(ArchivedPeriod, (org.id, period.window, period.key))
    if marker is None:
        session.add(ArchivedPeriod(org_id=org.id, window=period.window, period=period.key))
    else:
        marker.stale = False
    session.flush()


def _ranked_from_archive(
    session: Session, org: OrgFactsLike, period: rules.Period, board: str
) -> list[Ranked]:
    marker = session.get(ArchivedPeriod, (org.id, period.window, period.key))
    assert marker is not None
    if marker.stale:
        tallies = _tally(session, org, ledger_awards(session, org.id, period.start, period.end))
        _write_archive(session, org, period, tallies)
    rows = session.execute(
        select(ArchivedStanding.member_id, ArchivedStanding.points, ArchivedStanding.reached_at)
        .where(
            ArchivedStanding.org_id == org.id,
            ArchivedStanding.window == period.window,
            ArchivedStanding.period == period.key,
            ArchivedStanding.board == board,
        )
        .order_by(ArchivedStanding.rank)
    )
    return [Ranked(m, p, rules.ticks_left(period, at)) for m, p, at in rows]


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardView:
    entries: list[tuple[int, Ranked]]  # (rank, row)
    mine: tuple[int, Ranked] | None
    from_redis: bool = False
    members_stamp: str | None = None  # see `facts.member_counts`


def _board(
    session: Session,
    org: OrgFactsLike,
    period: rules.Period,
    board: str,
    *,
    limit: int,
    me: str | None,
    now: datetime,
    remember: bool = True,
) -> BoardView:
    """One board, top `limit` (0: all) and `me`, from the archive, Redis or the ledger;
    what Redis answered is kept in the process (`facts.remembered_read`) if `remember`."""
    past = period.window != "all_time" and period.end <= now
    if past and _archived(session, org, period):
        return _slice(_ranked_from_archive(session, org, period, board), limit, me)
    client = get_redis()
    args = {"org_id": org.id, "board": board, "window": period.window, "period": period.key}

    def from_redis() -> _RedisBoard:
        held_for = facts.READS_HELD_SECONDS if remember else 0
        result = store.read_board(client, limit=limit, me=me, held_for=held_for, **args)
        entries = [
            (rank, Ranked(member, *rules.split(period.window, score)))
            for rank, (member, score) in enumerate(result.top, start=1)
        ]
        mine = None
        if me and result.my_rank is not None and result.my_score is not None:
            mine = (result.my_rank, Ranked(me, *rules.split(period.window, result.my_score)))
        view = BoardView(entries, mine, from_redis=True, members_stamp=result.members_stamp)
        return _RedisBoard(result.built, result.exists, view)

    def read() -> _RedisBoard:
        if not remember:
            return from_redis()
        key = ("top", board, period.window, period.key, limit, me)
        return facts.remembered_read(org.id, key, from_redis)

    try:
        found = read()
        if _repaired(session, client, org, found.built, now):
            found = read()
    except redis.RedisError as error:
        log.warning("leaderboard read from Redis failed (%s); using the ledger", error)
        return _slice(_ranked_from_ledger(session, org, period, board), limit, me)
    if past and not found.exists:
        return _slice(_ranked_from_ledger(session, org, period, board), limit, me)
    return found.view


@dataclass(frozen=True)
class _RedisBoard:
    built: bool  # the organisation's boards are complete
    exists: bool  # this board's key exists
    view: BoardView


def _archived(session: Session, org: OrgFactsLike, period: rules.Period) -> bool:
    return session.get(ArchivedPeriod, (org.id, period.window, period.key)) is not None


def _repaired(
    session: Session, client: redis.Redis, org: OrgFactsLike, built: bool, now: datetime
) -> bool:
    """Rebuild the organisation's boards if they missed updates; whether this read did."""
    if built and not facts.needs_repair(session, org.id):
        return False
    # One reader repairs; the others serve what Redis has until it is done.
    if not store.acquire_rebuild_lock(client, org.id):
        return False
    try:
        rebuild_org(session, client, org, now)
    finally:
        store.release_rebuild_lock(client, org.id)
    metrics.BOARD_REPAIRS.inc()
    return True


def _slice(ranked: list[Ranked], limit: int, me: str | None) -> BoardView:
    entries = list(enumerate(ranked, start=1))
    mine = next(((rank, row) for rank, row in entries if row.member == me), None) if me else None
    return BoardView(entries[:limit] if limit > 0 else entries, mine)


def resolve_period(
    window: str, period: str | None, org: OrgFactsLike, now: datetime
) -> rules.Period:
    """The period asked for, or the current one; 422 keyed by `period` when it is not one."""
    if not period:
        return _current_period(window, now, org.timezone)
    try:
        return rules.parse_period(window, period, org.timezone)
    except ValueError as error:
        raise Unprocessable("Invalid query parameters.", errors={"period": [str(error)]}) from None


# (window, time zone) -> the period last found current. Nearly every read asks for the
# current period, and working it out (time zone conversions) cost a board read a thirtieth of
# its CPU; it holds until `now` leaves it.
_current_periods: dict[tuple[str, str], rules.Period] = {}


def _current_period(window: str, now: datetime, timezone: str) -> rules.Period:
    known = _current_periods.get((window, timezone))
    if known is None or not known.start <= now < known.end:
        known = _current_periods[(window, timezone)] = rules.period_at(window, now, timezone)
    return known


@dataclass(frozen=True)
class UserBoardFacts:
    """What `GET /leaderboards/users` shows, before rendering (`render_user_board`): equal
    facts render equal bodies, so a caller can keep the body while they stay equal."""

    viewer: UserFactsLike
    scope: str
    window: str
    period: str
    view: BoardView | None  # None: a department board for someone without a department
    names: tuple[tuple[str, facts.BoardName], ...]  # the shown learners' names and choices
    departments: org_facts.DepartmentFacts | None  # for managers and admins: whom they manage
    locale: str = "en"  # the viewer's language (the anonymous name)


def user_board_facts(
    session: Session,
    *,
    viewer: UserFactsLike,
    scope: str,
    window: str,
    period: str | None,
    limit: int,
    department_id: str | None,
    now: datetime,
    locale: str = "en",
) -> UserBoardFacts:
    """Top learners of my department or organisation, and me, with the facts their names
    are shown by; 404/403 for a department that is not there or not mine to see."""
    org = viewer.organization
    resolved = resolve_period(window, period, org, now)
    board = "users:org"
    if scope == "department":
        dept = department_id or viewer.department_id
        if department_id and department_id != viewer.department_id:
            departments = org_facts.department_facts(session, viewer.org_id)
            if department_id not in departments.names:
                raise NotFound("No such department.")
            if department_id not in departments.managed_by(viewer):
                raise Forbidden("You can only see the boards of your own or managed departments.")
        if dept is None:
            return UserBoardFacts(viewer, scope, window, resolved.key, None, (), None, locale)
        board = f"users:dept:{dept}"
    view = _board(session, org, resolved, board, limit=limit, me=viewer.id, now=now)
    user_ids = [row.member for _, row in view.entries]
    found = facts.board_names(session, user_ids) if user_ids else {}
    names = tuple((user_id, found[user_id]) for user_id in user_ids if user_id in found)
    managing = viewer.has_role("manager", "admin")
    managed = org_facts.department_facts(session, viewer.org_id) if managing else None
    return UserBoardFacts(viewer, scope, window, resolved.key, view, names, managed, locale)


@dataclass(frozen=True)
class DepartmentStanding:
    """One learner on a department's board, with what their name may be shown by."""

    rank: int
    user_id: str
    points: int
    display_name: str | None  # None: no longer known (the ranks still count them)
    department_only: bool  # the learner chose to be named only to their own department


def department_standings(
    session: Session, *, org: OrgFactsLike, department_id: str, limit: int, now: datetime
) -> tuple[str, list[DepartmentStanding]]:
    """This week's board of one department (its top `limit`), for a display that no
    logged-in user is looking at (a store's TV); the period it is of. Read afresh, never
    remembered: the screens keep their renderings themselves, and a remembered read would
    make the next answer of the organisation announce itself to every process."""
    period = _current_period("week", now, org.timezone)
    view = _board(
        session,
        org,
        period,
        f"users:dept:{department_id}",
        limit=limit,
        me=None,
        now=now,
        remember=False,
    )
    user_ids = [row.member for _, row in view.entries]
    names = facts.board_names(session, user_ids) if user_ids else {}
    standings = []
    for rank, row in view.entries:
        name = names.get(row.member)
        standings.append(
            DepartmentStanding(
                rank=rank,
                user_id=row.member,
                points=row.points,
                display_name=name.display_name if name else None,
                department_only=name.department_only if name else True,
            )
        )
    return period.key, standings


def render_user_board(board: UserBoardFacts) -> dict[str, Any]:
    """The body of `GET /leaderboards/users`; a pure function of `board`."""
    view = board.view
    names = _visible_names(board)
    anonymous = _anonymous(board.locale)
    return {
        "scope": board.scope,
        "window": board.window,
        "period": board.period,
        "entries": [
            {"rank": rank, "user": names.get(row.member) or anonymous, "score": row.points}
            for rank, row in (view.entries if view else [])
        ],
        "me": {"rank": view.mine[0], "score": view.mine[1].points} if view and view.mine else None,
    }


def _anonymous(locale: str) -> dict[str, Any]:
    return {"id": None, "display_name": in_language(ANONYMOUS_NAMES, locale), "anonymous": True}


def _visible_names(board: UserBoardFacts) -> dict[str, dict[str, Any]]:
    """Names as the viewer may see them: outside their own department, a learner who chose
    so is "a colleague", except to those who manage that learner's department."""
    viewer = board.viewer
    managed: frozenset[str] | None = None
    names: dict[str, dict[str, Any]] = {}
    for user_id, name in board.names:
        visible = (
            not name.department_only
            or user_id == viewer.id
            or (name.department_id is not None and name.department_id == viewer.department_id)
        )
        if not visible and board.departments is not None:
            if managed is None:
                managed = board.departments.managed_by(viewer)
            visible = name.department_id in managed
        names[user_id] = (
            {"id": user_id, "display_name": name.display_name, "anonymous": False}
            if visible
            else _anonymous(board.locale)
        )
    return names


class _Placed(NamedTuple):
    """One department's place (a tuple: a ranking makes a thousand of them)."""

    rank: int
    member: str
    points: int
    score: int | float  # points, or points per active member
    members: int


@dataclass(frozen=True)
class _Ranking:
    """A departments board ranked: what it was computed from, and every competitor's place."""

    tag: str | None  # the `depts` board's tag in Redis (None: not from Redis)
    members_stamp: str | None
    departments: org_facts.DepartmentFacts  # the tree it was ranked on
    ranked: list[_Placed]
    by_department: dict[str, _Placed]


# The last whole `depts` board read and the rankings made of it, per organisation, window and
# period (and metric and level for a ranking), reused while neither the board (its tag), the
# member counts (their stamp) nor the department tree (its cached facts) changed: a ranking
# is a pure function of the three.
_raw_boards: dict[tuple[str, ...], tuple[str, list[Ranked]]] = {}
_rankings: dict[tuple[str, ...], _Ranking] = {}


@dataclass(frozen=True)
class DepartmentBoardFacts:
    """What `GET /leaderboards/departments` shows, before rendering
    (`render_department_board`). Unchanged boards hand out the same objects again (the
    remembered read, the ranking, the tree), so comparing two of these is cheap."""

    window: str
    period: str
    metric: str
    parent_id: str | None
    rows: list[_Placed]
    mine: _Placed | None
    departments: org_facts.DepartmentFacts  # names and parents


def department_board_facts(
    session: Session,
    *,
    viewer: UserFactsLike,
    window: str,
    period: str | None,
    metric: str,
    limit: int,
    now: datetime,
    parent_id: str | None = None,
) -> DepartmentBoardFacts:
    """The departments that compete, by total or points per active member, and the viewer's
    department: the lowest departments (those without sub-departments), or with `parent_id`
    that department's sub-departments, each counting everything below it (404 when it is not
    a department of the viewer's organisation)."""
    org = viewer.organization
    resolved = resolve_period(window, period, org, now)
    departments = org_facts.department_facts(session, org.id)
    if parent_id is not None and parent_id not in departments.names:
        raise NotFound("No such department.")
    ranking = _department_ranking(
        session, get_redis(), org, resolved, now, departments, metric, parent_id
    )
    mine = None
    if viewer.department_id:
        # Below `parent_id`, my place is that of the sub-department I am in (or below).
        mine_id = (
            next(
                (
                    d
                    for d in departments.lineage(viewer.department_id)
                    if departments.parents.get(d) == parent_id
                ),
                None,
            )
            if parent_id
            else viewer.department_id
        )
        mine = ranking.by_department.get(mine_id) if mine_id else None
    return DepartmentBoardFacts(
        window, resolved.key, metric, parent_id, ranking.ranked[:limit], mine, ranking.departments
    )


def render_department_board(board: DepartmentBoardFacts) -> dict[str, Any]:
    """The body of `GET /leaderboards/departments`; a pure function of `board`."""
    names = board.departments.names
    parents = board.departments.parents

    def entry(placed: _Placed) -> dict[str, Any]:
        parent = parents.get(placed.member)
        return {
            "rank": placed.rank,
            "department": {
                "id": placed.member,
                "name": names.get(placed.member, ""),
                "parent": {"id": parent, "name": names.get(parent, "")} if parent else None,
            },
            "score": placed.score,
            "points": placed.points,
            "members": placed.members,
        }

    return {
        "window": board.window,
        "period": board.period,
        "metric": board.metric,
        "parent_id": board.parent_id,
        "entries": [entry(placed) for placed in board.rows],
        "mine": entry(board.mine) if board.mine else None,
    }


def _department_ranking(
    session: Session,
    client: redis.Redis,
    org: OrgFactsLike,
    period: rules.Period,
    now: datetime,
    departments: org_facts.DepartmentFacts,
    metric: str,
    parent_id: str | None,
) -> _Ranking:
    """Every competing department ranked: the whole `depts` board is needed to rank any of
    them. Redis sends the board only when it changed since this process last read it; the
    ranking is then reused as long as the member counts and the tree are the same too."""
    past = period.window != "all_time" and period.end <= now
    if not (past and _archived(session, org, period)):
        board_key = (org.id, period.window, period.key)
        held_tag, held_entries = _raw_boards.get(board_key, (None, []))
        try:
            whole = _read_whole(client, org, period, held_tag)
            if _repaired(session, client, org, whole.built, now):
                whole = _read_whole(client, org, period, held_tag)
        except redis.RedisError as error:
            log.warning("leaderboard read from Redis failed (%s); using the ledger", error)
            whole = None
        if whole is not None and (not past or whole.tag is not None):
            if whole.entries is not None:
                held_entries = [
                    Ranked(member, *rules.split(period.window, score))
                    for member, score in whole.entries
                ]
                if whole.tag is not None:
                    _remember(_raw_boards, board_key, (whole.tag, held_entries))
            # The counts' own stamp, not the one read with the board: the board's read may be
            # remembered from before the counts were counted again.
            members = facts.member_counts(session, client, org.id, whole.members_stamp)
            ranking_key = (*board_key, metric, parent_id or "")
            ranking = _rankings.get(ranking_key)
            if (
                ranking is None
                or whole.tag is None
                or ranking.tag != whole.tag
                or ranking.members_stamp != members.stamp
                or ranking.departments is not departments
            ):
                ranking = _rank_departments(
                    held_entries,
                    members.counts,
                    departments,
                    metric=metric,
                    parent_id=parent_id,
                    tag=whole.tag,
                    members_stamp=members.stamp,
                )
                if whole.tag is not None:
                    _remember(_rankings, ranking_key, ranking)
            return ranking
    # The archive, the ledger (Redis down) or a past period no longer in Redis.
    if past and _archived(session, org, period):
        entries = _ranked_from_archive(session, org, period, "depts")
    else:
        entries = _ranked_from_ledger(session, org, period, "depts")
    members = facts.member_counts(session, client, org.id, facts.members_stamp(client, org.id))
    return _rank_departments(
        entries, members.counts, departments, metric=metric, parent_id=parent_id
    )


def _read_whole(
    client: redis.Redis, org: OrgFactsLike, period: rules.Period, held: str | None
) -> store.WholeBoard:
    return facts.remembered_read(
        org.id,
        ("whole", period.window, period.key, held),
        lambda: store.read_whole_board(
            client,
            org_id=org.id,
            board="depts",
            window=period.window,
            period=period.key,
            held=held,
            held_for=facts.READS_HELD_SECONDS,
        ),
    )


def _rank_departments(
    entries: list[Ranked],
    counts: Mapping[str, int],
    departments: org_facts.DepartmentFacts,
    *,
    metric: str,
    parent_id: str | None,
    tag: str | None = None,
    members_stamp: str | None = None,
) -> _Ranking:
    """The competitors (the leaves, or the sub-departments of `parent_id`) best first.

    `entries` is the `depts` board, best first as Redis orders it (points, then who reached
    them first, then id, descending), where a department's points are everything earned in it
    and below it (`rules.board_keys`); `counts` the active members of each department alone,
    added up here over each competitor's subtree. Those with points rank in the board's order
    (by total) or by points / active members (at least 1), then as the board does; then those
    without points, by name and id. points * 2^64 // members orders exactly as the fractions
    do for up to 2^32 members: two different fractions differ by at least 1 / (m1 * m2)."""
    competitors = departments.children.get(parent_id, ()) if parent_id else departments.leaves
    members: Mapping[str, int] = counts  # a leaf has nobody below it
    if parent_id:
        rolled: dict[str, int] = {}
        for department_id, count in counts.items():
            for above in departments.lineage(department_id):
                rolled[above] = rolled.get(above, 0) + count
        members = rolled
    competing = set(competitors)
    scoring = [row for row in entries if row.points > 0 and row.member in competing]
    if metric == "per_member":
        scoring.sort(
            key=lambda row: (
                (row.points << 64) // max(members.get(row.member, 0), 1),
                row.ticks,
                row.member,
            ),
            reverse=True,
        )
    ranked: list[_Placed] = []
    for row in scoring:
        count = members.get(row.member, 0)
        score: int | float = row.points
        if metric == "per_member":
            whole, part = divmod(row.points, max(count, 1))
            score = whole if part == 0 else round(row.points / max(count, 1), 2)
        ranked.append(_Placed(len(ranked) + 1, row.member, row.points, score, count))
    scored = {row.member for row in scoring}
    idle = [d for d in competitors if d not in scored]  # the leaves come by name already
    if parent_id:
        idle.sort(key=lambda d: (departments.names.get(d, ""), d))
    for department_id in idle:
        ranked.append(_Placed(len(ranked) + 1, department_id, 0, 0, members.get(department_id, 0)))
    return _Ranking(
        tag=tag,
        members_stamp=members_stamp,
        departments=departments,
        ranked=ranked,
        by_department={placed.member: placed for placed in ranked},
    )


def _remember(memo: dict[tuple[str, ...], Any], key: tuple[str, ...], value: Any) -> None:
    if key not in memo and len(memo) >= 256:
        memo.clear()  # a few boards per organisation are read at a time
    memo[key] = value


def department_subtrees(
    session: Session, org_id: str, department_ids: Iterable[str]
) -> dict[str, frozenset[str]]:
    """{department: it and every department below it}, from the cached tree: a department's
    standing counts everything below it, as its boards do."""
    departments = org_facts.department_facts(session, org_id)
    return {d: departments.subtree([d]) for d in department_ids}


def department_info(
    session: Session, org_id: str, department_ids: list[str]
) -> dict[str, tuple[str, int]]:
    """{department id: (name, active members now in it and below it)} in one query."""
    if not department_ids:
        return {}
    subtrees = department_subtrees(session, org_id, department_ids)
    counts = {
        str(dep_id): int(count)
        for dep_id, count in session.execute(
            select(User.department_id, func.count())
            .where(
                User.org_id == org_id,
                User.active.is_(True),
                User.department_id.in_(set().union(*subtrees.values())),
            )
            .group_by(User.department_id)
        )
    }
    names = org_facts.department_facts(session, org_id).names
    return {
        d: (names[d], sum(counts.get(below, 0) for below in subtrees[d]))
        for d in department_ids
        if d in names
    }


def department_totals(
    session: Session, *, org_id: str, department_ids: list[str], start: datetime, end: datetime
) -> dict[str, tuple[int, datetime]]:
    """{department: (points, when the last of them was earned)} in [start, end), earned in it
    and below it, from the ledger."""
    from app.gamification.models import PointAward

    subtrees = department_subtrees(session, org_id, department_ids)
    rows = session.execute(
        select(
            PointAward.department_id,
            func.sum(PointAward.points),
            func.max(PointAward.earned_at),
        )
        .where(
            PointAward.org_id == org_id,
            PointAward.earned_at >= start,
            PointAward.earned_at < end,
            PointAward.department_id.in_(set().union(*subtrees.values())),
        )
        .group_by(PointAward.department_id)
    )
    earned: dict[str, tuple[int, datetime]] = {}
    for dep_id, points, last in rows:
        if dep_id is None:
            continue
        if isinstance(last, str):  # SQLite returns max() of a datetime as text
            last = datetime.fromisoformat(last).replace(tzinfo=UTC)
        earned[dep_id] = (int(points), last)
    totals: dict[str, tuple[int, datetime]] = {}
    for department_id, below in subtrees.items():
        parts = [earned[d] for d in below if d in earned]
        if parts:
            totals[department_id] = (sum(p for p, _ in parts), max(at for _, at in parts))
    return totals

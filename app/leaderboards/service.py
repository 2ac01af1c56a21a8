"""Leaderboards: updating Redis after each commit, reading boards, repairing and archiving them.

The ledger is the truth. Redis holds the current boards as sorted sets (`store.py`); finished
weeks and months are archived to the database and read from there. When Redis missed an
update (it was down), the organisation is marked in `leaderboard_repairs` and its boards are
rebuilt on the next read; with Redis down, boards are computed from the ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import redis
from flask import current_app
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from app.db import insert_for
from app.errors import Forbidden, Unprocessable
from app.extensions import get_redis
from app.leaderboards import rules, store
from app.leaderboards.models import ArchivedPeriod, ArchivedStanding, BoardRepair
from app.orgs.models import Department, Organization, User

log = logging.getLogger(__name__)

ANONYMOUS_NAME = "A colleague"


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
    current_week = rules.period_at("week", now, org_timezone)
    if earned_at < current_week.start:
        _mark_archive_stale(session, org_id, award, org_timezone)
    if not current_app.config.get("LEADERBOARDS_LIVE", True):
        return  # LEADERBOARDS_LIVE=0: boards change only with `leaderboards rebuild`
    pending = _pending(session)
    for period, board, member in rules.board_keys(award, org_timezone):
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
    """Apply the increments in one pipeline; if Redis fails, mark the organisations for repair."""
    try:
        store.apply_increments(client, increments)
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


@dataclass(frozen=True)
class Ranked:
    member: str
    points: int
    ticks: int


def _ranked_from_ledger(
    session: Session, org: Organization, period: rules.Period, board: str
) -> list[Ranked]:
    start = None if period.window == "all_time" else period.start
    end = None if period.window == "all_time" else period.end
    tallies = rules.tally(ledger_awards(session, org.id, start, end), org.timezone)
    standings = tallies.get((period.window, period.key, board), {})
    return [
        Ranked(member, *rules.split(period.window, score))
        for member, score in rules.ranked(period.window, period, standings.values())
    ]


def rebuild_org(session: Session, client: redis.Redis, org: Organization, now: datetime) -> int:
    """Recompute every live board of one organisation from the ledger and swap it in."""
    started = datetime.now(UTC)
    archived = {
        (window, period)
        for window, period in session.execute(
            select(ArchivedPeriod.window, ArchivedPeriod.period).where(
                ArchivedPeriod.org_id == org.id, ArchivedPeriod.stale.is_(False)
            )
        )
    }
    periods: dict[tuple[str, str], rules.Period] = {}
    boards: dict[tuple[str, str, str], list[tuple[str, int]]] = {}
    tallies = rules.tally(ledger_awards(session, org.id), org.timezone)
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
    session.execute(
        delete(BoardRepair).where(BoardRepair.org_id == org.id, BoardRepair.marked_at <= started)
    )
    return written


def rebuild_all(session: Session, *, now: datetime, client: redis.Redis | None = None) -> int:
    """`leaderboards rebuild`: every organisation's boards from the ledger; returns keys written."""
    client = client or get_redis()
    return sum(
        rebuild_org(session, client, org, now) for org in session.scalars(select(Organization))
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
        for key_, standings in rules.tally(
            ledger_awards(session, org.id, oldest_open, current.start), org.timezone
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
    org: Organization,
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
    session: Session, org: Organization, period: rules.Period, board: str
) -> list[Ranked]:
    marker = session.get(ArchivedPeriod, (org.id, period.window, period.key))
    assert marker is not None
    if marker.stale:
        tallies = rules.tally(
            ledger_awards(session, org.id, period.start, period.end), org.timezone
        )
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


def _board(
    session: Session,
    org: Organization,
    period: rules.Period,
    board: str,
    *,
    limit: int,
    me: str | None,
    now: datetime,
) -> BoardView:
    """One board, top `limit` (0: all) and `me`, from the archive, Redis or the ledger."""
    past = period.window != "all_time" and period.end <= now
    if past and session.get(ArchivedPeriod, (org.id, period.window, period.key)) is not None:
        return _slice(_ranked_from_archive(session, org, period, board), limit, me)
    client = get_redis()
    try:
        read = _read_redis(session, client, org, period, board, limit, me, now)
    except redis.RedisError as error:
        log.warning("leaderboard read from Redis failed (%s); using the ledger", error)
        read = None
    if read is None or (past and not read.exists):
        return _slice(_ranked_from_ledger(session, org, period, board), limit, me)
    entries = [
        (rank, Ranked(member, *rules.split(period.window, score)))
        for rank, (member, score) in enumerate(read.top, start=1)
    ]
    mine = None
    if me and read.my_rank is not None and read.my_score is not None:
        mine = (read.my_rank, Ranked(me, *rules.split(period.window, read.my_score)))
    return BoardView(entries, mine)


def _read_redis(
    session: Session,
    client: redis.Redis,
    org: Organization,
    period: rules.Period,
    board: str,
    limit: int,
    me: str | None,
    now: datetime,
) -> store.BoardRead:
    args = {"org_id": org.id, "board": board, "window": period.window, "period": period.key}
    read = store.read_board(client, limit=limit, me=me, **args)
    stale = not read.built or session.get(BoardRepair, org.id) is not None
    # One reader repairs; the others serve what Redis has until it is done.
    if stale and store.acquire_rebuild_lock(client, org.id):
        try:
            rebuild_org(session, client, org, now)
        finally:
            store.release_rebuild_lock(client, org.id)
        read = store.read_board(client, limit=limit, me=me, **args)
    return read


def _slice(ranked: list[Ranked], limit: int, me: str | None) -> BoardView:
    entries = list(enumerate(ranked, start=1))
    mine = next(((rank, row) for rank, row in entries if row.member == me), None) if me else None
    return BoardView(entries[:limit] if limit > 0 else entries, mine)


def resolve_period(
    window: str, period: str | None, org: Organization, now: datetime
) -> rules.Period:
    """The period asked for, or the current one; 422 keyed by `period` when it is not one."""
    if not period:
        return rules.period_at(window, now, org.timezone)
    try:
        return rules.parse_period(window, period, org.timezone)
    except ValueError as error:
        raise Unprocessable("Invalid query parameters.", errors={"period": [str(error)]}) from None


def user_board(
    session: Session,
    *,
    viewer: User,
    scope: str,
    window: str,
    period: str | None,
    limit: int,
    department_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    """`GET /leaderboards/users`: top learners of my department or organisation, and me."""
    from app.orgs import service as orgs

    org = viewer.organization
    resolved = resolve_period(window, period, org, now)
    board = "users:org"
    if scope == "department":
        dept = department_id or viewer.department_id
        if department_id and department_id != viewer.department_id:
            orgs.get_department(session, viewer.org_id, department_id)
            if department_id not in orgs.managed_department_ids(session, viewer):
                raise Forbidden("You can only see the boards of your own or managed departments.")
        if dept is None:
            return {
                "scope": scope,
                "window": window,
                "period": resolved.key,
                "entries": [],
                "me": None,
            }
        board = f"users:dept:{dept}"
    view = _board(session, org, resolved, board, limit=limit, me=viewer.id, now=now)
    names = _user_names(session, viewer, [row.member for _, row in view.entries])
    return {
        "scope": scope,
        "window": window,
        "period": resolved.key,
        "entries": [
            {"rank": rank, "user": names.get(row.member, _anonymous()), "score": row.points}
            for rank, row in view.entries
        ],
        "me": {"rank": view.mine[0], "score": view.mine[1].points} if view.mine else None,
    }


def _anonymous() -> dict[str, Any]:
    return {"id": None, "display_name": ANONYMOUS_NAME, "anonymous": True}


def _user_names(session: Session, viewer: User, user_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Names as the viewer may see them, in one query (plus one for a manager's departments)."""
    from app.gamification.models import PlayerProfile

    if not user_ids:
        return {}
    rows = session.execute(
        select(User.id, User.display_name, User.department_id, PlayerProfile.leaderboard_visibility)
        .outerjoin(PlayerProfile, PlayerProfile.user_id == User.id)
        .where(User.id.in_(user_ids))
    ).all()
    managed: set[str] | None = None
    names: dict[str, dict[str, Any]] = {}
    for user_id, display_name, department_id, visibility in rows:
        visible = (
            visibility != "department"
            or user_id == viewer.id
            or (department_id is not None and department_id == viewer.department_id)
        )
        if not visible and viewer.has_role("manager", "admin"):
            if managed is None:
                from app.orgs import service as orgs

                managed = orgs.managed_department_ids(session, viewer)
            visible = department_id in managed
        names[user_id] = (
            {"id": user_id, "display_name": display_name, "anonymous": False}
            if visible
            else _anonymous()
        )
    return names


def department_board(
    session: Session,
    *,
    viewer: User,
    window: str,
    period: str | None,
    metric: str,
    limit: int,
    now: datetime,
) -> dict[str, Any]:
    """`GET /leaderboards/departments`: departments by total or points per active member."""
    org = viewer.organization
    resolved = resolve_period(window, period, org, now)
    mine_id = viewer.department_id
    if metric == "total":
        view = _board(session, org, resolved, "depts", limit=limit, me=mine_id, now=now)
        ids = [row.member for _, row in view.entries]
        info = department_info(session, org.id, [*ids, *([mine_id] if mine_id else [])])
        rows = [(rank, row, Fraction(row.points)) for rank, row in view.entries]
        mine = (view.mine[0], view.mine[1], Fraction(view.mine[1].points)) if view.mine else None
    else:
        everything = _board(session, org, resolved, "depts", limit=0, me=None, now=now)
        members = active_member_counts(session, org.id)
        scored = sorted(
            (
                (Fraction(row.points, max(members.get(row.member, 0), 1)), row)
                for _, row in everything.entries
            ),
            key=lambda item: (item[0], item[1].ticks, item[1].member),
            reverse=True,
        )
        ranked = [(rank, row, score) for rank, (score, row) in enumerate(scored, start=1)]
        rows = ranked[:limit]
        mine = next((item for item in ranked if item[1].member == mine_id), None)
        # Names only for the departments shown, not for every department on the board.
        shown = [row.member for _, row, _ in rows] + ([mine[1].member] if mine else [])
        info = {
            dep_id: (name, members.get(dep_id, 0))  # the counts the ranking used
            for dep_id, (name, _) in department_info(session, org.id, shown).items()
        }

    def entry(rank: int, row: Ranked, score: Fraction) -> dict[str, Any]:
        name, members = info.get(row.member, ("", 0))
        return {
            "rank": rank,
            "department": {"id": row.member, "name": name},
            "score": _number(score),
            "points": row.points,
            "members": members,
        }

    return {
        "window": window,
        "period": resolved.key,
        "metric": metric,
        "entries": [entry(*item) for item in rows],
        "mine": entry(*mine) if mine else None,
    }


def _number(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else round(float(value), 2)


MEMBER_COUNTS_SECONDS = 60


def active_member_counts(session: Session, org_id: str) -> dict[str, int]:
    """{department id: active members} for the whole organisation, as every department's points
    per member is needed to rank any of them. Counting means scanning the organisation's users
    (100 000 at a large retailer), so the counts are kept in Redis for a minute: a new hire or
    a deactivation shows in per-member boards within that minute."""
    client = get_redis()
    cache_key = store.member_counts_key(org_id)
    try:
        cached = client.hgetall(cache_key)
    except redis.RedisError:
        cached = {}
    if cached:
        return {dep.decode(): int(count) for dep, count in cached.items() if dep != b""}
    counts = _count_active_members(session, org_id)
    try:
        with client.pipeline(transaction=True) as pipe:
            # The "" field marks an organisation with no members at all as counted too.
            mapping: dict[str | bytes, int] = {"": 0}
            mapping.update(counts)
            pipe.hset(cache_key, mapping=mapping)
            pipe.expire(cache_key, MEMBER_COUNTS_SECONDS)
            pipe.execute()
    except redis.RedisError:
        log.warning("could not cache member counts of %s", org_id)
    return counts


def _count_active_members(session: Session, org_id: str) -> dict[str, int]:
    rows = session.execute(
        select(User.department_id, func.count())
        .where(User.org_id == org_id, User.active.is_(True), User.department_id.is_not(None))
        .group_by(User.department_id)
    )
    return {dep_id: int(count) for dep_id, count in rows if dep_id is not None}


def department_info(
    session: Session, org_id: str, department_ids: list[str]
) -> dict[str, tuple[str, int]]:
    """{department id: (name, active members now)} in one query."""
    if not department_ids:
        return {}
    rows = session.execute(
        select(Department.id, Department.name, func.count(User.id))
        .outerjoin(User, (User.department_id == Department.id) & User.active.is_(True))
        .where(Department.org_id == org_id, Department.id.in_(set(department_ids)))
        .group_by(Department.id, Department.name)
    )
    return {dep_id: (name, int(members)) for dep_id, name, members in rows}


def department_totals(
    session: Session, *, org_id: str, department_ids: list[str], start: datetime, end: datetime
) -> dict[str, tuple[int, datetime]]:
    """{department: (points, when the last of them was earned)} in [start, end), from the ledger."""
    from app.gamification.models import PointAward

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
            PointAward.department_id.in_(department_ids),
        )
        .group_by(PointAward.department_id)
    )
    totals: dict[str, tuple[int, datetime]] = {}
    for dep_id, points, last in rows:
        if dep_id is None:
            continue
        if isinstance(last, str):  # SQLite returns max() of a datetime as text
            last = datetime.fromisoformat(last).replace(tzinfo=UTC)
        totals[dep_id] = (int(points), last)
    return totals

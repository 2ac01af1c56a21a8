"""Competitions between departments: create, list, standings, and finishing them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.competitions.models import Competition
from app.errors import Forbidden, NotFound, Unprocessable
from app.gamification import service as gamification
from app.leaderboards import service as leaderboards
from app.orgs import service as orgs
from app.orgs.facts import department_facts
from app.orgs.models import User
from app.pagination import Page, paginate

STATUSES = ("upcoming", "active", "finished")


def create_competition(
    session: Session,
    *,
    user: User,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    metric: str,
    department_ids: list[str] | None,
    now: datetime,
) -> Competition:
    """A competition between departments the creator may act for (when omitted: the lowest
    of them, those without sub-departments)."""
    starts_at, ends_at = starts_at.astimezone(UTC), ends_at.astimezone(UTC)
    problems: dict[str, list[str]] = {}  # every problem at once, not the first
    if ends_at <= starts_at:
        problems.setdefault("ends_at", []).append("Must be after starts_at.")
    if ends_at <= now:
        problems.setdefault("ends_at", []).append("Must be in the future.")
    allowed = orgs.managed_department_ids(session, user)
    if department_ids:
        wanted = list(dict.fromkeys(department_ids))
        for department_id in wanted:
            orgs.get_department(session, user.org_id, department_id)  # 404 across orgs
        foreign = [d for d in wanted if d not in allowed]
        if foreign:
            raise Forbidden("You can only start competitions between departments you manage.")
    else:
        # The leaves: a store that is split into sub-departments holds little more than its
        # manager, and would otherwise compete against its own sub-departments.
        children = department_facts(session, user.org_id).children
        wanted = sorted(d for d in allowed if not children.get(d))
    if len(wanted) < 2:
        problems["department_ids"] = ["Give at least two departments."]
    if problems:
        count = sum(len(messages) for messages in problems.values())
        raise Unprocessable(f"The competition has {count} problem(s); see errors.", errors=problems)
    competition = Competition(
        org_id=user.org_id,
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        metric=metric,
        department_ids=wanted,
        created_by=user.id,
        created_at=now,
    )
    session.add(competition)
    session.flush()
    return competition


def _with_status(stmt: Select[Any], status: str | None, now: datetime) -> Select[Any]:
    if status == "upcoming":
        return stmt.where(Competition.starts_at > now, Competition.finished_at.is_(None))
    if status == "active":
        return stmt.where(
            Competition.starts_at <= now,
            Competition.ends_at > now,
            Competition.finished_at.is_(None),
        )
    if status == "finished":
        return stmt.where((Competition.ends_at <= now) | Competition.finished_at.is_not(None))
    return stmt


def list_competitions(
    session: Session,
    *,
    user: User,
    status: str | None,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> Page[dict[str, Any]]:
    """My organisation's competitions, newest first, optionally by status."""
    stmt = _with_status(select(Competition).where(Competition.org_id == user.org_id), status, now)
    page = paginate(
        session, stmt, key=Competition.id, limit=limit, cursor=cursor, newest_first=True
    )
    return Page(items=[summary(c, now) for c in page.items], next_cursor=page.next_cursor)


def summary(competition: Competition, now: datetime) -> dict[str, Any]:
    return {
        "id": competition.id,
        "title": competition.title,
        "starts_at": competition.starts_at,
        "ends_at": competition.ends_at,
        "metric": competition.metric,
        "status": competition.status(now),
        "department_ids": competition.department_ids,
        "winner_department_id": competition.winner_department_id,
    }


def get_competition(session: Session, org_id: str, competition_id: str) -> Competition:
    """A competition of this organisation, or 404."""
    competition = session.get(Competition, competition_id)
    if competition is None or competition.org_id != org_id:
        raise NotFound("No such competition.")
    return competition


def compute_standings(session: Session, competition: Competition) -> list[dict[str, Any]]:
    """Live standings from the ledger: every department, best first, unique ranks.

    Equal scores: the department that reached its score first ranks higher.
    """
    totals = leaderboards.department_totals(
        session,
        org_id=competition.org_id,
        department_ids=competition.department_ids,
        start=competition.starts_at,
        end=competition.ends_at,
    )
    info = leaderboards.department_info(session, competition.org_id, competition.department_ids)
    rows: list[dict[str, Any]] = []
    for department_id in competition.department_ids:
        name, members = info.get(department_id, ("", 0))
        points, reached = totals.get(department_id, (0, None))
        score: float | int = points
        if competition.metric == "per_member":
            score = round(points / max(members, 1), 2)
        rows.append(
            {
                "department": {"id": department_id, "name": name},
                "score": score,
                "points": points,
                "members": members,
                "reached_at": reached.isoformat() if reached else None,
            }
        )
    # Higher score first; then the earlier achiever; departments without points last, by name.
    rows.sort(
        key=lambda r: (
            -r["score"],
            r["reached_at"] is None,
            r["reached_at"] or "",
            r["department"]["name"],
            r["department"]["id"],
        )
    )
    return [{"rank": rank, **row} for rank, row in enumerate(rows, start=1)]


def standings(
    session: Session, *, user: User, competition_id: str, now: datetime
) -> dict[str, Any]:
    """`GET /competitions/{id}/standings`: frozen once finished, live before."""
    competition = get_competition(session, user.org_id, competition_id)
    entries = (
        competition.results
        if competition.results is not None
        else compute_standings(session, competition)
    )
    return {"competition": summary(competition, now), "entries": entries}


def finish_due_competitions(session: Session, *, now: datetime) -> list[str]:
    """Freeze the standings of every competition that has ended, record the winner and give
    its members the `competition_won` badge. Safe to run twice (and concurrently)."""
    due = session.scalars(
        select(Competition)
        .where(Competition.finished_at.is_(None), Competition.ends_at <= now)
        .order_by(Competition.ends_at)
        .with_for_update(skip_locked=True)
    ).all()
    finished: list[str] = []
    for competition in due:
        results = compute_standings(session, competition)
        winner = results[0] if results and results[0]["points"] > 0 else None
        competition.results = results
        competition.finished_at = now
        competition.winner_department_id = winner["department"]["id"] if winner else None
        if winner:
            # Everyone active in the winning department or below it played for it.
            below = leaderboards.department_subtrees(
                session, competition.org_id, [winner["department"]["id"]]
            )[winner["department"]["id"]]
            members = session.scalars(
                select(User).where(User.department_id.in_(below), User.active.is_(True))
            ).all()
            gamification.grant_badges(
                session, users=members, code="competition_won", period=competition.id, now=now
            )
        finished.append(competition.id)
    session.flush()
    return finished


def recently_ended(
    session: Session, *, now: datetime, within: timedelta
) -> list[tuple[Competition, list[str]]]:
    """Competitions that ended in the last `within`, each with the ids of the active members of
    its departments (those who played for it), in two queries."""
    ended = list(
        session.scalars(
            select(Competition)
            .where(Competition.ends_at <= now, Competition.ends_at > now - within)
            .order_by(Competition.ends_at, Competition.id)
        )
    )
    # A department played with everyone in it and below it.
    below = {
        (c.org_id, d): subtree
        for c in ended
        for d, subtree in leaderboards.department_subtrees(
            session, c.org_id, c.department_ids
        ).items()
    }
    department_ids = set().union(*below.values()) if below else set()
    members: dict[str, list[str]] = {}
    if department_ids:
        for user_id, department_id in session.execute(
            select(User.id, User.department_id)
            .where(User.department_id.in_(department_ids), User.active.is_(True))
            .order_by(User.id)
        ):
            members.setdefault(department_id or "", []).append(user_id)
    return [
        (
            c,
            list(
                dict.fromkeys(
                    u
                    for d in c.department_ids
                    for inside in sorted(below[(c.org_id, d)])
                    for u in members.get(inside, [])
                )
            ),
        )
        for c in ended
    ]

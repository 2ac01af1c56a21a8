"""Store screens: creating and revoking their links, and what a screen shows.

A screen is opened by a secret link; only the sha256 of its secret is stored. The link
opens the screen's page and its live data, nothing else: it is not a login.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.principal import OrganizationFacts, UserFactsLike
from app.caching import LocalCache, invalidate
from app.competitions import service as competitions
from app.competitions.models import Competition
from app.db import after_commit
from app.errors import Forbidden, NotFound
from app.extensions import get_redis
from app.leaderboards import service as leaderboards
from app.orgs import service as orgs
from app.orgs.facts import department_facts
from app.orgs.models import Department, Organization, User
from app.pagination import Page, paginate
from app.paths import rules as path_rules
from app.screens import queries, rules, store
from app.screens.models import Screen
from app.screens.texts import TEXTS
from app.web import web_language

log = logging.getLogger(__name__)


# --- managing screens ----------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedScreen:
    screen: Screen
    token: str  # the link's secret: shown once, in `url`


def create_screen(session: Session, *, user: User, department_id: str, name: str) -> CreatedScreen:
    """A new screen for a department the user manages (any, for an admin), with its secret."""
    _managed_department(session, user, department_id)
    token = secrets.token_urlsafe(rules.TOKEN_BYTES)
    screen = Screen(
        org_id=user.org_id,
        department_id=department_id,
        name=name,
        token_hash=rules.hash_token(token),
        created_by=user.id,
    )
    session.add(screen)
    session.flush()
    return CreatedScreen(screen, token)


def list_screens(session: Session, *, user: User, limit: int, cursor: str | None) -> Page[Screen]:
    """The screens of the departments the user manages (every department, for an admin)."""
    managed = orgs.managed_department_ids(session, user)
    stmt = select(Screen).where(
        Screen.org_id == user.org_id, Screen.department_id.in_(sorted(managed))
    )
    return paginate(session, stmt, key=Screen.id, limit=limit, cursor=cursor)


def delete_screen(session: Session, *, user: User, screen_id: str) -> None:
    """Revoke a screen: its link stops working in every process once this commits."""
    screen = session.get(Screen, screen_id)
    if screen is None or screen.org_id != user.org_id:
        raise NotFound("No such screen.")
    if screen.department_id not in orgs.managed_department_ids(session, user):
        raise Forbidden("You can only remove the screens of departments you manage.")
    invalidate(session, _by_token, screen.token_hash)
    session.delete(screen)
    session.flush()


def _managed_department(session: Session, user: User, department_id: str) -> Department:
    department = orgs.get_department(session, user.org_id, department_id)  # 404 across orgs
    if department_id not in orgs.managed_department_ids(session, user):
        raise Forbidden("You can only make screens for departments you manage.")
    return department


# --- opening a screen by its link -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScreenFacts:
    """What a screen's requests need of it and its organisation, cached per process."""

    id: str
    name: str
    department_id: str
    department_name: str
    organization: OrganizationFacts

    @property
    def language(self) -> str:
        return web_language(self.organization.default_locale)


# token hash -> facts; dropped everywhere when the screen is deleted (`delete_screen`).
_by_token: LocalCache[ScreenFacts] = LocalCache("screens.by_token", ttl=300)

_BY_TOKEN = (
    select(
        Screen.id,
        Screen.name,
        Screen.department_id,
        Department.name,
        Organization.id,
        Organization.slug,
        Organization.name,
        Organization.timezone,
        Organization.default_locale,
        Organization.settings,
    )
    .join(Department, Department.id == Screen.department_id)
    .join(Organization, Organization.id == Screen.org_id)
)


def screen_for_token(session: Session, *, token: str) -> ScreenFacts:
    """The screen a link opens; 404 for anything else (a revoked link included)."""
    if not rules.looks_like_token(token):
        raise NotFound("No such screen.")
    token_hash = rules.hash_token(token)

    def load() -> ScreenFacts | None:
        row = session.execute(_BY_TOKEN.where(Screen.token_hash == token_hash)).first()
        if row is None:
            return None
        screen_id, name, department_id, department_name, *org = row
        return ScreenFacts(screen_id, name, department_id, department_name, OrganizationFacts(*org))

    found = _by_token.fetch(token_hash, load, session=session)
    if found is None:
        raise NotFound("No such screen.")
    return found


def open_screens(session: Session, token_hashes: Iterable[str]) -> dict[str, ScreenFacts]:
    """Of these links (by their hash), those still open: from the per-process cache (dropped
    in every process on a revocation), the rest in one query. What a process's stream watcher
    asks every second of every open stream, so that a revoked screen stops at once."""

    def load(missing: list[str]) -> dict[str, ScreenFacts]:
        rows = session.execute(
            _BY_TOKEN.add_columns(Screen.token_hash).where(Screen.token_hash.in_(missing))
        )
        return {
            token_hash: ScreenFacts(
                screen_id, name, department_id, department_name, OrganizationFacts(*org)
            )
            for screen_id, name, department_id, department_name, *org, token_hash in rows
        }

    return _by_token.fetch_many(token_hashes, load, session=session)


# --- what a screen shows --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Running:
    id: str
    department_ids: frozenset[str]
    starts_at: datetime
    ends_at: datetime


# org id -> its competitions not yet over (a new one shows within the ttl).
_running: LocalCache[tuple[_Running, ...]] = LocalCache("screens.competitions", ttl=60)
# competition id -> its live standings, shared by the screens of every department in it.
_standings: LocalCache[tuple[Competition, list[dict[str, Any]]]] = LocalCache(
    "screens.standings", ttl=rules.COMPETING_REFRESH_SECONDS
)


def _competition_of(session: Session, screen: ScreenFacts, now: datetime) -> _Running | None:
    """The department's active competition (the one ending first), if any."""

    def load() -> tuple[_Running, ...]:
        rows = session.scalars(
            select(Competition).where(
                Competition.org_id == screen.organization.id,
                Competition.finished_at.is_(None),
                Competition.ends_at > now,
            )
        )
        return tuple(
            _Running(c.id, frozenset(c.department_ids), c.starts_at, c.ends_at) for c in rows
        )

    running = _running.fetch(screen.organization.id, load) or ()
    active = [
        c
        for c in running
        if screen.department_id in c.department_ids and c.starts_at <= now < c.ends_at
    ]
    return min(active, key=lambda c: (c.ends_at, c.id)) if active else None


def _competition(session: Session, screen: ScreenFacts, now: datetime) -> dict[str, Any] | None:
    running = _competition_of(session, screen, now)
    if running is None:
        return None

    def load() -> tuple[Competition, list[dict[str, Any]]] | None:
        competition = session.get(Competition, running.id)
        if competition is None:
            return None
        return competition, competitions.compute_standings(session, competition)

    found = _standings.fetch(running.id, load)
    if found is None:
        return None
    competition, entries = found
    ours = next((e for e in entries if e["department"]["id"] == screen.department_id), None)
    if ours is None:
        return None
    return {
        "title": competition.title,
        "metric": competition.metric,
        "ends_at": competition.ends_at.isoformat(),
        "rank": ours["rank"],
        "of": len(entries),
        "score": ours["score"],
        "leaders": [
            {
                "rank": e["rank"],
                "department": e["department"]["name"],
                "score": e["score"],
                "ours": e["department"]["id"] == screen.department_id,
            }
            for e in entries[:3]
        ],
    }


def _path_completion(
    session: Session, screen: ScreenFacts, now: datetime, completions: str | None
) -> dict[str, int] | None:
    """How many of the department's people have done every module of this week's paths;
    recomputed only when `completions` (the department's count in Redis) moved, or without
    one (Redis down, the first page)."""
    week = path_rules.week_of(now, screen.organization.timezone)

    def load() -> tuple[int, int]:
        weeks = queries.department_weeks(
            session,
            org_id=screen.organization.id,
            department_id=screen.department_id,
            week=week,
        )
        return rules.path_completion(member.paths for member in weeks)

    if completions is None:
        done, of = load()
    else:
        bucket = rules.refresh_bucket(now, competing=False)
        key = f"{screen.organization.id}:{screen.department_id}:{week}:{completions}:{bucket}"
        done, of = _path_done.fetch(key, load) or (0, 0)
    return {"done": done, "of": of} if of else None


def screen_content(
    session: Session, *, screen: ScreenFacts, now: datetime, completions: str | None = None
) -> dict[str, Any]:
    """What the TV shows: names (or "a colleague"), points and ranks, the department's place
    in its competition, this week's path completion. Never an id or a username. The same for
    every screen of the department (one rendering serves them all): nothing of the screen's
    own."""
    colleague = TEXTS[screen.language]["colleague"]
    week, standings = leaderboards.department_standings(
        session,
        org=screen.organization,
        department_id=screen.department_id,
        limit=rules.BOARD_SIZE,
        now=now,
    )
    return {
        "language": screen.language,
        "department": screen.department_name,
        "week": week,
        "board": [
            {
                "rank": s.rank,
                "name": rules.screen_name(s.display_name, s.department_only, colleague),
                "points": s.points,
            }
            for s in standings
        ],
        "competition": _competition(session, screen, now),
        "path": _path_completion(session, screen, now, completions),
    }


@dataclass(frozen=True, slots=True)
class LiveScreen:
    """The screen's current ETag and body (sent only to a TV that does not have it)."""

    etag: str
    body: bytes


# (org, department, week, completions count, refresh window) -> (done, of): the path
# completion, recomputed only when one of the department's people completed a module (or
# the window turned: a new hire, a new path). A department busy answering changes its board
# constantly and its path completion rarely.
_path_done: LocalCache[tuple[int, int]] = LocalCache(
    "screens.path_done", ttl=rules.QUIET_REFRESH_SECONDS
)


def live_screen(session: Session, *, screen: ScreenFacts, now: datetime) -> LiveScreen:
    """The screen as it is now. While nothing it shows has changed, a poll costs one Redis
    command and no query; when its inputs moved, the screen is rendered anew, at most every
    `rules.RENDER_MIN_SECONDS`, and kept in Redis for every process and TV."""
    client = get_redis()
    try:
        state = store.read_state(
            client, screen.organization.id, screen.department_id, screen_period(screen, now)
        )
    except redis.RedisError as error:
        log.warning("screen state from Redis failed (%s); rendering without it", error)
        return render_without_redis(session, screen=screen, now=now)
    return live_from_state(session, screen=screen, now=now, state=state)


def screen_period(screen: ScreenFacts, now: datetime) -> str:
    """The week whose board the screen shows (part of what its state is read under)."""
    return path_rules.week_of(now, screen.organization.timezone)


def live_from_state(
    session: Session, *, screen: ScreenFacts, now: datetime, state: store.ScreenState
) -> LiveScreen:
    """`live_screen` with the department's state already read (`store.read_state`, or
    `store.read_states` for many departments at once): the kept rendering while it is
    current, else a new one, kept for every process."""
    period = screen_period(screen, now)
    bucket = rules.refresh_bucket(now, competing=_competition_of(session, screen, now) is not None)
    stamp = rules.stamp(period, state.board_version, state.built, state.completions, bucket)
    kept = state.rendered
    if kept is not None and rules.rendering_current(
        kept.stamp == stamp, kept.rendered_at, now.timestamp()
    ):
        return LiveScreen(kept.etag, kept.body)
    return _render(
        session,
        screen,
        now,
        stamp=stamp,
        completions=state.completions or "0",
        previous=kept,
        keep=True,
    )


def render_without_redis(session: Session, *, screen: ScreenFacts, now: datetime) -> LiveScreen:
    """The screen rendered from the database alone (Redis is down): nothing kept."""
    return _render(session, screen, now, stamp="", completions=None, previous=None, keep=False)


def note_completions(session: Session, users: Iterable[UserFactsLike]) -> None:
    """After the commit, tell the screens of these people's departments, and of every
    department above them (a store's screen counts its sub-departments' people), that a module
    was completed (their path completion may have moved). Redis down: the screens show it when
    their refresh window turns (`rules.QUIET_REFRESH_SECONDS`)."""
    departments = {
        (u.org_id, department_id)
        for u in users
        if u.department_id is not None
        for department_id in department_facts(session, u.org_id).lineage(u.department_id)
    }
    if not departments:
        return
    client = get_redis()

    def note() -> None:
        try:
            store.note_completions(client, sorted(departments))
        except redis.RedisError as error:
            log.warning("screens not told of a completion (%s)", error)

    after_commit(session, note)


def _render(
    session: Session,
    screen: ScreenFacts,
    now: datetime,
    *,
    stamp: str,
    completions: str | None,
    previous: store.Rendered | None,
    keep: bool,
) -> LiveScreen:
    content = screen_content(session, screen=screen, now=now, completions=completions)
    etag = rules.content_etag(content)
    # Nothing shown changed: neither did the time of the last change.
    changed_at = previous.changed_at if previous is not None and previous.etag == etag else None
    changed_at = changed_at or now.isoformat()
    body = orjson.dumps({**content, "changed_at": changed_at, "poll_seconds": rules.POLL_SECONDS})
    if keep:
        rendered = store.Rendered(stamp, etag, now.timestamp(), changed_at, body)
        try:
            store.keep_rendered(get_redis(), screen.organization.id, screen.department_id, rendered)
        except redis.RedisError as error:
            log.warning("keeping a rendered screen in Redis failed (%s)", error)
    return LiveScreen(etag, body)


def screen_page(session: Session, *, screen: ScreenFacts, now: datetime) -> dict[str, Any]:
    """What the page is first drawn with: the same data the TV then polls for."""
    live = live_screen(session, screen=screen, now=now)
    data: dict[str, Any] = orjson.loads(live.body)
    data["etag"] = live.etag
    return data

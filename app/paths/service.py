"""Scheduling weekly paths, the learner's week (with per-module status), competence requirements.

`GET /paths/current` is the hot read: what is the same for everyone in an audience (the
department tree, the week's paths and onboarding templates, the requirements, the published
modules' facts) comes from the per-process caches of `app.paths.structure`, so a read asks the
database only for the learner's own attempts (one query once the caches are warm).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    String,
    any_,
    bindparam,
    event,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, defer

from app.auth.principal import Principal
from app.caching import LocalCache, invalidate, invalidation_pending
from app.content.models import Module, ModuleVersion
from app.errors import Conflict, NotFound, Unprocessable
from app.languages import in_language
from app.learning.models import Attempt
from app.orgs.facts import department_facts
from app.orgs.models import ROLES, Department, Organization, User
from app.paths import rules, structure
from app.paths.models import LearningPath, PathModule, Requirement
from app.paths.structure import ModuleFacts, PathFacts

# The learner: the `User` row, or the cached facts of the caller (same attribute names).
Learner = User | Principal

REQUIRED_PATH_ID = "required"
REQUIRED_PATH_TITLES = {
    "nb": "Påkrevd opplæring",
    "nn": "Påkravd opplæring",
    "en": "Required training",
}
DEFAULT_REQUIREMENT_SETTINGS: dict[str, int] = {"expiring_window_days": 30}


def requirement_settings(org_settings: Mapping[str, Any]) -> dict[str, int]:
    """The organisation's requirement settings (`settings["requirements"]`) over the defaults."""
    return {**DEFAULT_REQUIREMENT_SETTINGS, **(org_settings.get("requirements") or {})}


def started_on(user: Learner) -> date:
    """The learner's first working day (onboarding weeks count from it): as the admin set it,
    else the day the account was created, in the organisation's time zone."""
    return user.started_on or rules.local_date(user.created_at, user.organization.timezone)


def ancestor_department_ids(
    session: Session, org_id: str, department_id: str | None
) -> frozenset[str]:
    """The department and every department above it (from the organisation's cached tree)."""
    if department_id is None:
        return frozenset()
    return department_facts(session, org_id).ancestors(department_id)


def _audience_matches(
    department_ids: Sequence[str], roles: Sequence[str], user: Learner, ancestors: Set[str]
) -> bool:
    # Both criteria given means both must hold: "the cashiers of region east".
    if department_ids and ancestors.isdisjoint(department_ids):
        return False
    return not roles or user.has_role(*roles)


# --- editors ---------------------------------------------------------------------------------


def _validate_audience(
    session: Session, org_id: str, department_ids: list[str], roles: list[str]
) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if department_ids:
        known = set(
            session.scalars(
                select(Department.id).where(
                    Department.org_id == org_id, Department.id.in_(department_ids)
                )
            )
        )
        unknown = [dep for dep in department_ids if dep not in known]
        if unknown:
            problems["audience.department_ids"] = [f"No such department: {d}" for d in unknown]
    bad_roles = [role for role in roles if role not in ROLES]
    if bad_roles:
        problems["audience.roles"] = [f"No such role: {role}" for role in bad_roles]
    return problems


def _unpublished(session: Session, org_id: str, module_ids: Iterable[str]) -> list[str]:
    wanted = list(module_ids)
    published = set(
        session.scalars(
            select(Module.id).where(
                Module.org_id == org_id, Module.id.in_(wanted), Module.status == "published"
            )
        )
    )
    return [module_id for module_id in wanted if module_id not in published]


def create_path(
    session: Session,
    *,
    user: User,
    title: str,
    modules: list[dict[str, Any]],
    week: str | None = None,
    onboarding_week: int | None = None,
    audience: dict[str, Any] | None = None,
    due_at: datetime | None = None,
    sequential: bool = False,
    translations: dict[str, dict[str, str]] | None = None,
    now: datetime,
) -> LearningPath:
    """Schedule a path for a week (or the n-th week after each learner starts); 422 lists
    every problem, including modules that are not published modules of the organisation."""
    audience = audience or {}
    department_ids = list(dict.fromkeys(audience.get("department_ids") or []))
    roles = list(dict.fromkeys(audience.get("roles") or []))
    problems = _validate_audience(session, user.org_id, department_ids, roles)
    if (week is None) == (onboarding_week is None):
        problems["week"] = ["Give either `week` or `onboarding_week`."]
    elif week is not None:
        try:
            rules.parse_week(week)
        except ValueError as error:
            problems["week"] = [str(error)]
    module_ids = [step["module_id"] for step in modules]
    duplicates = sorted({m for m in module_ids if module_ids.count(m) > 1})
    if duplicates:
        problems["modules"] = [f"Listed more than once: {m}" for m in duplicates]
    bad = _unpublished(session, user.org_id, dict.fromkeys(module_ids))
    if bad:
        problems.setdefault("modules", []).extend(
            f"Not a published module of this organisation: {m}" for m in bad
        )
    if problems:
        raise Unprocessable("The path cannot be scheduled.", errors=problems)
    path = LearningPath(
        org_id=user.org_id,
        title=title,
        week=week,
        onboarding_week=onboarding_week,
        audience_department_ids=department_ids,
        audience_roles=roles,
        due_at=due_at.astimezone(UTC) if due_at else None,
        sequential=sequential,
        translations=translations or {},
        created_by=user.id,
        created_at=now,
        steps=[
            PathModule(position=n, module_id=step["module_id"], mandatory=step["mandatory"])
            for n, step in enumerate(modules)
        ],
    )
    session.add(path)
    session.flush()
    return path


def scheduled_paths(*, org_id: str, week: str | None) -> Select[Any]:
    """The organisation's paths (one week's, or all), for the editors' list."""
    stmt = select(LearningPath).where(LearningPath.org_id == org_id)
    if week is not None:
        stmt = stmt.where(LearningPath.week == week)
    return stmt


def get_path(session: Session, org_id: str, path_id: str) -> LearningPath:
    """A path of this organisation, or 404."""
    path = session.get(LearningPath, path_id)
    if path is None or path.org_id != org_id:
        raise NotFound("No such path.")
    return path


def delete_path(session: Session, *, org_id: str, path_id: str) -> None:
    """Unschedule a path; attempts already made keep counting."""
    session.delete(get_path(session, org_id, path_id))
    session.flush()


def parse_week_arg(week: str) -> str:
    """A `week` query parameter, or 422 keyed `week`."""
    try:
        rules.parse_week(week)
    except ValueError as error:
        raise Unprocessable("Invalid week.", errors={"week": [str(error)]}) from None
    return week


# --- the learner's week ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Progress:
    completed: bool = False  # an attempt was completed, whatever the score (`status`)
    passed: bool = False  # an attempt passed: what paths, unlocking and path badges count
    started: bool = False
    open_started_at: datetime | None = None
    last_passed_at: datetime | None = None


@dataclass
class _Requirement:
    module_id: str
    validity_months: int | None
    due_within_days: int
    assigned_at: datetime


@dataclass
class _Week:
    week: str
    paths: list[PathFacts]
    requirements: list[_Requirement]
    versions: dict[str, ModuleFacts]  # the published modules among the week's
    progress: dict[str, _Progress]
    states: dict[str, rules.RequirementState] = field(default_factory=dict)
    # The published prerequisites of those modules that are not among them (their titles).
    prerequisite_modules: dict[str, ModuleFacts] = field(default_factory=dict)


_attempts = Attempt.__table__.c


def _progress_statement(module_ids: ColumnElement[bool]) -> Select[Any]:
    return (
        select(
            _attempts.module_id,
            func.count(_attempts.completed_at),
            func.count(_attempts.id).filter(_attempts.passed.is_(True)),
            func.count(_attempts.id),
            func.max(_attempts.started_at).filter(_attempts.completed_at.is_(None)),
            func.max(_attempts.completed_at).filter(_attempts.passed.is_(True)),
        )
        .where(_attempts.user_id == bindparam("user_id"), module_ids)
        .group_by(_attempts.module_id)
    )


# Built once, Core only (no ORM entities), so a read only binds its parameters. PostgreSQL
# takes the module ids as one array (`= ANY(...)`): rendering an expanding IN list anew for
# every execution was a good part of the query's CPU.
_PROGRESS = {
    "postgresql": _progress_statement(
        _attempts.module_id == any_(bindparam("module_ids", type_=ARRAY(String)))
    ),
    "other": _progress_statement(_attempts.module_id.in_(bindparam("module_ids", expanding=True))),
}
_PROGRESS_ALL = _progress_statement(true())


def _progress(
    session: Session, user_id: str, module_ids: set[str], *, cached: bool = False
) -> dict[str, _Progress]:
    """Per module: completed, started, the newest open attempt and the newest pass, in one
    query over every version of the module (progress on an older version still counts).

    `cached`: for reads, the learner's progress on every module from the per-process cache
    (dropped whenever one of their attempts is started or finished); a check before a write
    reads the database.
    """
    if not module_ids:
        return {}
    if cached:
        everything = _learner_progress.get(user_id)
        if everything is None:
            generation = _learner_progress.generation
            everything = MappingProxyType(_read_progress(session, user_id, None))
            if not invalidation_pending(session, _learner_progress):
                _learner_progress.put(user_id, everything, loaded_at=generation)
        return {module_id: everything.get(module_id, _NO_PROGRESS) for module_id in module_ids}
    found = _read_progress(session, user_id, module_ids)
    return {module_id: found.get(module_id, _NO_PROGRESS) for module_id in module_ids}


_NO_PROGRESS = _Progress()
# user id -> progress per module: what every read of a week needs and only the learner's own
# attempts change (a start or a completion, not each answer).
_learner_progress: LocalCache[Mapping[str, _Progress]] = LocalCache("paths.progress", ttl=300)


def _read_progress(
    session: Session, user_id: str, module_ids: set[str] | None
) -> dict[str, _Progress]:
    connection = session.connection()
    parameters: dict[str, Any] = {"user_id": user_id}
    if module_ids is None:
        statement = _PROGRESS_ALL
    else:
        statement = _PROGRESS.get(connection.dialect.name, _PROGRESS["other"])
        parameters["module_ids"] = sorted(module_ids)
    return {
        module_id: _Progress(
            completed=bool(completed),
            passed=bool(passed),
            started=bool(started),
            open_started_at=open_started_at,
            last_passed_at=last_passed_at,
        )
        for (
            module_id,
            completed,
            passed,
            started,
            open_started_at,
            last_passed_at,
        ) in connection.execute(statement, parameters)
    }


@event.listens_for(Session, "after_flush")
def _forget_changed_progress(session: Session, _flush_context: Any) -> None:
    users = {
        obj.user_id
        for obj in (*session.new, *session.dirty, *session.deleted)
        if isinstance(obj, Attempt)
    }
    if users:
        invalidate(session, _learner_progress, *users)


def _applicable_requirements(
    session: Session, user: Learner, ancestors: Set[str]
) -> list[_Requirement]:
    """The requirements that apply to the user, one per module (the strictest wins); those of
    modules that are not published are left out by the caller."""
    roles = user.roles
    by_module: dict[str, _Requirement] = {}
    for req in structure.requirements(session, user.org_id):
        if req.department_id is not None and req.department_id not in ancestors:
            continue
        if req.role is not None and req.role not in roles:
            continue
        assigned_at = max(req.created_at, user.created_at)
        current = by_module.get(req.module_id)
        if current is None:
            by_module[req.module_id] = _Requirement(
                req.module_id, req.validity_months, req.due_within_days, assigned_at
            )
            continue
        validities = [v for v in (current.validity_months, req.validity_months) if v is not None]
        current.validity_months = min(validities) if validities else None
        due = assigned_at + timedelta(days=req.due_within_days)
        if due < current.assigned_at + timedelta(days=current.due_within_days):
            current.assigned_at, current.due_within_days = assigned_at, req.due_within_days
    return list(by_module.values())


def _load_week(
    session: Session,
    *,
    user: Learner,
    week: str,
    with_requirements: bool,
    now: datetime,
    with_paths: bool = True,
    cached_progress: bool = False,
    also: Iterable[str] = (),
) -> _Week:
    """The week's paths, requirements, modules and the learner's progress on them; `also`:
    more modules whose locks are wanted (they join `versions`, not the paths)."""
    ancestors = ancestor_department_ids(session, user.org_id, user.department_id)
    paths = _paths_for(session, user, week, ancestors) if with_paths else []
    requirements = _applicable_requirements(session, user, ancestors) if with_requirements else []
    module_ids = {step.module_id for path in paths for step in path.steps}
    module_ids |= {req.module_id for req in requirements}
    module_ids |= set(also)
    versions = structure.modules(session, user.org_id, module_ids)
    requirements = [req for req in requirements if req.module_id in versions]
    prerequisites = {pre for version in versions.values() for pre in version.prerequisites}
    progress = _progress(session, user.id, module_ids | prerequisites, cached=cached_progress)
    loaded = _Week(week, paths, requirements, versions, progress)
    if prerequisites - module_ids:
        loaded.prerequisite_modules = structure.modules(
            session, user.org_id, prerequisites - module_ids
        )
    settings = requirement_settings(user.organization.settings)
    for req in requirements:
        loaded.states[req.module_id] = rules.requirement_state(
            last_passed_at=progress[req.module_id].last_passed_at,
            validity_months=req.validity_months,
            assigned_at=req.assigned_at,
            due_within_days=req.due_within_days,
            expiring_window_days=settings["expiring_window_days"],
            now=now,
        )
    return loaded


def _paths_for(session: Session, user: Learner, week: str, ancestors: Set[str]) -> list[PathFacts]:
    """The week's paths whose audience includes the user, and their onboarding template for
    this week of their employment, by id."""
    paths = list(structure.week_paths(session, user.org_id, week))
    onboarding = rules.onboarding_week_number(started_on(user), week)
    if onboarding >= 1:
        paths += [
            path
            for path in structure.onboarding_templates(session, user.org_id)
            if path.onboarding_week == onboarding
        ]
        paths.sort(key=lambda path: path.id)
    return [
        path
        for path in paths
        if _audience_matches(path.audience_department_ids, path.audience_roles, user, ancestors)
    ]


def _current_versions(
    session: Session, org_id: str, module_ids: set[str]
) -> dict[str, ModuleVersion]:
    if not module_ids:
        return {}
    return {
        version.module_id: version
        for version in session.scalars(
            select(ModuleVersion)
            .options(defer(ModuleVersion.content))
            .join(Module, Module.current_version_id == ModuleVersion.id)
            .where(
                Module.org_id == org_id,
                Module.status == "published",
                Module.id.in_(module_ids),
            )
        )
    }


@dataclass(frozen=True)
class _Entry:
    """One path as the learner sees it, before rendering: its published steps and locks."""

    id: str
    title: str
    due_at: datetime | None
    steps: list[rules.PathStep]
    locks: dict[str, str | None]
    required: bool = False
    sequential: bool = False


def _entries(loaded: _Week, *, timezone: str, locales: list[str]) -> list[_Entry]:
    # A sequential path opens the next module once the one before is passed.
    passed = {m for m, p in loaded.progress.items() if p.passed}
    entries: list[_Entry] = []
    required_steps = _required_steps(loaded, timezone=timezone)
    if required_steps:
        due_dates = [
            state.due_at
            for module_id, state in loaded.states.items()
            if state.due_at is not None and rules.needs_training(state)
        ]
        entries.append(
            _Entry(
                id=REQUIRED_PATH_ID,
                title=in_language(REQUIRED_PATH_TITLES, locales[0] if locales else None),
                due_at=min(due_dates) if due_dates else None,
                steps=required_steps,
                locks=dict.fromkeys((step.module_id for step in required_steps), None),
                required=True,
            )
        )
    for path in loaded.paths:
        steps = [
            rules.PathStep(step.module_id, step.mandatory)
            for step in path.steps
            if step.module_id in loaded.versions
        ]
        locks = (
            rules.sequential_locks(steps, passed)
            if path.sequential
            else dict.fromkeys((step.module_id for step in steps), None)
        )
        due_at = path.due_at
        if due_at is None and path.onboarding_week is not None:
            due_at = rules.week_span_utc(loaded.week, timezone)[1]
        entries.append(
            _Entry(
                path.id, path.title_in(locales), due_at, steps, locks, sequential=path.sequential
            )
        )
    return entries


def _required_steps(loaded: _Week, *, timezone: str) -> list[rules.PathStep]:
    """Requirements needing training, plus those renewed this week (so the learner sees them
    done rather than vanish)."""
    start, end = rules.week_span_utc(loaded.week, timezone)
    steps = []
    for req in loaded.requirements:
        if req.module_id not in loaded.versions:
            continue
        state = loaded.states[req.module_id]
        passed_at = loaded.progress[req.module_id].last_passed_at
        renewed = passed_at is not None and start <= passed_at < end
        if rules.needs_training(state) or renewed:
            steps.append(rules.PathStep(req.module_id, mandatory=True))
    return steps


def _step_status(loaded: _Week, entry: _Entry, module_id: str, locked: bool) -> str:
    progress = loaded.progress[module_id]
    if entry.required:
        # Done only once the requirement is met again; older completions do not count here.
        state = loaded.states[module_id]
        last_pass = progress.last_passed_at
        started = progress.open_started_at is not None and (
            last_pass is None or progress.open_started_at > last_pass
        )
        return rules.module_status(
            completed=not rules.needs_training(state), started=started, locked=locked
        )
    return rules.module_status(
        completed=progress.completed, started=progress.started, locked=locked
    )


def _step_done(loaded: _Week, entry: _Entry, module_id: str) -> bool:
    """Whether the path counts the module done: passed (a requirement: met again)."""
    if entry.required:
        return not rules.needs_training(loaded.states[module_id])
    return loaded.progress[module_id].passed


@dataclass(frozen=True)
class Lock:
    """Why a learner may not start a module yet: a sentence in their language, and the
    modules to pass first (`requires`: id and title)."""

    reason: str
    requires: list[dict[str, str]]


def _lock_of(
    loaded: _Week, entries: list[_Entry], module_id: str, locales: list[str]
) -> Lock | None:
    """The module's lock: prerequisites not passed, and the blockers of every current path
    with it when all of them lock it (one path leaving it open opens it)."""
    version = loaded.versions.get(module_id)
    blockers: list[rules.Blocker] = []
    if version is not None:
        for pre in version.prerequisites:
            if not loaded.progress[pre].passed:
                facts = loaded.versions.get(pre) or loaded.prerequisite_modules.get(pre)
                blockers.append(rules.Blocker(pre, facts.title(locales) if facts else pre, None))
    path_locks = [(entry, entry.locks[module_id]) for entry in entries if module_id in entry.locks]
    if rules.locked_by_paths(lock for _, lock in path_locks):
        for entry, blocker in path_locks:
            assert blocker is not None
            title = loaded.versions[blocker].title(locales)
            blockers.append(rules.Blocker(blocker, title, entry.title))
    if not blockers:
        return None
    requires = {blocker.module_id: blocker.title for blocker in blockers}
    return Lock(
        reason=rules.lock_sentence(blockers, locales[0] if locales else "en"),
        requires=[{"id": key, "title": title} for key, title in requires.items()],
    )


@dataclass(frozen=True)
class LoadedWeek:
    """A learner's week as loaded, before rendering (`render_learner_week`)."""

    user: Learner
    week: _Week
    locales: tuple[str, ...]

    @property
    def sources(self) -> tuple[Any, ...]:
        """Everything the rendering reads: equal sources render equal bodies. The requirement
        states are computed for the moment of loading, so a week rendered before a deadline
        or renewal passed has other sources than one rendered after."""
        week = self.week
        return (
            self.user,
            self.locales,
            week.week,
            tuple(week.paths),
            tuple(week.requirements),
            week.versions,
            week.progress,
            week.states,
            week.prerequisite_modules,
        )


def load_learner_week(
    session: Session, *, user: Learner, week: str | None, locales: list[str], now: datetime
) -> LoadedWeek:
    """The facts `render_learner_week` needs for `week` (default: this week, which also
    carries the required-training path), in a fixed number of queries (none when cached)."""
    current = rules.week_of(now, user.organization.timezone)
    week = week or current
    loaded = _load_week(
        session,
        user=user,
        week=week,
        with_requirements=week == current,
        now=now,
        cached_progress=True,
    )
    return LoadedWeek(user, loaded, tuple(locales))


def render_learner_week(loaded_week: LoadedWeek) -> dict[str, Any]:
    """The paths assigned to the user for the week, each module with its status; a pure
    function of `loaded_week.sources`."""
    user, loaded, locales = loaded_week.user, loaded_week.week, list(loaded_week.locales)
    timezone = user.organization.timezone
    entries = _entries(loaded, timezone=timezone, locales=locales)
    locks = {
        step.module_id: _lock_of(loaded, entries, step.module_id, locales)
        for entry in entries
        for step in entry.steps
    }
    monday, sunday = rules.week_dates(loaded.week)
    paths = []
    for entry in entries:
        modules = []
        for step in entry.steps:
            version = loaded.versions[step.module_id]
            lock = locks[step.module_id]
            modules.append(
                {
                    "id": step.module_id,
                    "title": version.title(locales),
                    "estimated_minutes": version.estimated_minutes,
                    "mandatory": step.mandatory,
                    "status": _step_status(loaded, entry, step.module_id, lock is not None),
                    "passed": _step_done(loaded, entry, step.module_id),
                    "locked_reason": lock.reason if lock else None,
                    "requires": lock.requires if lock else [],
                }
            )
        paths.append(
            {
                "id": entry.id,
                "title": entry.title,
                "mandatory": any(step.mandatory for step in entry.steps),
                "required": entry.required,
                "sequential": entry.sequential,
                "due_at": entry.due_at,
                "progress": {
                    # Modules done as the path counts them: passed, not merely completed.
                    "completed": sum(1 for m in modules if m["passed"]),
                    "total": len(modules),
                },
                "modules": modules,
            }
        )
    return {
        "week": loaded.week,
        "starts_on": monday,
        "ends_on": sunday,
        "timezone": timezone,
        "paths": paths,
    }


def learner_week(
    session: Session, *, user: Learner, week: str | None, locales: list[str], now: datetime
) -> dict[str, Any]:
    """The paths assigned to the user for `week` (default: this week, which also carries the
    required-training path), each module with its status, in a fixed number of queries."""
    return render_learner_week(
        load_learner_week(session, user=user, week=week, locales=locales, now=now)
    )


def module_lock(
    session: Session, *, user: Learner, module_id: str, now: datetime, locales: list[str]
) -> Lock | None:
    """Why the learner may not start the module at `now` (prerequisites not passed, or every
    path of that week with it locks it), in their language; None when they may. Reads the
    learner's progress from the database: it guards a write."""
    week = rules.week_of(now, user.organization.timezone)
    loaded = _load_week(
        session, user=user, week=week, with_requirements=True, now=now, also=[module_id]
    )
    entries = _entries(loaded, timezone=user.organization.timezone, locales=locales)
    return _lock_of(loaded, entries, module_id, locales)


def module_locks(
    session: Session, *, user: Learner, module_ids: Iterable[str], now: datetime, locales: list[str]
) -> dict[str, Lock | None]:
    """`module_lock` of each module, for reads (the learner's progress from the cache)."""
    wanted = list(module_ids)
    week = rules.week_of(now, user.organization.timezone)
    loaded = _load_week(
        session,
        user=user,
        week=week,
        with_requirements=True,
        now=now,
        also=wanted,
        cached_progress=True,
    )
    entries = _entries(loaded, timezone=user.organization.timezone, locales=locales)
    return {module_id: _lock_of(loaded, entries, module_id, locales) for module_id in wanted}


# --- competence requirements -----------------------------------------------------------------


def create_requirement(
    session: Session,
    *,
    user: User,
    module_id: str,
    role: str | None = None,
    department_id: str | None = None,
    validity_months: int | None = None,
    due_within_days: int = 30,
    now: datetime,
) -> Requirement:
    """Require a published module of a role and/or department (and below); 422 on bad refs."""
    problems: dict[str, list[str]] = {}
    if _unpublished(session, user.org_id, [module_id]):
        problems["module_id"] = ["Not a published module of this organisation."]
    problems.update(
        {
            key.removeprefix("audience.")
            .replace("department_ids", "department_id")
            .replace("roles", "role"): messages
            for key, messages in _validate_audience(
                session,
                user.org_id,
                [department_id] if department_id is not None else [],
                [role] if role is not None else [],
            ).items()
        }
    )
    if problems:
        raise Unprocessable("The requirement cannot be saved.", errors=problems)
    # The same module for the same audience twice would show twice in every matrix and
    # record; change one by replacing it. (Checked here only: requirements already stored
    # twice may differ in validity, and a migration should not choose between them.)
    same = session.scalar(
        select(Requirement.id).where(
            Requirement.org_id == user.org_id,
            Requirement.module_id == module_id,
            Requirement.role == role if role else Requirement.role.is_(None),
            Requirement.department_id == department_id
            if department_id
            else Requirement.department_id.is_(None),
        )
    )
    if same is not None:
        raise Conflict(
            "This module is already required of this audience.",
            errors={"module_id": ["Already required of this role and department."]},
            extra={"existing_id": same},
        )
    requirement = Requirement(
        org_id=user.org_id,
        module_id=module_id,
        role=role,
        department_id=department_id,
        validity_months=validity_months,
        due_within_days=due_within_days,
        created_by=user.id,
        created_at=now,
    )
    session.add(requirement)
    session.flush()
    return requirement


def requirements_of_org(org_id: str) -> Select[Any]:
    """The organisation's requirements, for the admins' list."""
    return select(Requirement).where(Requirement.org_id == org_id)


def delete_requirement(session: Session, *, org_id: str, requirement_id: str) -> None:
    """Drop a requirement; 404 across organisations."""
    requirement = session.get(Requirement, requirement_id)
    if requirement is None or requirement.org_id != org_id:
        raise NotFound("No such requirement.")
    session.delete(requirement)
    session.flush()


def my_requirements(
    session: Session, *, user: Learner, locales: list[str], now: datetime
) -> list[dict[str, Any]]:
    """Each requirement that applies to the user, with status, valid_until and due_at."""
    week = rules.week_of(now, user.organization.timezone)
    loaded = _load_week(
        session, user=user, week=week, with_requirements=True, with_paths=False, now=now
    )
    items: list[dict[str, Any]] = []
    for req in loaded.requirements:
        version = loaded.versions.get(req.module_id)
        if version is None:
            continue
        state = loaded.states[req.module_id]
        items.append(
            {
                "module": {"id": req.module_id, "title": version.title(locales)},
                "status": state.status,
                "valid_until": state.valid_until,
                "due_at": state.due_at,
                "validity_months": req.validity_months,
            }
        )
    order = {"expired": 0, "missing": 1, "expiring": 2, "valid": 3}
    items.sort(key=lambda item: (order[item["status"]], item["module"]["title"]))
    return items


# --- audiences (badges, notifications) -------------------------------------------------------


def mandatory_module_ids(session: Session, *, user: Learner, now: datetime) -> set[str]:
    """The published mandatory modules of the user's paths this week (onboarding included)."""
    week = rules.week_of(now, user.organization.timezone)
    ancestors = ancestor_department_ids(session, user.org_id, user.department_id)
    paths = _paths_for(session, user, week, ancestors)
    wanted = {step.module_id for path in paths for step in path.steps if step.mandatory}
    return set(structure.modules(session, user.org_id, wanted))


@dataclass(frozen=True)
class PathAudience:
    """A path of an organisation's current week and the active users it is assigned to."""

    path: LearningPath
    week: str
    timezone: str
    due_at: datetime | None
    user_ids: list[str]


def _org_audiences(
    session: Session, org: Organization, paths: list[LearningPath], week: str
) -> list[PathAudience]:
    """Each path with the active users of the organisation it is assigned to in `week`."""
    users = list(
        session.scalars(
            select(User).where(User.org_id == org.id, User.active.is_(True)).order_by(User.id)
        )
    )
    departments = department_facts(session, org.id)
    week_end = rules.week_span_utc(week, org.timezone)[1]
    found: list[PathAudience] = []
    for path in paths:
        members = [
            user.id
            for user in users
            if (
                path.onboarding_week is None
                or rules.onboarding_week_number(started_on(user), week) == path.onboarding_week
            )
            and _audience_matches(
                path.audience_department_ids,
                path.audience_roles,
                user,
                departments.ancestors(user.department_id) if user.department_id else frozenset(),
            )
        ]
        due_at = path.due_at
        if due_at is None and path.onboarding_week is not None:
            due_at = week_end  # as the learner's week shows it
        if members:
            found.append(PathAudience(path, week, org.timezone, due_at, members))
    return found


def _audiences(
    session: Session, *, now: datetime, which: Callable[[str], ColumnElement[bool]]
) -> list[PathAudience]:
    found: list[PathAudience] = []
    for org in session.scalars(select(Organization).order_by(Organization.id)):
        week = rules.week_of(now, org.timezone)
        paths = list(
            session.scalars(
                select(LearningPath)
                .where(LearningPath.org_id == org.id, which(week))
                .order_by(LearningPath.id)
            )
        )
        if paths:
            found += _org_audiences(session, org, paths, week)
    return found


def current_path_audiences(session: Session, *, now: datetime) -> list[PathAudience]:
    """Every path of the current week in each organisation's time zone, with its audience:
    onboarding templates go to the users whose n-th week it is; departments include their
    sub-departments. A fixed number of queries per organisation that has paths."""
    return _audiences(
        session,
        now=now,
        which=lambda week: or_(
            LearningPath.week == week, LearningPath.onboarding_week.is_not(None)
        ),
    )


_USER_CHUNK = 1000


def unfinished_mandatory_work(
    session: Session, *, now: datetime, within: timedelta
) -> list[PathAudience]:
    """Paths with mandatory modules due after `now` and within `within` (a weekly path of any
    week by its `due_at`; onboarding templates by this week's end), each with the users of its
    audience who have not completed every published mandatory module."""
    found: list[PathAudience] = []
    window = (LearningPath.due_at > now) & (LearningPath.due_at <= now + within)
    audiences = _audiences(
        session,
        now=now,
        which=lambda week: or_(
            LearningPath.week.is_not(None) & window, LearningPath.onboarding_week.is_not(None)
        ),
    )
    for audience in audiences:
        due_at = audience.due_at
        if due_at is None or not now < due_at <= now + within:
            continue
        mandatory = {step.module_id for step in audience.path.steps if step.mandatory}
        published = set(_current_versions(session, audience.path.org_id, mandatory))
        if not published:
            continue
        done: set[str] = set()
        for start in range(0, len(audience.user_ids), _USER_CHUNK):  # bounded bind parameters
            done.update(
                user_id
                for user_id, count in session.execute(
                    select(Attempt.user_id, func.count(func.distinct(Attempt.module_id)))
                    .where(
                        Attempt.user_id.in_(audience.user_ids[start : start + _USER_CHUNK]),
                        Attempt.module_id.in_(published),
                        Attempt.passed.is_(True),
                    )
                    .group_by(Attempt.user_id)
                )
                if count >= len(published)
            )
        pending = [user_id for user_id in audience.user_ids if user_id not in done]
        if pending:
            found.append(
                PathAudience(audience.path, audience.week, audience.timezone, due_at, pending)
            )
    return found

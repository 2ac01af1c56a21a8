"""What a learner's week is made of that is the same for everyone it applies to, cached per
process (`app.caching`): an organisation's department tree, its paths of a week and its
onboarding templates, its competence requirements, and per module whether it is published
and its current version's facts (titles per language, minutes, prerequisites).

`GET /paths/current` then only asks the database for the learner's own progress.

Every flushed change to a path, a module, a department, a requirement or an organisation drops
what was cached of it here at once and, after the commit, in every process (`_forget_changed`).
Nothing writes these tables behind the ORM's back (no bulk UPDATE/DELETE of them); the
foreign keys that cascade in the database are covered too: deleting a department drops the
organisation's requirements, deleting an organisation drops everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from app.caching import LocalCache, invalidate
from app.content.models import Module, ModuleVersion
from app.orgs.models import Department, Organization
from app.paths.models import LearningPath, PathModule, Requirement

TTL = 300.0  # seconds; invalidation normally drops an entry at once


@dataclass(frozen=True, slots=True)
class StepFacts:
    module_id: str
    mandatory: bool


@dataclass(frozen=True, slots=True)
class PathFacts:
    """A scheduled path, under the attribute names of `LearningPath`."""

    id: str
    org_id: str
    title: str
    week: str | None
    onboarding_week: int | None
    audience_department_ids: tuple[str, ...]
    audience_roles: tuple[str, ...]
    due_at: datetime | None
    sequential: bool
    steps: tuple[StepFacts, ...]
    titles: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def title_in(self, locales: Iterable[str]) -> str:
        """The title in the first wanted language an editor translated it to, else as written."""
        for wanted in locales:
            if wanted in self.titles:
                return self.titles[wanted]
        return self.title


@dataclass(frozen=True, slots=True)
class ModuleFacts:
    """A module and, if it is published, its current version's facts."""

    id: str
    org_id: str
    published: bool
    locale: str = ""
    estimated_minutes: int = 0
    prerequisites: tuple[str, ...] = ()
    titles: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def title(self, locales: Iterable[str]) -> str:
        """As `content.pick_locale`: the first wanted language the version has, else its own."""
        titles = self.titles
        for wanted in locales:
            if wanted in titles:
                return titles[wanted]
        return titles[self.locale]


@dataclass(frozen=True, slots=True)
class RequirementFacts:
    id: str
    module_id: str
    role: str | None
    department_id: str | None
    validity_months: int | None
    due_within_days: int
    created_at: datetime


# "<org id>:<week>" -> the week's paths; "<org id>:onboarding" -> every onboarding template
_paths: LocalCache[tuple[PathFacts, ...]] = LocalCache("paths.paths", ttl=TTL)
# org id -> every requirement of the organisation
_requirements: LocalCache[tuple[RequirementFacts, ...]] = LocalCache("paths.requirements", ttl=TTL)
# module id -> its facts
_modules: LocalCache[ModuleFacts] = LocalCache("paths.modules", ttl=TTL)

ONBOARDING = "onboarding"


# --- loading ---------------------------------------------------------------------------------


def _path_key(org_id: str, week: str | None) -> str:
    return f"{org_id}:{week if week is not None else ONBOARDING}"


def _load_paths(session: Session, org_id: str, week: str | None) -> tuple[PathFacts, ...]:
    which = (
        LearningPath.week == week if week is not None else LearningPath.onboarding_week.is_not(None)
    )
    rows = session.execute(
        select(
            LearningPath.id,
            LearningPath.title,
            LearningPath.week,
            LearningPath.onboarding_week,
            LearningPath.audience_department_ids,
            LearningPath.audience_roles,
            LearningPath.due_at,
            LearningPath.sequential,
            LearningPath.translations,
            PathModule.module_id,
            PathModule.mandatory,
        )
        .outerjoin(PathModule, PathModule.path_id == LearningPath.id)
        .where(LearningPath.org_id == org_id, which)
        .order_by(LearningPath.id, PathModule.position)
    )
    heads: dict[str, tuple[Any, ...]] = {}
    steps: dict[str, list[StepFacts]] = {}
    for *head, module_id, mandatory in rows:
        heads.setdefault(head[0], tuple(head))
        path_steps = steps.setdefault(head[0], [])
        if module_id is not None:
            path_steps.append(StepFacts(module_id, bool(mandatory)))
    return tuple(
        PathFacts(
            id=path_id,
            org_id=org_id,
            title=title,
            week=path_week,
            onboarding_week=onboarding_week,
            audience_department_ids=tuple(department_ids or ()),
            audience_roles=tuple(roles or ()),
            due_at=due_at,
            sequential=bool(sequential),
            steps=tuple(steps[path_id]),
            titles=MappingProxyType(
                {
                    locale: str(text["title"])
                    for locale, text in (translations or {}).items()
                    if isinstance(text, dict) and text.get("title")
                }
            ),
        )
        for path_id, (
            _,
            title,
            path_week,
            onboarding_week,
            department_ids,
            roles,
            due_at,
            sequential,
            translations,
        ) in heads.items()
    )


def week_paths(session: Session, org_id: str, week: str) -> tuple[PathFacts, ...]:
    """The organisation's paths for `week`, by id."""
    key = _path_key(org_id, week)
    return _paths.fetch(key, lambda: _load_paths(session, org_id, week), session=session) or ()


def onboarding_templates(session: Session, org_id: str) -> tuple[PathFacts, ...]:
    """Every onboarding template of the organisation, by id."""
    key = _path_key(org_id, None)
    return _paths.fetch(key, lambda: _load_paths(session, org_id, None), session=session) or ()


def requirements(session: Session, org_id: str) -> tuple[RequirementFacts, ...]:
    """Every competence requirement of the organisation, by id."""

    def load() -> tuple[RequirementFacts, ...]:
        return tuple(
            RequirementFacts(*row)
            for row in session.execute(
                select(
                    Requirement.id,
                    Requirement.module_id,
                    Requirement.role,
                    Requirement.department_id,
                    Requirement.validity_months,
                    Requirement.due_within_days,
                    Requirement.created_at,
                )
                .where(Requirement.org_id == org_id)
                .order_by(Requirement.id)
            )
        )

    return _requirements.fetch(org_id, load, session=session) or ()


def _titles(locale: str, title: str, translations: Any) -> Mapping[str, str]:
    titles = {locale: title}
    if isinstance(translations, dict):
        for other, translation in translations.items():
            titles[other] = str((translation or {}).get("title") or title)
    return MappingProxyType(titles)


def modules(session: Session, org_id: str, module_ids: Iterable[str]) -> dict[str, ModuleFacts]:
    """The published modules of the organisation among `module_ids`, each with its current
    version's facts; one query for those not cached yet."""

    def load(missing: list[str]) -> dict[str, ModuleFacts]:
        loaded: dict[str, ModuleFacts] = {}
        for row in session.execute(
            select(
                Module.id,
                Module.org_id,
                ModuleVersion.id,
                ModuleVersion.locale,
                ModuleVersion.estimated_minutes,
                ModuleVersion.prerequisites,
                ModuleVersion.title,
                # Only the translations' titles, not every card and question of the content.
                ModuleVersion.content["translations"],
            )
            .outerjoin(
                ModuleVersion,
                (ModuleVersion.id == Module.current_version_id) & (Module.status == "published"),
            )
            .where(Module.id.in_(missing))
        ):
            module_id, module_org, version_id, locale, minutes, prerequisites = row[:6]
            title, translations = row[6:]
            if version_id is None:  # a draft or archived module
                loaded[module_id] = ModuleFacts(module_id, module_org, published=False)
                continue
            loaded[module_id] = ModuleFacts(
                id=module_id,
                org_id=module_org,
                published=True,
                locale=locale,
                estimated_minutes=minutes,
                prerequisites=tuple(prerequisites or ()),
                titles=_titles(locale, title, translations),
            )
        return loaded

    return {
        module_id: facts
        for module_id, facts in _modules.fetch_many(module_ids, load, session=session).items()
        if facts.published and facts.org_id == org_id
    }


# --- invalidation ----------------------------------------------------------------------------


def _changed(obj: Any, *names: str) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


@event.listens_for(Session, "after_flush")
def _forget_changed(session: Session, _flush_context: Any) -> None:
    """Drop what is cached of every path, module and requirement this flush changed (an
    organisation's change or deletion drops everything; the department tree is
    `app.orgs.facts`)."""
    path_keys: set[str] = set()
    paths_seen: set[str] = set()
    step_paths: set[str] = set()
    module_ids: set[str] = set()
    requirement_orgs: set[str] = set()
    all_paths = everything = False
    dirty = session.dirty
    for obj in (*session.new, *dirty, *session.deleted):
        if isinstance(obj, LearningPath):
            paths_seen.add(obj.id)
            if obj in dirty and _changed(obj, "org_id", "week", "onboarding_week"):
                all_paths = True  # moved: its old week's entry too
            path_keys.add(_path_key(obj.org_id, obj.week))
        elif isinstance(obj, PathModule):
            step_paths.add(obj.path_id)
        elif isinstance(obj, Module):
            module_ids.add(obj.id)
        elif isinstance(obj, Department) and obj in session.deleted:
            requirement_orgs.add(obj.org_id)  # its requirements go with it (ON DELETE CASCADE)
        elif isinstance(obj, Requirement):
            requirement_orgs.add(obj.org_id)
        elif isinstance(obj, Organization) and (obj in dirty or obj in session.deleted):
            everything = True
    if step_paths - paths_seen:  # steps changed without their path: which week is unknown
        all_paths = True
    if everything:
        for cache in (_paths, _requirements, _modules):
            invalidate(session, cache)
        return
    if all_paths:
        invalidate(session, _paths)
    elif path_keys:
        invalidate(session, _paths, *path_keys)
    if module_ids:
        invalidate(session, _modules, *module_ids)
    if requirement_orgs:
        invalidate(session, _requirements, *requirement_orgs)

"""Managers' insights: who may look at what, and the figures of a department's subtree.

Every figure is computed from the source tables (`queries.py`). A department's summary, its
children's and its members list are then kept in Redis for every process to reuse for at most
`INSIGHTS_CACHE_SECONDS` (`kept.py`), so a completion shows within that bound. The definitions
are in `docs/insights.md`; the property test in `tests/insights/test_figures_property.py`
checks them against a brute-force recount.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.principal import UserFactsLike
from app.content.models import ModuleVersion
from app.errors import Forbidden, NotFound, Unprocessable
from app.gamification import service as gamification
from app.insights import queries, rules
from app.insights.kept import cache_seconds
from app.insights.kept import figures as kept_figures
from app.insights.queries import Member
from app.orgs import service as orgs
from app.orgs.facts import DepartmentFacts, department_facts
from app.orgs.models import User
from app.paths import rules as path_rules
from app.paths import service as paths
from app.paths import structure

Viewer = UserFactsLike

log = logging.getLogger(__name__)

MAX_TREND_WEEKS = 52
MAX_QUESTION_WEEKS = 26
MIN_ANSWERED_BY = 5  # fewer people than this and one person's answers could be told apart


# --- scope ---------------------------------------------------------------------------------


def visible_departments(session: Session, viewer: Viewer) -> frozenset[str]:
    """Every department for an admin; for a manager those they manage and everything below."""
    return department_facts(session, viewer.org_id).managed_by(viewer)


def check_department(session: Session, viewer: Viewer, department_id: str) -> DepartmentFacts:
    """404 for a department of another organisation, 403 for one the viewer does not manage."""
    facts = department_facts(session, viewer.org_id)
    if department_id not in facts.names:
        raise NotFound("No such department.")
    if department_id not in facts.managed_by(viewer):
        raise Forbidden("You do not manage this department.")
    return facts


def check_user(session: Session, viewer: Viewer, user_id: str) -> User:
    """A person the viewer may look at: 404 across organisations, 403 outside their subtree."""
    user = orgs.get_user(session, viewer.org_id, user_id)
    if viewer.has_role("admin"):
        return user
    if user.department_id is None or user.department_id not in visible_departments(session, viewer):
        raise Forbidden("This person is not in a department you manage.")
    return user


def parse_week(week: str | None, *, timezone: str, now: datetime) -> str:
    """The asked week, or the current one in the organisation's time zone; 422 if malformed."""
    if week is None:
        return path_rules.week_of(now, timezone)
    try:
        path_rules.parse_week(week)
    except ValueError as error:
        raise Unprocessable("Invalid week.", errors={"week": [str(error)]}) from None
    return week


# --- the tree ------------------------------------------------------------------------------


def department_tree(session: Session, *, viewer: Viewer) -> list[dict[str, Any]]:
    """The departments the viewer may look at, depth first by name, with their members
    counted over each subtree."""
    facts = department_facts(session, viewer.org_id)
    visible = facts.managed_by(viewer)
    own = queries.member_counts(session, viewer.org_id)
    totals: dict[str, int] = {}

    def total(department_id: str) -> int:
        if department_id not in totals:
            totals[department_id] = own.get(department_id, 0) + sum(
                total(child) for child in facts.children.get(department_id, ())
            )
        return totals[department_id]

    roots = sorted(
        (d for d in visible if facts.parents.get(d) not in visible),
        key=lambda d: (facts.names[d], d),
    )
    items: list[dict[str, Any]] = []
    stack = list(reversed(roots))
    while stack:
        department_id = stack.pop()
        items.append(
            {
                "id": department_id,
                "name": facts.names[department_id],
                "parent_id": facts.parents.get(department_id),
                "members": total(department_id),
            }
        )
        children = sorted(facts.children.get(department_id, ()), key=lambda d: (facts.names[d], d))
        stack.extend(reversed(children))
    return items


# --- a week's assignments --------------------------------------------------------------------


@dataclass(frozen=True)
class WeekFacts:
    """What is the same for everyone in an organisation's week."""

    org_id: str
    timezone: str
    week: str
    start: datetime
    end: datetime
    now: datetime
    weekly: tuple[structure.PathFacts, ...]
    onboarding: tuple[structure.PathFacts, ...]
    published: Mapping[str, structure.ModuleFacts]


def week_facts(
    session: Session, *, org_id: str, timezone: str, week: str, now: datetime
) -> WeekFacts:
    start, end = path_rules.week_span_utc(week, timezone)
    weekly = structure.week_paths(session, org_id, week)
    onboarding = structure.onboarding_templates(session, org_id)
    module_ids = {step.module_id for path in (*weekly, *onboarding) for step in path.steps}
    published = structure.modules(session, org_id, module_ids)
    return WeekFacts(org_id, timezone, week, start, end, now, weekly, onboarding, published)


def onboarding_week(facts: WeekFacts, member: Member) -> int:
    """Which week of their onboarding the asked week is for the member."""
    return path_rules.onboarding_week_number(
        member.started_on or path_rules.local_date(member.created_at, facts.timezone), facts.week
    )


def assignments(
    facts: WeekFacts, member: Member, ancestors: frozenset[str]
) -> dict[str, rules.Assignment]:
    """The published modules of a member's paths that week (as their own week shows them):
    weekly paths of the week and the onboarding template of their n-th week, whose audience
    (departments with everything below them, and roles) includes them. They depend on the
    member's department, roles and onboarding week only (`member_figures` shares them)."""
    return _assignments(facts, onboarding_week(facts, member), member.has_role, ancestors)


def _assignments(
    facts: WeekFacts,
    onboarding_week: int,
    has_role: Callable[..., bool],
    ancestors: frozenset[str],
) -> dict[str, rules.Assignment]:
    found: dict[str, rules.Assignment] = {}
    for path in (*facts.weekly, *facts.onboarding):
        if path.onboarding_week is not None and path.onboarding_week != onboarding_week:
            continue
        if path.audience_department_ids and ancestors.isdisjoint(path.audience_department_ids):
            continue
        if path.audience_roles and not has_role(*path.audience_roles):
            continue
        due_at = path.due_at or facts.end  # without a due time: the end of the week
        for step in path.steps:
            if step.module_id not in facts.published:
                continue
            current = found.get(step.module_id)
            mandatory = step.mandatory or (current is not None and current.mandatory)
            dues = [
                a.due_at
                for a in (current,)
                if a is not None and a.mandatory and a.due_at is not None
            ]
            if step.mandatory:
                dues.append(due_at)
            found[step.module_id] = rules.Assignment(
                step.module_id, mandatory, min(dues) if dues else None
            )
    return found


# --- figures ---------------------------------------------------------------------------------


@dataclass
class MemberFigures:
    member: Member
    active: bool
    modules_completed: int
    correct: int
    total: int
    points: int
    assigned: int
    assigned_done: int
    mandatory: int
    mandatory_missing: int
    assignments: dict[str, rules.Assignment]
    completed: set[str]


def member_figures(
    session: Session,
    facts: WeekFacts,
    departments: DepartmentFacts,
    members: Sequence[Member],
) -> list[MemberFigures]:
    """The week's figures of each member (four queries per chunk of members)."""
    ids = [m.id for m in members]
    stats = queries.attempt_stats(session, ids, facts.start, facts.end)
    earned = queries.points(session, ids, facts.start, facts.end)
    # People of one department with the same roles in the same onboarding week have the same
    # assignments: worked out once per such group (a region has ten thousand people).
    shared: dict[tuple[str, tuple[str, ...], int], dict[str, rules.Assignment]] = {}
    assigned: dict[str, dict[str, rules.Assignment]] = {}
    weeks: dict[tuple[date | None, datetime], int] = {}  # most people started with others
    for member in members:
        started = (member.started_on, member.created_at)
        if started not in weeks:
            weeks[started] = onboarding_week(facts, member)
        group = (member.department_id, member.roles, weeks[started])
        found = shared.get(group)
        if found is None:
            found = shared[group] = _assignments(
                facts, group[2], member.has_role, departments.ancestors(member.department_id)
            )
        assigned[member.id] = found
    module_ids = sorted({mid for found in assigned.values() for mid in found})
    done = queries.completed_modules(session, ids, module_ids, facts.end)
    figures: list[MemberFigures] = []
    for member in members:
        own = stats.get(member.id)
        mine = assigned[member.id]
        completed = {mid for mid in mine if (member.id, mid) in done}
        mandatory = [a for a in mine.values() if a.mandatory]
        figures.append(
            MemberFigures(
                member=member,
                active=own is not None,
                modules_completed=own.modules if own else 0,
                correct=own.correct if own else 0,
                total=own.total if own else 0,
                points=earned.get(member.id, 0),
                assigned=len(mine),
                assigned_done=len(completed),
                mandatory=len(mandatory),
                mandatory_missing=sum(1 for a in mandatory if a.module_id not in completed),
                assignments=mine,
                completed=completed,
            )
        )
    return figures


@dataclass
class Totals:
    """The sums a summary is made of, over some members: added up department by department
    (`_department_totals`), turned into rates by `as_summary`."""

    members: int = 0
    active: int = 0
    correct: int = 0
    total: int = 0
    points: int = 0
    assigned: int = 0
    assigned_done: int = 0
    with_mandatory: int = 0
    compliant: int = 0

    def add(self, other: Totals) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_summary(self) -> dict[str, Any]:
        return {
            "members": self.members,
            "active_members": self.active,
            "path_completion_rate": rules.rate(self.assigned_done, self.assigned),
            "mandatory_compliance_rate": rules.rate(self.compliant, self.with_mandatory),
            "average_score": rules.score(self.correct, self.total),
            "points": self.points,
        }


def _department_totals(
    session: Session, facts: WeekFacts, departments: DepartmentFacts, department_id: str
) -> dict[str, Totals]:
    """Per department of the subtree, the week's sums over its own members: the same
    definitions as `member_figures`, with the people grouped and summed by the database
    (`queries.week_groups`: one statement) and each group's assignments worked out once."""
    subtree = sorted(departments.subtree([department_id]))
    # Which of the week's modules a group passed in time, as bits (module n: 1 << n).
    module_ids = sorted(
        {
            step.module_id
            for path in (*facts.weekly, *facts.onboarding)
            for step in path.steps
            if step.module_id in facts.published
        }
    )
    bit = {module_id: 1 << n for n, module_id in enumerate(module_ids)}
    # Whoever started before the first onboarding week that could still apply is past every
    # template: their assignments need no start (`beyond`, a week matching no template).
    template_weeks = [path.onboarding_week for path in facts.onboarding if path.onboarding_week]
    beyond = max(template_weeks, default=0) + 1
    onboarding_since = _onboarding_since(facts, beyond) if template_weeks else None

    totals = {d: Totals() for d in subtree}
    assigned: dict[tuple[str, tuple[str, ...], int], tuple[int, int, int]] = {}
    for group in queries.week_groups(
        session,
        facts.org_id,
        subtree,
        start=facts.start,
        end=facts.end,
        module_ids=module_ids,
        onboarding_since=onboarding_since,
    ):
        week = beyond
        if group.created_at is not None:
            week = path_rules.onboarding_week_number(
                group.started_on or path_rules.local_date(group.created_at, facts.timezone),
                facts.week,
            )
        key = (group.department_id, group.roles, week)
        found = assigned.get(key)
        if found is None:
            mine = _assignments(
                facts,
                week,
                lambda *wanted, held=group.roles: any(role in held for role in wanted),
                departments.ancestors(group.department_id),
            )
            found = assigned[key] = (
                len(mine),
                sum(bit[m] for m in mine),
                sum(bit[m] for m, a in mine.items() if a.mandatory),
            )
        count, modules, mandatory = found
        own = totals[group.department_id]
        own.members += group.people
        own.active += group.active
        own.correct += group.correct
        own.total += group.total
        own.points += group.points
        if not count:
            continue
        own.assigned += count * group.people
        own.assigned_done += (group.passed & modules).bit_count() * group.people
        if mandatory:
            own.with_mandatory += group.people
            if group.passed & mandatory == mandatory:
                own.compliant += group.people
    return totals


def _onboarding_since(facts: WeekFacts, beyond: int) -> tuple[date, datetime]:
    """A local day (and its first instant) before which no start can be in an onboarding
    week of a template (weeks below `beyond`) in the asked week, with a week or two to
    spare: whoever started on or after it is worked out one by one anyway."""
    monday, _ = path_rules.week_dates(facts.week)
    since = monday - timedelta(weeks=beyond)
    local_midnight = datetime.combine(since, datetime.min.time(), tzinfo=ZoneInfo(facts.timezone))
    return since, local_midnight.astimezone(UTC)


def _subtree_totals(
    departments: DepartmentFacts, totals: Mapping[str, Totals], department_id: str
) -> Totals:
    summed = Totals()
    for department in departments.subtree([department_id]):
        if department in totals:
            summed.add(totals[department])
    return summed


def _week_facts(session: Session, viewer: Viewer, week: str, now: datetime) -> WeekFacts:
    timezone = viewer.organization.timezone
    return week_facts(session, org_id=viewer.org_id, timezone=timezone, week=week, now=now)


def _kept_summary(
    session: Session,
    viewer: Viewer,
    departments: DepartmentFacts,
    department_id: str,
    week: str,
    now: datetime,
) -> dict[str, Any]:
    """The week's figures over the subtree (no name: that is read when shown)."""

    def compute(own: Session) -> dict[str, Any]:
        facts = _week_facts(own, viewer, week, now)
        totals = _department_totals(own, facts, departments, department_id)
        return _subtree_totals(departments, totals, department_id).as_summary()

    figures: dict[str, Any] = kept_figures(
        session, viewer.org_id, "summary", department_id, week, now, compute
    ).data
    return figures


def department_summary(
    session: Session, *, viewer: Viewer, department_id: str, week: str | None, now: datetime
) -> dict[str, Any]:
    """`GET /insights/departments/{id}`: the week's figures over the subtree."""
    departments = check_department(session, viewer, department_id)
    week = parse_week(week, timezone=viewer.organization.timezone, now=now)
    return {
        "department": {"id": department_id, "name": departments.names[department_id]},
        "week": week,
        **_kept_summary(session, viewer, departments, department_id, week, now),
    }


def children_summaries(
    session: Session, *, viewer: Viewer, department_id: str, week: str | None, now: datetime
) -> list[dict[str, Any]]:
    """The summary of each child department, by name (the stores of a region side by side)."""
    departments = check_department(session, viewer, department_id)
    week = parse_week(week, timezone=viewer.organization.timezone, now=now)

    def compute(own: Session) -> list[dict[str, Any]]:
        facts = _week_facts(own, viewer, week, now)
        # One pass over the whole subtree, then added up by child: the queries of one summary.
        totals = _department_totals(own, facts, departments, department_id)
        return [
            {"id": child, **_subtree_totals(departments, totals, child).as_summary()}
            for child in departments.children.get(department_id, ())
        ]

    kept: list[dict[str, Any]] = kept_figures(
        session, viewer.org_id, "children", department_id, week, now, compute
    ).data
    items = [
        {
            "department": {"id": child["id"], "name": departments.names[child["id"]]},
            "week": week,
            **{k: v for k, v in child.items() if k != "id"},
        }
        for child in kept
        if child["id"] in departments.names  # a child removed since: gone at once
    ]
    items.sort(key=lambda i: (i["department"]["name"], i["department"]["id"]))
    return items


def trend(
    session: Session, *, viewer: Viewer, department_id: str, weeks: int, now: datetime
) -> list[dict[str, Any]]:
    """The last `weeks` weeks up to this one, oldest first (each week's figures as its
    summary keeps them)."""
    departments = check_department(session, viewer, department_id)
    current = path_rules.week_of(now, viewer.organization.timezone)
    items: list[dict[str, Any]] = []
    for back in range(weeks - 1, -1, -1):
        week = path_rules.add_weeks(current, -back)
        items.append(
            {"week": week, **_kept_summary(session, viewer, departments, department_id, week, now)}
        )
    return items


# --- members ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberRow:
    """One line of the members list, ready for JSON, CSV or Excel."""

    user: dict[str, str]
    department: dict[str, str]
    modules_completed: int
    mandatory_missing: int
    average_score: float | None
    points: int
    last_active_at: datetime | None
    reasons: tuple[rules.Reason, ...]

    @property
    def needs_follow_up(self) -> bool:
        return bool(self.reasons)

    def titled(self, titles: Mapping[str, str]) -> MemberRow:
        """The row with its reasons' titles in the caller's language."""
        return replace(self, reasons=tuple(rules.with_titles(self.reasons, titles)))

    def kept(self) -> dict[str, Any]:
        """As JSON for the cache: figures, ids and names, reasons untitled."""
        return {
            "user": self.user,
            "department_id": self.department["id"],
            "modules_completed": self.modules_completed,
            "mandatory_missing": self.mandatory_missing,
            "average_score": self.average_score,
            "points": self.points,
            "last_active_at": self.last_active_at.isoformat() if self.last_active_at else None,
            "reasons": [[reason.code, reason.params] for reason in self.reasons],
        }

    @classmethod
    def from_kept(cls, kept: Mapping[str, Any], departments: DepartmentFacts) -> MemberRow:
        last = kept["last_active_at"]
        return cls(
            user=kept["user"],
            department={
                "id": kept["department_id"],
                "name": departments.names.get(kept["department_id"], ""),
            },
            modules_completed=kept["modules_completed"],
            mandatory_missing=kept["mandatory_missing"],
            average_score=kept["average_score"],
            points=kept["points"],
            last_active_at=datetime.fromisoformat(last).astimezone(UTC) if last else None,
            reasons=tuple(rules.Reason(code, params) for code, params in kept["reasons"]),
        )

    def as_dict(self, locales: Sequence[str]) -> dict[str, Any]:
        """For JSON, its reasons titled already (`with_titles`)."""
        return {
            "user": self.user,
            "department": self.department,
            "modules_completed": self.modules_completed,
            "mandatory_missing": self.mandatory_missing,
            "average_score": self.average_score,
            "points": self.points,
            "last_active_at": self.last_active_at,
            "needs_follow_up": self.needs_follow_up,
            "follow_up_reasons": [reason.as_dict(locales) for reason in self.reasons],
        }


def inactive_days(org_settings: Mapping[str, Any]) -> int:
    """`settings.insights.inactive_days` (default 14): no learning for this long is a reason."""
    return int(
        (org_settings.get("insights") or {}).get("inactive_days", rules.DEFAULT_INACTIVE_DAYS)
    )


def _titles(facts: Mapping[str, structure.ModuleFacts], locales: Sequence[str]) -> dict[str, str]:
    return {module_id: module.title(locales) for module_id, module in facts.items()}


@dataclass(frozen=True)
class RequirementsFacts:
    """The organisation's requirements on published modules, and the expiring window."""

    requirements: tuple[structure.RequirementFacts, ...]
    modules: Mapping[str, structure.ModuleFacts]
    expiring_window_days: int


def requirements_facts(session: Session, viewer: Viewer) -> RequirementsFacts:
    all_requirements = structure.requirements(session, viewer.org_id)
    published = structure.modules(session, viewer.org_id, {r.module_id for r in all_requirements})
    return RequirementsFacts(
        tuple(r for r in all_requirements if r.module_id in published),
        published,
        paths.requirement_settings(viewer.organization.settings)["expiring_window_days"],
    )


def requirement_states(
    reqs: RequirementsFacts,
    member: Member,
    ancestors: frozenset[str],
    passed: Mapping[tuple[str, str], tuple[datetime, datetime]],
    titles: Mapping[str, str],
    now: datetime,
) -> list[tuple[rules.RequirementFact, datetime | None]]:
    """Each requirement that applies to the member (by department with everything below it,
    and by role), with its state now and when it was first passed."""
    found: list[tuple[rules.RequirementFact, datetime | None]] = []
    for req in reqs.requirements:
        if req.department_id is not None and req.department_id not in ancestors:
            continue
        if req.role is not None and not member.has_role(req.role):
            continue
        first_last = passed.get((member.id, req.module_id))
        state = path_rules.requirement_state(
            last_passed_at=first_last[1] if first_last else None,
            validity_months=req.validity_months,
            assigned_at=max(req.created_at, member.created_at),
            due_within_days=req.due_within_days,
            expiring_window_days=reqs.expiring_window_days,
            now=now,
        )
        found.append(
            (
                rules.RequirementFact(
                    req.id,
                    req.module_id,
                    titles.get(req.module_id, req.module_id),
                    state.status,
                    state.valid_until,
                    state.due_at,
                ),
                first_last[0] if first_last else None,
            )
        )
    return found


MEMBER_CHUNK = 500


def member_rows(
    session: Session,
    *,
    viewer: Viewer,
    department_id: str,
    week: str | None,
    now: datetime,
    locales: Sequence[str] | None,
    after: tuple[str, str] | None = None,
    only_follow_up: bool = False,
) -> Iterator[MemberRow]:
    """The subtree's members by name with their week's figures and follow-up reasons, computed
    a chunk of people at a time so an export of thousands runs in bounded memory. Always from
    the source tables. The reasons are titled in the first of `locales` we have texts for
    (English otherwise); `locales=None` leaves them untitled, as the kept list holds them."""
    departments = check_department(session, viewer, department_id)
    timezone = viewer.organization.timezone
    facts = week_facts(
        session,
        org_id=viewer.org_id,
        timezone=timezone,
        week=parse_week(week, timezone=timezone, now=now),
        now=now,
    )
    reqs = requirements_facts(session, viewer)
    titles = _titles({**facts.published, **reqs.modules}, locales or ["en"])
    threshold = inactive_days(viewer.organization.settings)
    subtree = sorted(departments.subtree([department_id]))
    while True:
        chunk = queries.members(
            session,
            viewer.org_id,
            subtree,
            joined_before=facts.end,
            after=after,
            limit=MEMBER_CHUNK,
        )
        if not chunk:
            return
        after = (chunk[-1].display_name, chunk[-1].id)
        for row in _rows(
            session, facts, departments, reqs, titles, threshold, chunk, only_follow_up
        ):
            yield row if locales is None else row.titled(titles)
        if len(chunk) < MEMBER_CHUNK:
            return


@dataclass(frozen=True)
class MemberPage:
    """A page of the members list to render: `rows()` gives its rows (reasons titled) and
    whether more follow. `kept` names the kept list it is cut from, so the same page of the
    same kept list renders the same (None: computed for this request)."""

    kept: str | None
    rows: Callable[[], tuple[list[MemberRow], bool]]


def member_page(
    session: Session,
    *,
    viewer: Viewer,
    department_id: str,
    week: str | None,
    now: datetime,
    locales: Sequence[str],
    after: tuple[str, str] | None,
    only_follow_up: bool,
    limit: int,
) -> MemberPage:
    """One page of the members list (JSON). With the cache on, the whole list is computed once
    and kept (`kept.figures`), and a page is cut from it; else the page is computed from the
    people it shows on."""
    if cache_seconds() <= 0:
        rows = member_rows(
            session,
            viewer=viewer,
            department_id=department_id,
            week=week,
            now=now,
            locales=locales,
            after=after,
            only_follow_up=only_follow_up,
        )
        page = [row for _, row in zip(range(limit + 1), rows, strict=False)]
        return MemberPage(None, lambda: (page[:limit], len(page) > limit))
    departments = check_department(session, viewer, department_id)
    week = parse_week(week, timezone=viewer.organization.timezone, now=now)

    def compute(own: Session) -> list[dict[str, Any]]:
        rows = member_rows(
            own, viewer=viewer, department_id=department_id, week=week, now=now, locales=None
        )
        return [row.kept() for row in rows]

    kept = kept_figures(session, viewer.org_id, "members", department_id, week, now, compute)

    def cut() -> tuple[list[MemberRow], bool]:
        return _cut(session, viewer, departments, kept.data, locales, after, only_follow_up, limit)

    return MemberPage(kept.version, cut)


def _cut(
    session: Session,
    viewer: Viewer,
    departments: DepartmentFacts,
    kept: list[dict[str, Any]],
    locales: Sequence[str],
    after: tuple[str, str] | None,
    only_follow_up: bool,
    limit: int,
) -> tuple[list[MemberRow], bool]:
    start: int | None = 0
    if after is not None:
        # Just after the person the last page ended with: the list is in the database's order
        # by name, which need not be Python's; someone gone since falls back to comparing.
        start = next((n + 1 for n, row in enumerate(kept) if row["user"]["id"] == after[1]), None)
        if start is None:
            start = next((n for n, row in enumerate(kept) if _name_key(row) > after), len(kept))
    picked: list[dict[str, Any]] = []
    more = False
    for row in kept[start:]:
        if only_follow_up and not row["reasons"]:
            continue
        if len(picked) == limit:
            more = True
            break
        picked.append(row)
    shown = [MemberRow.from_kept(row, departments) for row in picked]
    module_ids: set[str] = set()
    for member in shown:
        for reason in member.reasons:
            module_ids.update(reason.params.get("module_ids", ()))
            if "module_id" in reason.params:
                module_ids.add(reason.params["module_id"])
    titles = _titles(structure.modules(session, viewer.org_id, module_ids), locales)
    return [member.titled(titles) for member in shown], more


def _name_key(row: Mapping[str, Any]) -> tuple[str, str]:
    return (row["user"]["display_name"], row["user"]["id"])


def _rows(
    session: Session,
    facts: WeekFacts,
    departments: DepartmentFacts,
    reqs: RequirementsFacts,
    titles: Mapping[str, str],
    threshold: int,
    members: Sequence[Member],
    only_follow_up: bool,
) -> Iterator[MemberRow]:
    ids = [m.id for m in members]
    figures = member_figures(session, facts, departments, members)
    passed = queries.last_passed(session, ids, sorted(reqs.modules), facts.now)
    learned = queries.last_learned(session, ids, facts.now)
    for fig in figures:
        member = fig.member
        states = requirement_states(
            reqs, member, departments.ancestors(member.department_id), passed, titles, facts.now
        )
        reasons = rules.follow_up_reasons(
            assignments=fig.assignments.values(),
            completed=fig.completed,
            requirements=[fact for fact, _ in states],
            last_active_at=learned.get(member.id),
            member_since=member.created_at,
            inactive_days=threshold,
            now=facts.now,
        )
        if only_follow_up and not reasons:
            continue
        yield MemberRow(
            user={
                "id": member.id,
                "display_name": member.display_name,
                "username": member.username,
            },
            department={
                "id": member.department_id,
                "name": departments.names[member.department_id],
            },
            modules_completed=fig.modules_completed,
            mandatory_missing=fig.mandatory_missing,
            average_score=rules.score(fig.correct, fig.total),
            points=fig.points,
            last_active_at=learned.get(member.id),
            reasons=tuple(reasons),
        )


def needing_follow_up(
    session: Session, *, viewer: Viewer, user_ids: Sequence[str], now: datetime
) -> list[str]:
    """Those of the given people (already checked to be in the viewer's scope) who need
    follow-up this week: a nudge to "only those who need it"."""
    departments = department_facts(session, viewer.org_id)
    timezone = viewer.organization.timezone
    facts = week_facts(
        session,
        org_id=viewer.org_id,
        timezone=timezone,
        week=path_rules.week_of(now, timezone),
        now=now,
    )
    reqs = requirements_facts(session, viewer)
    titles = _titles({**facts.published, **reqs.modules}, ["en"])
    threshold = inactive_days(viewer.organization.settings)
    found: list[str] = []
    for start in range(0, len(user_ids), MEMBER_CHUNK):
        chunk = queries.members_by_id(
            session, viewer.org_id, user_ids[start : start + MEMBER_CHUNK]
        )
        found += [
            row.user["id"]
            for row in _rows(session, facts, departments, reqs, titles, threshold, chunk, True)
        ]
    return found


# --- requirements ----------------------------------------------------------------------------


def requirement_matrix(
    session: Session, *, viewer: Viewer, department_id: str, now: datetime, locales: Sequence[str]
) -> tuple[list[dict[str, Any]], Iterator[dict[str, Any]]]:
    """The organisation's requirements, and per member of the subtree (by name) the state of
    each one that applies to them; those that do not apply are left out of `states`."""
    departments = check_department(session, viewer, department_id)
    reqs = requirements_facts(session, viewer)
    titles = _titles(reqs.modules, locales)
    columns = [
        {"id": r.id, "module_id": r.module_id, "title": titles[r.module_id]}
        for r in sorted(reqs.requirements, key=lambda r: (titles[r.module_id], r.id))
    ]
    subtree = sorted(departments.subtree([department_id]))

    def rows() -> Iterator[dict[str, Any]]:
        after: tuple[str, str] | None = None
        while True:
            chunk = queries.members(
                session, viewer.org_id, subtree, joined_before=None, after=after, limit=MEMBER_CHUNK
            )
            if not chunk:
                return
            after = (chunk[-1].display_name, chunk[-1].id)
            passed = queries.last_passed(session, [m.id for m in chunk], sorted(reqs.modules), now)
            for member in chunk:
                states = requirement_states(
                    reqs, member, departments.ancestors(member.department_id), passed, titles, now
                )
                yield {
                    "user": {"id": member.id, "display_name": member.display_name,
                             "username": member.username},
                    "department": {"id": member.department_id,
                                   "name": departments.names[member.department_id]},
                    "states": {
                        fact.requirement_id: {
                            "status": fact.status,
                            "valid_until": fact.valid_until,
                            "due_at": fact.due_at,
                            "passed_at": passed.get((member.id, fact.module_id), (None, None))[1],
                        }
                        for fact, _ in states
                    },
                }  # fmt: skip
            if len(chunk) < MEMBER_CHUNK:
                return

    return columns, rows()


@dataclass(frozen=True)
class TrainingRecord:
    organization: str
    department: str
    requirement: dict[str, Any]
    printed_at: datetime
    rows: list[dict[str, Any]]


def training_record(
    session: Session,
    *,
    viewer: Viewer,
    department_id: str,
    requirement_id: str,
    now: datetime,
    locales: Sequence[str],
) -> TrainingRecord:
    """Who in the subtree the requirement applies to, since when they hold it and until when."""
    departments = check_department(session, viewer, department_id)
    reqs = requirements_facts(session, viewer)
    requirement = next((r for r in reqs.requirements if r.id == requirement_id), None)
    if requirement is None:
        raise NotFound("No such requirement.")
    titles = _titles(reqs.modules, locales)
    only = RequirementsFacts((requirement,), reqs.modules, reqs.expiring_window_days)
    members = queries.members(
        session, viewer.org_id, sorted(departments.subtree([department_id])), joined_before=None
    )
    passed = queries.last_passed(session, [m.id for m in members], [requirement.module_id], now)
    rows: list[dict[str, Any]] = []
    for member in members:
        for fact, first in requirement_states(
            only, member, departments.ancestors(member.department_id), passed, titles, now
        ):
            last = passed.get((member.id, fact.module_id), (None, None))[1]
            rows.append(
                {
                    "display_name": member.display_name,
                    "username": member.username,
                    "department": departments.names[member.department_id],
                    "status": fact.status,
                    "first_passed_at": first,
                    "passed_at": last,
                    "valid_until": fact.valid_until,
                }
            )
    return TrainingRecord(
        organization=viewer.organization.name if hasattr(viewer.organization, "name") else "",
        department=departments.names[department_id],
        requirement={
            "id": requirement.id,
            "module_id": requirement.module_id,
            "title": titles[requirement.module_id],
            "validity_months": requirement.validity_months,
        },
        printed_at=now,
        rows=rows,
    )


# --- questions -------------------------------------------------------------------------------


def weak_questions(
    session: Session,
    *,
    viewer: Viewer,
    department_id: str,
    weeks: int,
    now: datetime,
    locales: Sequence[str],
) -> list[dict[str, Any]]:
    """Questions the subtree's members answered in the last `weeks` weeks (this one included),
    worst first; only those answered by at least five different people."""
    departments = check_department(session, viewer, department_id)
    timezone = viewer.organization.timezone
    current = path_rules.week_of(now, timezone)
    start = path_rules.week_span_utc(path_rules.add_weeks(current, -(weeks - 1)), timezone)[0]
    members = queries.members(
        session, viewer.org_id, sorted(departments.subtree([department_id])), joined_before=None
    )
    counted = queries.answers_by_question(
        session, [m.id for m in members], start, now + timedelta(seconds=1)
    )
    kept = {key: value for key, value in counted.items() if len(value[0]) >= MIN_ANSWERED_BY}
    prompts = _prompts(session, {module_id for module_id, _ in kept}, locales)
    items: list[dict[str, Any]] = [
        {
            "module_id": module_id,
            "question_id": question_id,
            "prompt": prompts.get((module_id, question_id), ""),
            "answered_by": len(people),
            "answers": answers,
            "wrong_rate": rules.rate(wrong, answers),
        }
        for (module_id, question_id), (people, answers, wrong) in kept.items()
    ]
    items.sort(
        key=lambda i: (-float(i["wrong_rate"] or 0), -int(i["answered_by"]), i["question_id"])
    )
    return items


def _prompts(
    session: Session, module_ids: set[str], locales: Sequence[str]
) -> dict[tuple[str, str], str]:
    """Each question's prompt in the viewer's language, from every published version (a
    question keeps its id across versions; the newest wording wins)."""
    found: dict[tuple[str, str], str] = {}
    if not module_ids:
        return found
    for module_id, locale, content in session.execute(
        select(ModuleVersion.module_id, ModuleVersion.locale, ModuleVersion.content)
        .where(ModuleVersion.module_id.in_(module_ids))
        .order_by(ModuleVersion.module_id, ModuleVersion.version)
    ):
        translations = (content or {}).get("translations") or {}
        wanted = next((loc for loc in locales if loc in translations), None)
        translated = translations.get(wanted, {}).get("questions", []) if wanted else []
        for index, question in enumerate((content or {}).get("questions", [])):
            prompt = question.get("prompt", "")
            if index < len(translated) and translated[index].get("prompt"):
                prompt = translated[index]["prompt"]
            found[(module_id, question["id"])] = prompt
        del locale
    return found


# --- one person ------------------------------------------------------------------------------


def user_record(
    session: Session, *, viewer: Viewer, user_id: str, now: datetime, locales: Sequence[str]
) -> dict[str, Any]:
    """One person's record for their manager: modules completed with scores and dates,
    requirement states, streak, points and last activity."""
    user = check_user(session, viewer, user_id)
    departments = department_facts(session, viewer.org_id)
    attempts = queries.completed_attempts(session, user.id)
    module_ids = {row.module_id for row in attempts}
    reqs = requirements_facts(session, viewer)
    module_facts = structure.modules(session, viewer.org_id, module_ids | set(reqs.modules))
    titles = _titles(module_facts, locales)
    member = Member(
        user.id,
        user.username,
        user.display_name,
        user.department_id or "",
        tuple(user.roles),
        user.created_at,
        user.started_on,
        user.locale,
        user.timezone,
    )
    passed = queries.last_passed(session, [user.id], sorted(reqs.modules), now)
    states = requirement_states(
        reqs,
        member,
        departments.ancestors(user.department_id) if user.department_id else frozenset(),
        passed,
        titles,
        now,
    )
    week_start, week_end = path_rules.week_span_utc(
        path_rules.week_of(now, viewer.organization.timezone), viewer.organization.timezone
    )
    streak = gamification.streak_of(session, user, now)
    return {
        "user": {"id": user.id, "display_name": user.display_name, "username": user.username},
        "department": (
            {"id": user.department_id, "name": departments.names.get(user.department_id, "")}
            if user.department_id
            else None
        ),
        "active": user.active,
        "modules": [
            {
                "attempt_id": row.id,
                "module_id": row.module_id,
                "title": titles.get(row.module_id, row.module_id),
                "version": row.module_version,
                "started_at": row.started_at,
                "completed_at": row.completed_at,
                "score": {"correct": row.score_correct or 0, "total": row.questions_total},
                "passed": bool(row.passed),
            }
            for row in attempts
        ],
        "requirements": [
            {
                "id": fact.requirement_id,
                "module_id": fact.module_id,
                "title": fact.title,
                "status": fact.status,
                "valid_until": fact.valid_until,
                "due_at": fact.due_at,
                "first_passed_at": first,
            }
            for fact, first in states
        ],
        "streak": streak,
        "points": {
            "total": gamification.total_points(session, user.id),
            "this_week": queries.points(session, [user.id], week_start, week_end).get(user.id, 0),
        },
        "last_active_at": attempts[0].completed_at if attempts else None,
        "last_login_at": user.last_active_at,
    }


# --- reminders and digests (audiences for the notification jobs) ------------------------------

# Two reminders per requirement and validity period at most: a month and a week before it
# expires (or before a missing one is due).
REMINDER_STAGES = (("30d", timedelta(days=30)), ("7d", timedelta(days=7)))


@dataclass(frozen=True)
class ReminderGroup:
    """One notification to some people: `key` names it once per person (dedupe)."""

    user_ids: list[str]
    key: str
    params: dict[str, Any]
    due_at: datetime | None = None


@dataclass(frozen=True)
class _Organisation:
    """The whole organisation as the jobs see it: every department, like an admin."""

    organization: Any
    id: str = ""
    department_id: str | None = None
    locale: str | None = None
    timezone: str | None = None

    @property
    def org_id(self) -> str:
        return str(self.organization.id)

    def has_role(self, *roles: str) -> bool:
        return "admin" in roles


def _org_viewers(session: Session) -> list[_Organisation]:
    from app.orgs.models import Organization

    return [
        _Organisation(org)
        for org in session.scalars(select(Organization).order_by(Organization.id))
    ]


def requirement_reminders(session: Session, *, now: datetime) -> list[ReminderGroup]:
    """Who should hear that a competence requirement expires (or, never passed, is due) soon:
    at most two reminders per person, requirement and validity period (30 and 7 days
    before); the key carries the date, so a renewal starts over."""
    groups: dict[str, ReminderGroup] = {}
    for viewer in _org_viewers(session):
        departments = department_facts(session, viewer.org_id)
        reqs = requirements_facts(session, viewer)
        if not reqs.requirements:
            continue
        titles = {
            mid: {loc: module.title([loc]) for loc in ("nb", "en")}
            for mid, module in reqs.modules.items()
        }
        all_departments = sorted(departments.names)
        after: tuple[str, str] | None = None
        while True:
            chunk = queries.members(
                session, viewer.org_id, all_departments, after=after, limit=MEMBER_CHUNK
            )
            if not chunk:
                break
            after = (chunk[-1].display_name, chunk[-1].id)
            passed = queries.last_passed(session, [m.id for m in chunk], sorted(reqs.modules), now)
            for member in chunk:
                states = requirement_states(
                    reqs, member, departments.ancestors(member.department_id), passed, {}, now
                )
                for fact, _ in states:
                    deadline = fact.valid_until if fact.status != "missing" else fact.due_at
                    if deadline is None or deadline <= now:
                        continue
                    stage = next(
                        (name for name, ahead in reversed(REMINDER_STAGES)
                         if deadline - now <= ahead),
                        None,
                    )  # fmt: skip
                    if stage is None:
                        continue
                    kind = "missing" if fact.status == "missing" else "expiring"
                    key = f"{fact.requirement_id}:{deadline:%Y-%m-%d}:{stage}"
                    group = groups.get(key)
                    if group is None:
                        group = groups[key] = ReminderGroup(
                            [],
                            key,
                            {
                                "module_id": fact.module_id,
                                "requirement_id": fact.requirement_id,
                                "title": titles[fact.module_id]["nb"],
                                "title_en": titles[fact.module_id]["en"],
                                "kind": kind,
                                "days": max(0, (deadline - now).days),
                            },
                            deadline,
                        )
                    group.user_ids.append(member.id)
            if len(chunk) < MEMBER_CHUNK:
                break
    return list(groups.values())


@dataclass(frozen=True)
class ManagerNote:
    """What one manager should hear about one department they manage."""

    manager_id: str
    department_id: str
    department: str
    week: str
    timezone: str
    members: int
    mandatory_missing: int  # people with mandatory work of the week not done
    overdue: int  # people with mandatory work past its due time
    expiring: int  # people with a requirement expiring within 30 days or expired


def manager_notes(session: Session, *, now: datetime) -> list[ManagerNote]:
    """Per manager and department they manage (with everything below it): this week's
    mandatory work and requirements, for the overdue alert and the weekly digest."""
    notes: list[ManagerNote] = []
    for viewer in _org_viewers(session):
        departments = department_facts(session, viewer.org_id)
        if not departments.managed:
            continue
        timezone = viewer.organization.timezone
        week = path_rules.week_of(now, timezone)
        active_managers = set(
            session.scalars(
                select(User.id).where(User.id.in_(list(departments.managed)), User.active.is_(True))
            )
        )
        for manager_id, managed in sorted(departments.managed.items()):
            if manager_id not in active_managers:
                continue
            for department_id in managed:
                rows = list(
                    member_rows(
                        session,
                        viewer=viewer,
                        department_id=department_id,
                        week=week,
                        now=now,
                        locales=["en"],
                    )
                )
                codes = [{reason.code for reason in row.reasons} for row in rows]
                notes.append(
                    ManagerNote(
                        manager_id=manager_id,
                        department_id=department_id,
                        department=departments.names[department_id],
                        week=week,
                        timezone=timezone,
                        members=len(rows),
                        mandatory_missing=sum(1 for row in rows if row.mandatory_missing),
                        overdue=sum(1 for c in codes if "mandatory_overdue" in c),
                        expiring=sum(
                            1 for c in codes if c & {"requirement_expiring", "requirement_expired"}
                        ),
                    )
                )
    return notes

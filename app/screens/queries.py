"""Read-only SQL over other domains' tables for what a screen shows: who of a department has
done this week's paths, in three queries whatever its size (a learner's week, as the phone
app reads it, costs a dozen queries' worth of work per person)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.learning.models import Attempt
from app.orgs.facts import department_facts
from app.orgs.models import User
from app.paths.models import LearningPath, PathModule


@dataclass(frozen=True, slots=True)
class MemberWeek:
    """One person's weekly paths, as (modules completed, modules) per path."""

    paths: tuple[tuple[int, int], ...]


def department_weeks(
    session: Session, *, org_id: str, department_id: str, week: str
) -> list[MemberWeek]:
    """Each active member of the department or any department below it (a store split into
    sub-departments counts everyone in them, as its board does) with this week's paths
    assigned to them (by the paths' audience: departments above theirs, roles) and their
    progress on each. Onboarding templates and the standing required training are not "this
    week's path"."""
    departments_tree = department_facts(session, org_id)
    members = session.execute(
        select(User.id, User.roles, User.department_id).where(
            User.org_id == org_id,
            User.department_id.in_(sorted(departments_tree.subtree([department_id]))),
            User.active.is_(True),
        )
    ).all()
    if not members:
        return []
    # A path reaches the people below its audience's departments: gather the paths that reach
    # the department or anything above it, then check each member's own line of departments.
    ancestors = departments_tree.ancestors(department_id)
    below = {str(dep) for _, _, dep in members}
    reach = ancestors.union(*(departments_tree.ancestors(dep) for dep in below))
    modules_of: dict[str, list[str]] = {}
    audiences: dict[str, tuple[Sequence[str], Sequence[str]]] = {}
    for path_id, departments, roles, module_id in session.execute(
        select(
            LearningPath.id,
            LearningPath.audience_department_ids,
            LearningPath.audience_roles,
            PathModule.module_id,
        )
        .join(PathModule, PathModule.path_id == LearningPath.id)
        .where(LearningPath.org_id == org_id, LearningPath.week == week)
    ):
        if departments and reach.isdisjoint(departments):
            continue
        audiences[path_id] = (departments, roles)
        modules_of.setdefault(path_id, []).append(module_id)
    if not modules_of:
        return []
    wanted = {module_id for modules in modules_of.values() for module_id in modules}
    member_ids = [user_id for user_id, _, _ in members]
    completed: set[tuple[str, str]] = {
        (user_id, module_id)
        for user_id, module_id in session.execute(
            select(Attempt.user_id, Attempt.module_id)
            .where(
                Attempt.user_id.in_(member_ids),
                Attempt.module_id.in_(wanted),
                Attempt.passed.is_(True),  # done means passed (docs/game-rules.md)
            )
            .distinct()
        )
    }
    weeks = []
    for user_id, user_roles, user_department in members:
        own_line = departments_tree.ancestors(str(user_department))
        paths = tuple(
            (sum((user_id, m) in completed for m in modules), len(modules))
            for path_id, modules in modules_of.items()
            if (not audiences[path_id][0] or not own_line.isdisjoint(audiences[path_id][0]))
            and (not audiences[path_id][1] or set(audiences[path_id][1]) & set(user_roles or []))
        )
        weeks.append(MemberWeek(paths))
    return weeks

"""Demo data for trying the app: organisation `demo`, a store tree, users of every role.

Idempotent: running it again creates only what is missing and changes nothing else.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.auth.passwords import hash_password
from app.content.models import Module
from app.errors import AppError
from app.learning import service as learning
from app.learning.models import Attempt
from app.orgs import service as orgs
from app.orgs.models import Department, DepartmentManager, Organization, User
from app.paths import rules as path_rules
from app.paths import service as paths
from app.paths.models import LearningPath, Requirement

DEMO_SLUG = "demo"
DEMO_PASSWORD = "demo-password"

# (department path, username, display name, roles)
DEPARTMENT_TREE = {
    "Region Øst": None,
    "Grünerløkka": "Region Øst",
    "Grünerløkka – Kasse": "Grünerløkka",
    "Grünerløkka – Ferskvare": "Grünerløkka",
    "Majorstuen": "Region Øst",
    "Majorstuen – Kasse": "Majorstuen",
    "Majorstuen – Lager": "Majorstuen",
}
USERS = [
    ("admin", "Anne Admin", None, ["admin"]),
    ("editor", "Erik Redaktør", None, ["editor"]),
    ("leder.grunerlokka", "Gro Butikksjef", "Grünerløkka", ["manager", "learner"]),
    ("leder.majorstuen", "Magnus Butikksjef", "Majorstuen", ["manager", "learner"]),
    ("kari", "Kari Nordmann", "Grünerløkka – Kasse", ["learner"]),
    ("ola", "Ola Hansen", "Grünerløkka – Kasse", ["learner"]),
    ("fatima", "Fatima Ali", "Grünerløkka – Ferskvare", ["learner"]),
    ("jonas", "Jonas Berg", "Grünerløkka – Ferskvare", ["learner"]),
    ("ingrid", "Ingrid Lie", "Majorstuen – Kasse", ["learner"]),
    ("piotr", "Piotr Nowak", "Majorstuen – Kasse", ["learner"]),
    ("sara", "Sara Johansen", "Majorstuen – Lager", ["learner"]),
    ("ahmed", "Ahmed Hassan", "Majorstuen – Lager", ["learner"]),
]
MANAGES = {"leder.grunerlokka": "Grünerløkka", "leder.majorstuen": "Majorstuen"}

# Module keys from the shipped content (`content/modules/<key>.yaml`): (key, mandatory).
WEEKLY_PATH_TITLE = "Ukens læringssti"
WEEKLY_PATH = [
    ("hand-hygiene", True),
    ("cold-chain-receiving", True),
    ("date-labels", False),
    ("customer-service-basics", False),
]
ONBOARDING_TITLE = "Velkommen – uke 1"
# A new employee's first week: what every store worker needs before the first shift at a till.
ONBOARDING_PATH = [
    ("hand-hygiene", True),
    ("first-aid", True),
    ("self-checkout", True),
    ("energy-drinks", True),
    ("incident-reporting-and-fire", True),
]
# (key, role or None for everyone, validity in months)
REQUIREMENTS = [("hand-hygiene", None, 12), ("alcohol-sales", "learner", 24)]


@dataclass
class SeedReport:
    organization_created: bool = False
    users_created: list[str] = field(default_factory=list)
    paths_created: list[str] = field(default_factory=list)
    history_attempts: int = 0


def seed_demo(session: Session, now: datetime | None = None) -> SeedReport:
    """Create the demo organisation, its departments and users where missing, and (once the
    content is imported) this week's path, an onboarding week and competence requirements."""
    now = now or clock.now()
    report = SeedReport()
    org = session.scalar(select(Organization).where(Organization.slug == DEMO_SLUG))
    if org is None:
        org = Organization(slug=DEMO_SLUG, name="Demo Dagligvare", timezone="Europe/Oslo")
        session.add(org)
        session.flush()
        report.organization_created = True
    departments = {
        d.name: d for d in session.scalars(select(Department).where(Department.org_id == org.id))
    }
    for name, parent in DEPARTMENT_TREE.items():
        if name not in departments:
            departments[name] = orgs.create_department(
                session,
                org_id=org.id,
                name=name,
                parent_id=departments[parent].id if parent else None,
            )
    users = {u.username: u for u in session.scalars(select(User).where(User.org_id == org.id))}
    password_hash = hash_password(DEMO_PASSWORD)
    for username, display_name, department, roles in USERS:
        if username in users:
            continue
        user = User(
            org_id=org.id,
            username=username,
            display_name=display_name,
            password_hash=password_hash,
            department_id=departments[department].id if department else None,
            roles=roles,
            # Staff of some standing, so the weeks of history below have members.
            created_at=now - timedelta(weeks=HISTORY_WEEKS + 2),
        )
        session.add(user)
        users[username] = user
        report.users_created.append(username)
    session.flush()
    for username, department in MANAGES.items():
        link = session.get(DepartmentManager, (departments[department].id, users[username].id))
        if link is None:
            session.add(
                DepartmentManager(
                    department_id=departments[department].id, user_id=users[username].id
                )
            )
    session.flush()
    _seed_paths(session, org, users["editor"], report, now)
    _seed_history(session, org, users, report, now)
    return report


HISTORY_WEEKS = 3


def _seed_history(
    session: Session, org: Organization, users: dict[str, User], report: SeedReport, now: datetime
) -> None:
    """A few weeks of learning before this one (through the real attempt, answer and
    completion code, at past times), so boards, trends and insights are not empty on day
    one. Only modules outside this week's path, the onboarding week and the requirements,
    so what a learner has to do now is unchanged. Once: skipped when the demo has attempts."""
    if session.scalar(select(Attempt.id).where(Attempt.org_id == org.id).limit(1)):
        return
    reserved = {key for key, _ in (*WEEKLY_PATH, *ONBOARDING_PATH)} | {
        k for k, _, _ in REQUIREMENTS
    }
    modules = sorted(
        (
            module
            for module in session.scalars(
                select(Module).where(Module.org_id == org.id, Module.status == "published")
            )
            if module.key not in reserved
        ),
        key=lambda m: m.key or m.id,
    )
    if not modules:
        return
    from app.content import service as content

    for username, _, _, roles in USERS:
        if "learner" not in roles:
            continue
        user = users[username]
        rng = random.Random(f"demo:{username}")  # the same history on every machine
        diligence = rng.choice((0.2, 0.5, 0.8, 0.95))
        for weeks_back in range(HISTORY_WEEKS, 0, -1):
            for _ in range(rng.randint(0, 3)):
                module = rng.choice(modules)
                at = now - timedelta(weeks=weeks_back, hours=rng.randint(0, 48))
                try:
                    attempt = learning.start_attempt(
                        session, user=user, module_id=module.id, now=at, locales=["nb"]
                    )
                except AppError:
                    continue  # locked by a prerequisite: leave it
                version = content.get_version(session, attempt.module_version_id)
                for question in version.content["questions"]:
                    right = rng.random() < diligence
                    choices = [c["id"] for c in question["choices"] if c["correct"] == right]
                    at += timedelta(seconds=40)
                    learning.answer_question(
                        session,
                        user=user,
                        attempt_id=attempt.id,
                        question_id=question["id"],
                        choice_ids=choices if right else choices[:1],
                        answered_at=at,
                        locales=["nb"],
                        now=at,
                    )
                learning.complete_attempt(session, user=user, attempt_id=attempt.id, now=at)
                report.history_attempts += 1


def _seed_paths(
    session: Session, org: Organization, editor: User, report: SeedReport, now: datetime
) -> None:
    modules = {
        module.key: module
        for module in session.scalars(
            select(Module).where(Module.org_id == org.id, Module.status == "published")
        )
    }
    if not modules:
        return  # `content import` has not run yet; the next `demo seed` adds the paths
    week = path_rules.week_of(now, org.timezone)
    existing = {
        (path.week, path.onboarding_week, path.title)
        for path in session.scalars(select(LearningPath).where(LearningPath.org_id == org.id))
    }
    plans = [
        (week, None, WEEKLY_PATH_TITLE, WEEKLY_PATH, True),
        (None, 1, ONBOARDING_TITLE, ONBOARDING_PATH, False),
    ]
    for path_week, onboarding_week, title, steps, sequential in plans:
        chosen = [(key, mandatory) for key, mandatory in steps if key in modules]
        if (path_week, onboarding_week, title) in existing or not chosen:
            continue
        paths.create_path(
            session,
            user=editor,
            title=title,
            week=path_week,
            onboarding_week=onboarding_week,
            modules=[{"module_id": modules[key].id, "mandatory": m} for key, m in chosen],
            sequential=sequential,
            now=now,
        )
        report.paths_created.append(f"{title} ({path_week or 'onboarding'})")
    required = {
        (req.module_id, req.role)
        for req in session.scalars(select(Requirement).where(Requirement.org_id == org.id))
    }
    for key, role, months in REQUIREMENTS:
        if key in modules and (modules[key].id, role) not in required:
            paths.create_requirement(
                session,
                user=editor,
                module_id=modules[key].id,
                role=role,
                validity_months=months,
                now=now,
            )

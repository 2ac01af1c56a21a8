"""Demo data for trying the app: organisation `demo`, a store tree, users of every role.

Idempotent: running it again creates only what is missing and changes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.passwords import hash_password
from app.orgs import service as orgs
from app.orgs.models import Department, DepartmentManager, Organization, User

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


@dataclass
class SeedReport:
    organization_created: bool = False
    users_created: list[str] = field(default_factory=list)


def seed_demo(session: Session) -> SeedReport:
    """Create the demo organisation, its departments and users where missing."""
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
    return report

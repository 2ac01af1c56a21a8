"""Seed a benchmark database through the app's own services and models.

One organisation, a region → store department tree, a few thousand learners, the shipped
content, and an access token per learner minted directly (a login per learner would spend
minutes in argon2, which is slow on purpose and not what is measured here).
"""

from __future__ import annotations

import random
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Learner:
    id: str
    department_id: str
    token: str


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    choice_ids: tuple[str, ...]
    correct_choice_ids: tuple[str, ...]

    def wrong_choice_ids(self) -> list[str]:
        """One wrong answer (a choice that is not correct)."""
        wrong = [c for c in self.choice_ids if c not in self.correct_choice_ids]
        return [wrong[0]]


@dataclass(frozen=True)
class ModuleInfo:
    id: str
    key: str
    version_id: str
    version: int
    questions: tuple[Question, ...]
    locales: tuple[str, ...]


@dataclass(frozen=True)
class SeedData:
    org_id: str
    admin_id: str
    learners: list[Learner]
    modules: list[ModuleInfo]
    department_count: int
    seconds: float


def seed(
    engine: Engine,
    *,
    learners: int,
    regions: int,
    stores_per_region: int,
    content_dir: Path,
    media_dir: Path,
    secret_key: str,
    token_lifetime: timedelta,
) -> SeedData:
    """Create the organisation, departments, learners, content and tokens; commit."""
    from app import clock
    from app.auth.models import LoginSession
    from app.auth.tokens import AccessClaims, encode_access_token
    from app.content.service import import_package, read_package_folder
    from app.db import new_id
    from app.media.storage import LocalMediaStorage
    from app.orgs import service as orgs
    from app.orgs.models import User

    started = time.perf_counter()
    now = clock.now()
    with Session(engine, expire_on_commit=False) as session:
        # The only argon2 hash of the run: the admin's. Learners reuse it.
        org = orgs.create_organization(
            session,
            slug="bench",
            name="Benk Dagligvare",
            admin_username="admin",
            admin_password=secrets.token_urlsafe(16),
        )
        admin = session.scalars(select(User).where(User.org_id == org.id)).one()
        stores = []
        for r in range(regions):
            region = orgs.create_department(session, org_id=org.id, name=f"Region {r + 1}")
            for s in range(stores_per_region):
                stores.append(
                    orgs.create_department(
                        session, org_id=org.id, name=f"Butikk {r + 1}.{s + 1}", parent_id=region.id
                    )
                )

        # Core bulk inserts (one password hash, ids made here): 100 000 learners in seconds,
        # where ORM objects would take minutes.
        users: list[dict[str, Any]] = [
            {
                "id": new_id(),
                "org_id": org.id,
                "username": f"learner{n:06d}",
                "display_name": f"Ansatt {n}",
                "password_hash": admin.password_hash,
                "department_id": stores[n % len(stores)].id,
                "roles": ["learner"],
                "active": True,
                "created_at": now,
            }
            for n in range(learners)
        ]
        logins: list[dict[str, Any]] = [
            {"id": new_id(), "user_id": u["id"], "created_at": now} for u in users
        ]
        for start in range(0, len(users), 10_000):
            session.execute(insert(User), users[start : start + 10_000])
            session.execute(insert(LoginSession), logins[start : start + 10_000])

        report = import_package(
            session,
            org=org,
            files=read_package_folder(str(content_dir)),
            storage=LocalMediaStorage(str(media_dir)),
            imported_by=admin.id,
            now=now,
        )
        if report.errors:
            raise RuntimeError(f"Importing {content_dir} failed: {report.errors[:3]}")
        session.commit()
        # Planner statistics, as a production database has them (autovacuum would be late).
        session.execute(text("ANALYZE"))
        session.commit()

        modules = _modules(session, org.id)
        tokens = [
            Learner(
                id=user["id"],
                department_id=user["department_id"],
                token=encode_access_token(
                    AccessClaims(user_id=user["id"], org_id=org.id, session_id=login["id"]),
                    secret=secret_key,
                    now=now,
                    lifetime=token_lifetime,
                ),
            )
            for user, login in zip(users, logins, strict=True)
        ]
        return SeedData(
            org_id=org.id,
            admin_id=admin.id,
            learners=tokens,
            modules=modules,
            department_count=len(stores) + regions,
            seconds=time.perf_counter() - started,
        )


def _modules(session: Session, org_id: str) -> list[ModuleInfo]:
    """The organisation's modules with their questions and answer keys, by key."""
    from app.content.models import Module, ModuleVersion

    versions = session.execute(
        select(Module.key, ModuleVersion)
        .join(ModuleVersion, ModuleVersion.id == Module.current_version_id)
        .where(Module.org_id == org_id)
        .order_by(Module.key)
    ).all()
    return [
        ModuleInfo(
            id=version.module_id,
            key=key or version.module_id,
            version_id=version.id,
            version=version.version,
            questions=tuple(
                Question(
                    id=q["id"],
                    kind=q["kind"],
                    choice_ids=tuple(c["id"] for c in q["choices"]),
                    correct_choice_ids=tuple(c["id"] for c in q["choices"] if c["correct"]),
                )
                for q in version.content["questions"]
            ),
            locales=(version.locale, *version.content.get("translations", {}).keys()),
        )
        for key, version in versions
    ]


def load_seed(engine: Engine, *, secret_key: str, token_lifetime: timedelta) -> SeedData:
    """What `seed` made, read back from a kept database (`run.py --database`): the same
    learners in the same order, and a fresh access token for each learner's login, minted
    with this run's `SECRET_KEY` (the server checks signature, expiry and the login)."""
    from app import clock
    from app.auth.models import LoginSession
    from app.auth.tokens import AccessClaims, encode_access_token
    from app.orgs.models import Department, Organization, User

    started = time.perf_counter()
    now = clock.now()
    with Session(engine, expire_on_commit=False) as session:
        org = session.scalars(select(Organization).where(Organization.slug == "bench")).one()
        admin_id = session.scalars(
            select(User.id).where(User.org_id == org.id, User.username == "admin")
        ).one()
        # learner000000, learner000001, ...: the order `seed` made them in. One login each.
        rows = session.execute(
            select(User.id, User.department_id, func.min(LoginSession.id))
            .join(LoginSession, LoginSession.user_id == User.id)
            .where(User.org_id == org.id, User.username.like("learner%"))
            .group_by(User.id, User.department_id, User.username)
            .order_by(User.username)
        ).all()
        departments = session.scalar(
            select(func.count()).select_from(Department).where(Department.org_id == org.id)
        )
        learners = [
            Learner(
                id=user_id,
                department_id=department_id,
                token=encode_access_token(
                    AccessClaims(user_id=user_id, org_id=org.id, session_id=login_id),
                    secret=secret_key,
                    now=now,
                    lifetime=token_lifetime,
                ),
            )
            for user_id, department_id, login_id in rows
        ]
        return SeedData(
            org_id=org.id,
            admin_id=admin_id,
            learners=learners,
            modules=_modules(session, org.id),
            department_count=int(departments or 0),
            seconds=time.perf_counter() - started,
        )


def seed_points(
    engine: Engine,
    learners: list[Learner],
    *,
    org_id: str,
    rows: int,
    start: datetime,
    end: datetime,
    seed_value: int = 20261123,
) -> float:
    """`rows` ledger rows for random learners, earned at random moments in [start, end),
    written with PostgreSQL COPY (a million in well under a minute); returns seconds taken."""
    from app.db import new_id

    started = time.perf_counter()
    rng = random.Random(seed_value)
    span = (end - start).total_seconds()
    columns = (
        "id, org_id, user_id, department_id, points, reason, source_key, module_id, "
        "earned_at, created_at"
    )
    now = datetime.now(UTC)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY point_awards ({columns}) FROM STDIN") as copy:
            for n in range(rows):
                learner = rng.choice(learners)
                copy.write_row(
                    (
                        new_id(),
                        org_id,
                        learner.id,
                        learner.department_id,
                        rng.choice((5, 10, 10, 10, 20, 50)),
                        "Benchmark award",
                        f"bench:{n}",
                        None,
                        start + timedelta(seconds=rng.random() * span),
                        now,
                    )
                )
        raw.commit()
        cursor.execute("ANALYZE point_awards")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started

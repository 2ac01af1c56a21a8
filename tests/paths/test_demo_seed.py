"""`content import` then `demo seed` give the demo organisation this week's path, idempotently."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from app.content.models import Module
from app.learning.models import Attempt
from app.orgs.models import Organization, User
from app.paths.models import LearningPath, Requirement
from app.paths.rules import week_of
from tests.conftest import auth_headers

CONTENT = str(Path(__file__).resolve().parents[2] / "content")


def test_demo_seed_schedules_this_weeks_path_once(app, client, session, frozen_clock):
    runner = app.test_cli_runner()
    imported = runner.invoke(args=["content", "import", CONTENT])
    assert imported.exit_code == 0, imported.output
    attempts = []
    for _ in range(2):
        seeded = runner.invoke(args=["demo", "seed"])
        assert seeded.exit_code == 0, seeded.output
        attempts.append(session.scalar(select(func.count()).select_from(Attempt)))
    org = session.scalar(select(Organization).where(Organization.slug == "demo"))
    assert org is not None
    # A few weeks of history, once: boards, trends and insights are not empty on day one.
    assert attempts[0] > 0 and attempts[1] == attempts[0]
    weeks = {
        week_of(at, org.timezone)
        for at in session.scalars(select(Attempt.completed_at).where(Attempt.org_id == org.id))
    }
    assert weeks == {"2026-W45", "2026-W46", "2026-W47"}
    count = session.scalar(
        select(func.count()).select_from(LearningPath).where(LearningPath.org_id == org.id)
    )
    assert count == 2  # this week's path and the onboarding week, once each
    assert (
        session.scalar(
            select(func.count()).select_from(Requirement).where(Requirement.org_id == org.id)
        )
        == 2
    )
    kari = session.scalar(select(User).where(User.org_id == org.id, User.username == "kari"))
    body = client.get("/api/v1/paths/current", headers=auth_headers(session, kari)).json
    assert body["week"] == "2026-W48"
    titles = [path["title"] for path in body["paths"]]
    assert "Ukens læringssti" in titles
    weekly = next(path for path in body["paths"] if path["title"] == "Ukens læringssti")
    assert weekly["progress"] == {"completed": 0, "total": 4}
    assert [m["status"] for m in weekly["modules"]] == ["available", "locked", "locked", "locked"]
    assert "required" in [path["id"] for path in body["paths"]]


def test_the_demo_onboarding_week_starts_with_the_new_mandatory_modules(app, session):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["content", "import", CONTENT]).exit_code == 0
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    org = session.scalar(select(Organization).where(Organization.slug == "demo"))
    onboarding = session.scalar(
        select(LearningPath).where(LearningPath.org_id == org.id, LearningPath.onboarding_week == 1)
    )
    keys = {m.id: m.key for m in session.scalars(select(Module).where(Module.org_id == org.id))}
    steps = [(keys[step.module_id], step.mandatory) for step in onboarding.steps]
    assert steps == [
        ("hand-hygiene", True),
        ("first-aid", True),
        ("self-checkout", True),
        ("energy-drinks", True),
        ("incident-reporting-and-fire", True),
    ]

"""The rollup of first passes (`module_passes`): kept by completions through the API and by
department moves, rebuilt from the attempts by `flask insights rebuild`, and what a summary's
path completion counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.insights import passes, queries
from app.insights.models import ModulePass
from tests.conftest import auth_headers
from tests.paths.conftest import finish

BASE = "/api/v1/insights"
USERS = "/api/v1/admin/users"


def rows(session, org_id):
    # Columns, not entities: the identity map would hand back rows read before a change.
    return sorted(
        session.execute(
            select(
                ModulePass.user_id,
                ModulePass.module_id,
                ModulePass.department_id,
                ModulePass.first_passed_at,
            ).where(ModulePass.org_id == org_id)
        ).all()
    )


def test_a_pass_is_kept_once_with_its_first_time_and_a_fail_is_not(
    client, session, org, learner, as_learner, checkout, week_modules, week_path, frozen_clock
):
    first, second = week_modules
    finish(client, session, as_learner, second, correct=False)
    assert rows(session, org.id) == []

    passed_at = frozen_clock.current
    finish(client, session, as_learner, first)
    frozen_clock.advance(days=1)
    finish(client, session, as_learner, first)  # passed again: the first time stays
    assert rows(session, org.id) == [(learner.id, first.id, checkout.id, passed_at)]

    # An offline attempt passed earlier and sent later moves the first time back.
    earlier = passed_at - timedelta(days=3)
    passes.note_passed(
        session,
        org_id=org.id,
        user_id=learner.id,
        department_id=checkout.id,
        module_id=first.id,
        passed_at=earlier,
    )
    assert rows(session, org.id) == [(learner.id, first.id, checkout.id, earlier)]


def test_a_person_moved_takes_their_passes_and_their_path_completion_along(
    client, session, org, learner, as_learner, as_admin, checkout, warehouse, week_modules,
    week_path, frozen_clock,
):  # fmt: skip
    finish(client, session, as_learner, week_modules[0])
    finish(client, session, as_learner, week_modules[1])
    before = client.get(f"{BASE}/departments/{checkout.id}", headers=as_admin).json
    assert before["path_completion_rate"] == 1.0

    moved = client.patch(
        f"{USERS}/{learner.id}", json={"department_id": warehouse.id}, headers=as_admin
    )
    assert moved.status_code == 200, moved.json
    assert {row.department_id for row in rows(session, org.id)} == {warehouse.id}
    frozen_clock.advance(seconds=5)  # past the kept figures' bound (INSIGHTS_CACHE_SECONDS)
    # Counted where the person is now, for the whole week (docs/insights.md, Definitions).
    after = client.get(f"{BASE}/departments/{warehouse.id}", headers=as_admin).json
    assert (after["members"], after["path_completion_rate"]) == (1, 1.0)
    left = client.get(f"{BASE}/departments/{checkout.id}", headers=as_admin).json
    assert left["members"] == 0

    client.patch(f"{USERS}/{learner.id}", json={"department_id": None}, headers=as_admin)
    assert {row.department_id for row in rows(session, org.id)} == {None}


def test_the_rebuild_command_recomputes_the_rollup_from_the_attempts(
    app, client, session, org, learner, colleague, as_learner, week_modules, week_path
):
    finish(client, session, as_learner, week_modules[0])
    kept = rows(session, org.id)
    assert len(kept) == 1
    # Lost (a restore from a backup taken mid-way, say): the command makes it again.
    session.execute(ModulePass.__table__.delete().where(ModulePass.org_id == org.id))
    assert rows(session, org.id) == []

    runner = app.test_cli_runner()
    result = runner.invoke(args=["insights", "rebuild", "--org", org.slug])
    assert result.exit_code == 0, result.output
    assert "1 row(s)" in result.output
    assert rows(session, org.id) == kept

    unknown = runner.invoke(args=["insights", "rebuild", "--org", "no-such-org"])
    assert unknown.exit_code != 0
    assert "No organization" in unknown.output


@pytest.mark.parametrize("bits_per_column", [62, 1])
def test_the_mandatory_module_alone_makes_compliant_and_the_path_half_done(
    client, session, learner, colleague, as_learner, as_admin, store, checkout, week_modules,
    week_path, frozen_clock, monkeypatch, bits_per_column,
):  # fmt: skip
    # Week 48's path: module 1 mandatory, module 2 voluntary. The learner passes module 1 only;
    # the colleague passes only the voluntary one, and fails the mandatory one. With one bit
    # per column, the two modules' passes come back in two columns, as 63 modules or more do.
    monkeypatch.setattr(queries, "_BITS", bits_per_column)
    mandatory, voluntary = week_modules
    finish(client, session, as_learner, mandatory)
    as_colleague = auth_headers(session, colleague)
    finish(client, session, as_colleague, voluntary)
    finish(client, session, as_colleague, mandatory, correct=False)
    for department in (checkout, store):  # the store counts its sub-department
        summary = client.get(f"{BASE}/departments/{department.id}", headers=as_admin).json
        assert summary["mandatory_compliance_rate"] == 0.5, department.name
        assert summary["path_completion_rate"] == 0.5, department.name

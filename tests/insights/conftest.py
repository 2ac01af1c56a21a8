"""A store with a checkout sub-department, a second store, people and a week's path."""

from __future__ import annotations

import pytest

from app.orgs.models import DepartmentManager
from tests import factories
from tests.conftest import auth_headers
from tests.paths.conftest import make_modules, schedule


@pytest.fixture
def region(session, org):
    return factories.make_department(session, org, "Region Øst")


@pytest.fixture
def region_store(session, org, region):
    return factories.make_department(session, org, "Butikk Øst", parent=region)


@pytest.fixture
def region_manager(session, org, region):
    user = factories.make_user(session, org, "regional", roles=["manager"], department=region)
    session.add(DepartmentManager(department_id=region.id, user_id=user.id))
    session.flush()
    return user


@pytest.fixture
def as_region_manager(session, region_manager):
    return auth_headers(session, region_manager)


@pytest.fixture
def week_modules(session, org, frozen_clock):
    return make_modules(session, org, 2)


@pytest.fixture
def week_path(client, as_admin, week_modules):
    """Week 48 (the frozen clock's): module 1 mandatory (due Friday), module 2 voluntary."""
    return schedule(
        client,
        as_admin,
        [],
        modules=[
            {"module_id": week_modules[0].id, "mandatory": True},
            {"module_id": week_modules[1].id, "mandatory": False},
        ],
        due_at="2026-11-27T16:00:00+00:00",
    )

"""The boards' shared scene: three learners in two departments with points this week."""

from __future__ import annotations

import pytest

from tests import factories
from tests.conftest import auth_headers
from tests.gamification.play import play


@pytest.fixture
def picker(session, org, warehouse):
    return factories.make_user(session, org, "picker", department=warehouse)


@pytest.fixture
def played(client, session, org, module, learner, colleague, picker, manager, frozen_clock):
    """Learner (10:00) and colleague (11:00) tie on 80 points; the picker has 35."""
    play(client, session, module, auth_headers(session, learner))
    frozen_clock.advance(hours=1)
    play(client, session, module, auth_headers(session, colleague))
    frozen_clock.advance(hours=1)
    play(client, session, module, auth_headers(session, picker), wrong=2)
    return frozen_clock

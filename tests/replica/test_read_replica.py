"""Reports read from a real streaming replica while it keeps up, and from the primary when it
lags; a learner's own reads never touch it; a board rebuild reads it only once it has caught up.

The tests make their own PostgreSQL primary and replica (tests/pg_replica.py) and commit for
real there: a replica sees only what was committed.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app import db
from app.migrate import upgrade
from app.replica import Replica, session_as_fresh_as
from tests import factories
from tests.conftest import auth_headers
from tests.gamification.play import play
from tests.leaderboards.test_board_property import brute_force, redis_boards
from tests.leaderboards.test_resilience import ledger_rows
from tests.pg_replica import StreamingReplica, unavailable_reason

_reason = unavailable_reason()
if _reason and os.environ.get("CI"):
    raise RuntimeError(f"the read-replica tests must run in CI: {_reason}")
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")

_orgs = itertools.count()


@pytest.fixture(scope="module")
def servers() -> Iterator[StreamingReplica]:
    pair = StreamingReplica()
    pair.start()
    primary = db.make_engine(pair.primary_url)
    upgrade(primary)
    primary.dispose()
    yield pair
    pair.stop()


@pytest.fixture
def primary(servers, transaction) -> Iterator[Engine]:
    """The request session on the test's primary (after the rolled-back test transaction is
    set up, which it replaces for this test)."""
    engine = db.make_engine(servers.primary_url)
    db.session.remove()
    db.session.configure(bind=engine, join_transaction_mode="conditional_savepoint")
    yield engine
    db.session.remove()
    engine.dispose()


@pytest.fixture
def replica(app, servers, primary, monkeypatch) -> Iterator[Replica]:
    measured = Replica(db.make_engine(servers.replica_url), max_lag_seconds=0.5)
    measured.measure_every = 0  # measure on every use: the tests move the lag themselves
    monkeypatch.setitem(app.extensions, "replica", measured)
    yield measured
    replay(measured, paused=False)
    measured.engine.dispose()


def replay(replica: Replica, *, paused: bool) -> None:
    with replica.engine.connect() as connection:
        call = "pg_wal_replay_pause()" if paused else "pg_wal_replay_resume()"
        connection.execute(text(f"SELECT {call}"))
        connection.commit()


def wait_for(check, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def committed_scene():
    """An organisation with an editor, a module and three learners, committed."""
    session = db.session()
    org = factories.make_org(session, slug=f"replica-{next(_orgs)}-{time.time_ns()}", name="R")
    store = factories.make_department(session, org, "Store")
    editor = factories.make_user(session, org, "editor", roles=["editor"])
    learners = [factories.make_user(session, org, f"l{n}", department=store) for n in range(3)]
    module = factories.publish_module(session, org, factories.module_document())
    session.commit()
    return org, editor, learners, module


def completions(client, headers, module_id) -> int:
    stats = client.get(f"/api/v1/editor/modules/{module_id}/stats", headers=headers)
    assert stats.status_code == 200, stats.json
    return int(stats.json["completions"])


def test_item_analysis_reads_the_replica_while_it_keeps_up_and_the_primary_when_it_lags(
    client, primary, replica
):
    session = db.session()
    _org, editor, learners, module = committed_scene()
    as_editor = auth_headers(session, editor)
    play(client, session, module, auth_headers(session, learners[0]))
    wait_for(lambda: replica.lag_seconds() == 0, "the replica to replay the first completion")
    assert completions(client, as_editor, module.id) == 1

    replay(replica, paused=True)  # the replica stops applying what it receives
    play(client, session, module, auth_headers(session, learners[1]))
    replica.max_lag_seconds = 3600
    # Within the allowed lag the report comes from the replica, which has not seen it yet.
    assert completions(client, as_editor, module.id) == 1
    replica.max_lag_seconds = 0.5
    wait_for(lambda: (replica.lag_seconds() or 0) > replica.max_lag_seconds, "the lag to grow")
    assert completions(client, as_editor, module.id) == 2  # too far behind: the primary

    replay(replica, paused=False)
    wait_for(lambda: replica.lag_seconds() == 0, "the replica to catch up")
    assert completions(client, as_editor, module.id) == 2


def test_a_learners_own_reads_never_go_to_a_lagging_replica(client, primary, replica):
    session = db.session()
    _org, _editor, learners, module = committed_scene()
    replay(replica, paused=True)
    replica.max_lag_seconds = 3600  # the replica counts as healthy however far behind it is
    headers = auth_headers(session, learners[0])
    done = play(client, session, module, headers)
    me = client.get("/api/v1/me", headers=headers).json
    assert me["points"]["total"] == done["points_total"]
    modules = client.get("/api/v1/modules", headers=headers).json["items"]
    assert {item["id"]: item["status"] for item in modules}[module.id] == "completed"


def test_a_rebuild_reads_the_replica_only_once_it_has_caught_up(
    app, client, primary, replica, redis_client
):
    session = db.session()
    org, _editor, learners, module = committed_scene()
    for learner in learners:
        play(client, session, module, auth_headers(session, learner))
    replay(replica, paused=True)
    play(client, session, module, auth_headers(session, learners[0]))  # not on the replica
    with session_as_fresh_as(session, wait_seconds=0.3) as ledger:
        assert ledger is session  # the replica could not catch up in time: the primary

    replay(replica, paused=False)
    with session_as_fresh_as(session, wait_seconds=30) as ledger:
        assert ledger is not session
        assert ledger.get_bind().url.port == replica.engine.url.port

    redis_client.flushdb()
    result = app.test_cli_runner().invoke(args=["leaderboards", "rebuild"])
    assert result.exit_code == 0, result.output
    assert redis_boards(redis_client, org.id) == brute_force(
        ledger_rows(session, org.id), org.timezone
    )


def test_the_replica_lag_is_exported(app, client, primary, replica, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "t")
    replay(replica, paused=False)
    wait_for(lambda: replica.lag_seconds() == 0, "the replica to catch up")
    body = client.get("/metrics", headers={"Authorization": "Bearer t"}).get_data(as_text=True)
    assert "nanolearn_replica_lag_seconds 0.0" in body
    assert "nanolearn_replica_in_use 1.0" in body


def test_insights_and_their_exports_read_the_replica_while_it_keeps_up(
    app, client, primary, replica, monkeypatch
):
    from app.orgs.models import DepartmentManager

    # Which database answers is the question here: no figures kept between the reads.
    monkeypatch.setitem(app.config, "INSIGHTS_CACHE_SECONDS", 0)

    session = db.session()
    org, _editor, learners, module = committed_scene()
    store = learners[0].department_id
    boss = factories.make_user(session, org, "boss", roles=["manager"])
    session.add(DepartmentManager(department_id=store, user_id=boss.id))
    session.commit()
    as_boss = auth_headers(session, boss)
    summary = f"/api/v1/insights/departments/{store}"
    play(client, session, module, auth_headers(session, learners[0]))
    wait_for(lambda: replica.lag_seconds() == 0, "the replica to replay the completion")
    first = client.get(summary, headers=as_boss).json["points"]
    assert first > 0

    replay(replica, paused=True)
    play(client, session, module, auth_headers(session, learners[1]))
    replica.max_lag_seconds = 3600
    assert client.get(summary, headers=as_boss).json["points"] == first  # from the replica
    csv = client.get(f"{summary}/members?format=csv", headers=as_boss)
    assert csv.status_code == 200
    assert len(csv.get_data(as_text=True).strip().splitlines()) == 1 + len(learners)
    replica.max_lag_seconds = 0.5
    wait_for(lambda: (replica.lag_seconds() or 0) > replica.max_lag_seconds, "the lag to grow")
    assert client.get(summary, headers=as_boss).json["points"] > first  # the primary

"""Pooled PostgreSQL connections: checked with a round trip only after idling, and a dead one
is replaced rather than handed to a request."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import exc, text

from app import db

DATABASE_URL = os.environ.get("DATABASE_URL", "")
pytestmark = pytest.mark.skipif(
    not DATABASE_URL.startswith("postgresql"), reason="needs PostgreSQL backends to terminate"
)


@pytest.fixture
def pool_engine():
    made = db.make_engine(DATABASE_URL, pool_size=1, max_overflow=0)
    yield made
    made.dispose()


def backend_pid(engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text("SELECT pg_backend_pid()")))


def terminate(pid: int) -> None:
    """End a backend from another connection, as a database restart would."""
    killer = db.make_engine(DATABASE_URL)
    try:
        with killer.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        killer.dispose()


def test_an_idle_connection_that_died_is_replaced_before_use(pool_engine, monkeypatch):
    first = backend_pid(pool_engine)
    terminate(first)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has idled long enough
    assert backend_pid(pool_engine) != first  # the request never saw the dead connection


def test_a_connection_in_steady_use_is_not_pinged(pool_engine):
    backend_pid(pool_engine)
    statements: list[str] = []
    from sqlalchemy import event

    @event.listens_for(pool_engine, "before_cursor_execute")
    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    backend_pid(pool_engine)
    assert statements == ["SELECT pg_backend_pid()"]


def test_a_connection_that_died_while_busy_fails_once_then_the_pool_recovers(pool_engine):
    first = backend_pid(pool_engine)
    terminate(first)
    with pytest.raises(exc.OperationalError), pool_engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert backend_pid(pool_engine) != first

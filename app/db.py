"""The SQLAlchemy base, the engine and the request-scoped session."""

from __future__ import annotations

import os
import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, String, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

from app import clock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


_id_lock = threading.Lock()
_last_id = 0


def new_id() -> str:
    """A 26-character ULID: sortable by creation time, opaque to clients.

    Monotonic within a process: ids made in the same millisecond increase, so keyset paging
    by id follows creation order.
    """
    global _last_id
    with _id_lock:
        value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
        if value <= _last_id:
            value = _last_id + 1
        _last_id = value
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def utcnow() -> datetime:
    """Column defaults take the app's clock, so rows made without an explicit time agree with
    the times the services compute (and with a test's frozen clock)."""
    return clock.now()


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns them aware (SQLite forgets the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), str: String()}


session: scoped_session[Session] = scoped_session(sessionmaker(expire_on_commit=False))


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine; SQLite gets real transactions and enforced foreign keys."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        _make_sqlite_transactional(engine)
        return engine
    # An unreachable database host must fail fast (readiness checks, requests), not hang.
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 5)
    engine = create_engine(url, **kwargs)
    _ping_connections_after_idling(engine)
    return engine


# A connection back in use within this many seconds is used without a ping.
PING_AFTER_IDLE_SECONDS = 10.0


def _ping_connections_after_idling(engine: Engine) -> None:
    """Check a pooled connection with a round trip only after it sat idle.

    `pool_pre_ping` pings on every checkout: a round trip on every request, ~0.3 ms of CPU
    on the answer path. Connections go stale while idle (a database restart, a proxy or
    firewall dropping quiet connections); one that was in use a moment ago is live. A
    connection that dies while busy fails its request, and SQLAlchemy then replaces the
    whole pool.
    """

    @event.listens_for(engine, "checkin")
    def note_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle = time.monotonic() - record.info.get("checked_in_at", time.monotonic())
        if idle < PING_AFTER_IDLE_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_connection.rollback()
        except Exception as error:
            # The pool discards this connection and checks out a fresh one.
            raise DisconnectionError(str(error)) from error


def _make_sqlite_transactional(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; take it over (SQLAlchemy's recipe).
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")


def insert_for(dialect_name: str) -> Any:
    """The dialect's INSERT construct, which has ON CONFLICT ... DO NOTHING / DO UPDATE
    (PostgreSQL and SQLite spell it alike)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def after_commit(db_session: Session, callback: Any) -> None:
    """Run `callback()` once the session's transaction has committed (never on rollback).

    Redis and push side effects go through here, so they never act on a change that was
    rolled back. A callback registered inside a savepoint is dropped if that savepoint is
    rolled back (one bad offline event), and kept otherwise.
    """
    if not db_session.in_transaction():
        db_session.begin()  # so that a rollback, too, is seen and drops the callback
    transaction = db_session.get_nested_transaction() or db_session.get_transaction()
    db_session.info.setdefault("after_commit", []).append((transaction, callback))


def pending_after_commit(db_session: Session) -> list[Any]:
    """The callbacks still waiting for this session's commit."""
    return [callback for _, callback in db_session.info.get("after_commit", [])]


@event.listens_for(Session, "after_commit")
def _run_after_commit(db_session: Session) -> None:
    callbacks = db_session.info.pop("after_commit", [])
    for _, callback in callbacks:
        try:
            callback()
        except Exception:  # a side effect failing must not turn a committed change into an error
            import logging

            logging.getLogger(__name__).exception("after-commit callback failed")


def _registered_within(transaction: Any, ancestor: Any) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_commit(db_session: Session, previous_transaction: Any) -> None:
    # Rolling back the whole unit of work drops everything that waited for its commit;
    # rolling back a savepoint drops only what was registered inside that savepoint.
    if not previous_transaction.nested:
        db_session.info.pop("after_commit", None)
        return
    waiting = db_session.info.get("after_commit", [])
    db_session.info["after_commit"] = [
        (transaction, callback)
        for transaction, callback in waiting
        if not _registered_within(transaction, previous_transaction)
    ]

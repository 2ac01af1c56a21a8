"""Heavy reads from a PostgreSQL streaming replica (`DATABASE_REPLICA_URL`), while it keeps up.

Only reads that nobody has just written go there: managers' insights and exports
(`report_session`), item analysis, and board rebuilds. A learner's own reads stay on the
primary, so nobody ever sees their own answer missing. The replica's lag is measured (at
most once a second per process) and exported; above `REPLICA_MAX_LAG_SECONDS` the same reads
go to the primary.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator

from flask import Flask, current_app, g
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app import db

log = logging.getLogger(__name__)

# How far behind the replica is: zero when it has replayed everything it received, else the
# age of the last transaction it replayed (the usual measure; `now()` is the replica's clock).
_LAG = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0"
    " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)
_REPLAYED_AT_LEAST = text(
    "SELECT NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= CAST(:position AS pg_lsn)"
)


class Replica:
    """A replica's engine and its measured lag."""

    measure_every = 1.0  # seconds

    def __init__(self, engine: Engine, max_lag_seconds: float) -> None:
        self.engine = engine
        self.max_lag_seconds = max_lag_seconds
        self._lock = threading.Lock()
        self._measured_at = float("-inf")
        self._lag: float | None = None

    def lag_seconds(self) -> float | None:
        """The replica's lag, measured at most once a second; None when it cannot be reached."""
        now = time.monotonic()
        if now - self._measured_at < self.measure_every:
            return self._lag
        with self._lock:
            if now - self._measured_at >= self.measure_every:
                self._lag = self._measure()
                self._measured_at = time.monotonic()
        return self._lag

    def usable(self) -> bool:
        lag = self.lag_seconds()
        return lag is not None and lag <= self.max_lag_seconds

    def _measure(self) -> float | None:
        try:
            with self.engine.connect() as connection:
                return float(connection.execute(_LAG).scalar_one())
        except SQLAlchemyError as error:
            log.warning("read replica unreachable (%s); reading from the primary", error)
            return None

    def caught_up_with(self, position: str, *, wait_seconds: float) -> bool:
        """Whether the replica has replayed the primary's WAL up to `position`, waiting for it
        up to `wait_seconds`."""
        deadline = time.monotonic() + wait_seconds
        try:
            with self.engine.connect() as connection:
                while True:
                    replayed = connection.execute(_REPLAYED_AT_LEAST, {"position": position})
                    if replayed.scalar_one():
                        return True
                    if time.monotonic() >= deadline:
                        return False
                    time.sleep(0.05)
                    connection.rollback()  # a new snapshot for the next look
        except SQLAlchemyError as error:
            log.warning("read replica unreachable (%s); reading from the primary", error)
            return False


def configured() -> Replica | None:
    replica: Replica | None = current_app.extensions.get("replica")
    return replica


@contextlib.contextmanager
def reporting_session() -> Iterator[Session]:
    """A session for reports: on the replica while it is within the allowed lag, else the
    request's own session on the primary."""
    replica = configured()
    if replica is None or not replica.usable():
        yield db.session()
        return
    with Session(bind=replica.engine) as session:
        yield session


def report_session() -> Session:
    """`reporting_session` for the rest of the request: a replica session stays open until
    the request ends, so a streamed export reads its rows as they are sent."""
    replica = configured()
    if replica is None or not replica.usable():
        return db.session()
    if "replica_session" not in g:
        g.replica_session = Session(bind=replica.engine)
    session: Session = g.replica_session
    return session


def _close_report_session(_error: BaseException | None) -> None:
    session = g.pop("replica_session", None)
    if session is not None:
        session.close()


@contextlib.contextmanager
def session_as_fresh_as(primary: Session, *, wait_seconds: float = 5.0) -> Iterator[Session]:
    """A session that sees at least everything the primary had committed when it was asked:
    the replica once it has replayed that far (waiting up to `wait_seconds`), else `primary`.
    For reads whose result is written back as the truth (a board rebuild)."""
    replica = configured()
    if replica is None or primary.get_bind().dialect.name != "postgresql":
        yield primary
        return
    position = primary.execute(text("SELECT CAST(pg_current_wal_lsn() AS text)")).scalar_one()
    if not replica.caught_up_with(position, wait_seconds=wait_seconds):
        yield primary
        return
    with Session(bind=replica.engine) as session:
        yield session


def init_app(app: Flask) -> None:
    """Create the replica's engine when `DATABASE_REPLICA_URL` is set."""
    app.teardown_appcontext(_close_report_session)
    url = app.config.get("DATABASE_REPLICA_URL")
    if url:
        app.extensions["replica"] = Replica(
            db.make_engine(url), float(app.config["REPLICA_MAX_LAG_SECONDS"])
        )

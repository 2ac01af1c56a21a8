"""department names unique among siblings (case-blind)

Revision ID: 0120
Revises: 0184

Adds `departments.name_key` (the name without case, Unicode form or extra spaces, computed
in Python so PostgreSQL and SQLite compare alike) and two partial unique indexes: one over
(org_id, name_key) for top-level departments, one over (parent_id, name_key) for the rest (a
plain unique index would let any number of NULL parents through, in both databases).

Siblings that already share a name keep their people and ids; all but the oldest are renamed
`<name> (2)`, `<name> (3)`, ... so an admin can see and merge them.
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0120"
down_revision = "0184"
branch_labels = None
depends_on = None


def _key(name: str) -> str:
    # The same rule as app.orgs.models.department_name_key, frozen here as of this revision.
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


def upgrade() -> None:
    op.add_column("departments", sa.Column("name_key", sa.String(length=400), nullable=True))
    departments = sa.table(
        "departments",
        sa.column("id", sa.String),
        sa.column("org_id", sa.String),
        sa.column("parent_id", sa.String),
        sa.column("name", sa.String),
        sa.column("name_key", sa.String),
        sa.column("created_at", sa.DateTime),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            departments.c.id, departments.c.org_id, departments.c.parent_id, departments.c.name
        ).order_by(departments.c.created_at, departments.c.id)
    ).all()
    taken: dict[tuple[str, str | None], set[str]] = {}
    for row in rows:
        siblings = taken.setdefault((row.org_id, row.parent_id), set())
        name, number = row.name, 2
        while _key(name) in siblings:
            name, number = f"{row.name.strip()} ({number})", number + 1
        siblings.add(_key(name))
        connection.execute(
            departments.update()
            .where(departments.c.id == row.id)
            .values(name=name[:200], name_key=_key(name))
        )
    op.create_index(
        "uq_departments_top_level_name",
        "departments",
        ["org_id", "name_key"],
        unique=True,
        postgresql_where=sa.text("parent_id IS NULL"),
        sqlite_where=sa.text("parent_id IS NULL"),
    )
    op.create_index(
        "uq_departments_sibling_name",
        "departments",
        ["parent_id", "name_key"],
        unique=True,
        postgresql_where=sa.text("parent_id IS NOT NULL"),
        sqlite_where=sa.text("parent_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_departments_sibling_name", table_name="departments")
    op.drop_index("uq_departments_top_level_name", table_name="departments")
    op.drop_column("departments", "name_key")

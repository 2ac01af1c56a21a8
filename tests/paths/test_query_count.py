"""`GET /paths/current` runs a constant number of SQL queries whatever the number of modules:
none once the per-process caches are warm (the learner's progress included), a few when cold."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session

from app import caching
from tests.paths.conftest import finish, make_modules, schedule


@contextmanager
def count_queries(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []
    connection = session.connection()

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    event.listen(connection, "before_cursor_execute", before_cursor_execute)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", before_cursor_execute)


def queries_for_current_paths(client, session, headers) -> tuple[int, int]:
    """(queries with every cache empty, queries of the next read)."""
    caching.clear_all()
    counts = []
    for _ in range(2):
        with count_queries(session) as statements:
            response = client.get("/api/v1/paths/current", headers=headers)
        assert response.status_code == 200, response.json
        counts.append(len(statements))
    return counts[0], counts[1]


def test_constant_queries_whatever_the_number_of_modules(
    client, session, frozen_clock, org, store, as_admin, as_editor, as_learner
):
    few = make_modules(session, org, 2)
    schedule(client, as_editor, few, sequential=True)
    client.post("/api/v1/admin/requirements", json={"module_id": few[0].id}, headers=as_admin)
    finish(client, session, as_learner, few[0])
    small = queries_for_current_paths(client, session, as_learner)

    many = make_modules(session, org, 12)
    for n in range(3):
        schedule(
            client,
            as_editor,
            many[n * 4 : n * 4 + 4],
            title=f"Sti {n}",
            sequential=bool(n % 2),
            audience={"department_ids": [store.id]},
        )
    for module in many[:3]:
        client.post(
            "/api/v1/admin/requirements",
            json={"module_id": module.id, "validity_months": 12},
            headers=as_admin,
        )
    finish(client, session, as_learner, many[0])
    finish(client, session, as_learner, many[4])
    body = client.get("/api/v1/paths/current", headers=as_learner).json
    assert sum(len(p["modules"]) for p in body["paths"]) > 15
    large = queries_for_current_paths(client, session, as_learner)
    assert large == small
    cold, warm = large
    assert 4 <= cold <= 10
    assert warm == 0

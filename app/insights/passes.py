"""Keeping `module_passes` (`models.ModulePass`) equal to what `attempts` say: a row per
(person, module) they passed, with the first time and the person's current department.

Written in the transaction that changes its sources, so it is never behind them:
- a completion that passed (`note_passed`, from the learning service) inserts the row, or
  moves its time earlier (an offline attempt replayed later may have been passed earlier);
- a person moved to another department (any change of `User.department_id` flushed through
  the ORM: the admin API, the roster import, SCIM) takes their rows along (`_follow_moves`).

`rebuild` recomputes the table from `attempts` and `users` (`flask insights rebuild`); the
tests compare the kept table with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, attributes

from app.db import insert_for
from app.insights.models import ModulePass
from app.learning.models import Attempt
from app.orgs.models import User


def note_passed(
    session: Session,
    *,
    org_id: str,
    user_id: str,
    department_id: str | None,
    module_id: str,
    passed_at: datetime,
) -> None:
    """A person passed a module at `passed_at`: one upsert, in the completion's transaction."""
    insert_stmt = insert_for(session.get_bind().dialect.name)
    stmt = insert_stmt(ModulePass).values(
        user_id=user_id,
        module_id=module_id,
        org_id=org_id,
        department_id=department_id,
        first_passed_at=passed_at,
    )
    earlier = stmt.excluded.first_passed_at < ModulePass.first_passed_at
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ModulePass.user_id, ModulePass.module_id],
            set_={
                "first_passed_at": case(
                    (earlier, stmt.excluded.first_passed_at), else_=ModulePass.first_passed_at
                )
            },
        )
    )


@sa_event.listens_for(Session, "after_flush")
def _follow_moves(session: Session, _flush_context: Any) -> None:
    """People whose department changed in this flush take their passes along."""
    for obj in session.dirty:
        if not isinstance(obj, User):
            continue
        history = attributes.get_history(obj, "department_id")
        if history.has_changes():
            session.connection().execute(
                update(ModulePass)
                .where(ModulePass.user_id == obj.id)
                .values(department_id=obj.department_id)
            )


def rebuild(session: Session, *, org_id: str | None = None) -> int:
    """Recompute the table (one organisation's rows, or every row) from `attempts` and
    `users`, in the session's transaction. Returns how many rows it holds now."""
    scope = [] if org_id is None else [ModulePass.org_id == org_id]
    session.execute(delete(ModulePass).where(*scope))
    passed = (
        select(
            Attempt.user_id,
            Attempt.module_id,
            Attempt.org_id,
            User.department_id,
            func.min(Attempt.completed_at),
        )
        .join(User, User.id == Attempt.user_id)
        .where(Attempt.passed.is_(True), Attempt.completed_at.is_not(None))
        .group_by(Attempt.user_id, Attempt.module_id, Attempt.org_id, User.department_id)
    )
    if org_id is not None:
        passed = passed.where(Attempt.org_id == org_id)
    session.execute(
        insert(ModulePass).from_select(
            ["user_id", "module_id", "org_id", "department_id", "first_passed_at"], passed
        )
    )
    return int(session.scalar(select(func.count()).select_from(ModulePass).where(*scope)) or 0)

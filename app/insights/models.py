"""The insights' rollup: when each person first passed each module.

Whether someone has done a module (passed it before a week ended) is what a summary's path
completion and compliance are made of. Read from `attempts`, a region's ten thousand people
meant reading every passed attempt of theirs on the week's modules, about 350 ms of a
database's time on every refresh of its figures. This table holds one row per (person,
module) they ever passed, under the person's current department, so a region's passes are
one range of an index. It is kept in the transaction of every completion and of every
department move (`passes.py`), and rebuilt from `attempts` by `flask insights rebuild`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class ModulePass(Base):
    __tablename__ = "module_passes"
    __table_args__ = (
        # A department's (or a subtree's) people's passes of the week's modules, read from
        # the index alone on PostgreSQL.
        Index(
            "ix_module_passes_department",
            "department_id",
            "module_id",
            postgresql_include=["user_id", "first_passed_at"],
        ),
    )

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    module_id: Mapped[str] = mapped_column(
        ForeignKey("modules.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # The person's department now (`users.department_id`), moved with them.
    department_id: Mapped[str | None] = mapped_column(String(26), default=None)
    # The earliest `completed_at` of their passed attempts on the module (any version).
    first_passed_at: Mapped[datetime]

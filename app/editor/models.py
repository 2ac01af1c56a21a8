"""The editing history of a module: who did what to it, and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow

ACTIONS = ("created", "updated", "published", "archived", "unarchived", "imported")


class ModuleEvent(Base):
    """One editing step. Append-only: published versions carry their own publisher too."""

    __tablename__ = "module_events"
    __table_args__ = (Index("ix_module_events_module", "module_id", "id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    module_id: Mapped[str] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    # The draft revision after the step, and the version it published (if it did).
    revision: Mapped[int | None] = mapped_column(Integer, default=None)
    version: Mapped[int | None] = mapped_column(Integer, default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)

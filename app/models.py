"""Imports every domain's models so Alembic and the tests see all tables."""

from app.auth.models import LoginSession, RefreshToken
from app.content.models import Module, ModuleVersion
from app.gamification.models import PointAward
from app.idempotency.models import IdempotentResponse
from app.learning.models import Answer, Attempt
from app.notifications.models import Device, Notification, NotificationOptOut
from app.orgs.models import Department, DepartmentManager, Organization, User

__all__ = [
    "Answer",
    "Attempt",
    "Department",
    "DepartmentManager",
    "Device",
    "IdempotentResponse",
    "LoginSession",
    "Module",
    "ModuleVersion",
    "Notification",
    "NotificationOptOut",
    "Organization",
    "PointAward",
    "RefreshToken",
    "User",
]

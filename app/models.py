"""Imports every domain's models so Alembic and the tests see all tables."""

from app.audit.models import AuditEvent
from app.auth.models import LoginSession, RefreshToken
from app.competitions.models import Competition
from app.content.models import Module, ModuleVersion
from app.editor.models import ModuleEvent
from app.gamification.models import EarnedBadge, LearningDay, PlayerProfile, PointAward
from app.idempotency.models import IdempotentResponse
from app.identity.models import (
    OidcLoginState,
    OidcSettings,
    PasswordLink,
    ScimToken,
    SignInCode,
)
from app.insights.models import ModulePass
from app.interop.models import RevokedCredential, SigningKey, XapiIntegration
from app.leaderboards.models import ArchivedPeriod, ArchivedStanding, BoardRepair
from app.learning.models import Answer, Attempt
from app.media.models import Media
from app.notifications.models import Device, Notification, NotificationOptOut
from app.orgs.models import Department, DepartmentManager, Organization, User
from app.outbox.models import OutboxMessage, OutboxStats
from app.paths.models import LearningPath, PathModule, Requirement
from app.reviews.models import ReviewHold, ReviewItem
from app.screens.models import Screen

__all__ = [
    "Answer",
    "ArchivedPeriod",
    "ArchivedStanding",
    "Attempt",
    "AuditEvent",
    "BoardRepair",
    "Competition",
    "Department",
    "DepartmentManager",
    "Device",
    "EarnedBadge",
    "IdempotentResponse",
    "LearningDay",
    "LearningPath",
    "LoginSession",
    "Media",
    "Module",
    "ModuleEvent",
    "ModulePass",
    "ModuleVersion",
    "Notification",
    "NotificationOptOut",
    "OidcLoginState",
    "OidcSettings",
    "Organization",
    "OutboxMessage",
    "OutboxStats",
    "PasswordLink",
    "PathModule",
    "PlayerProfile",
    "PointAward",
    "RefreshToken",
    "Requirement",
    "ReviewHold",
    "ReviewItem",
    "RevokedCredential",
    "ScimToken",
    "Screen",
    "SignInCode",
    "SigningKey",
    "User",
    "XapiIntegration",
]

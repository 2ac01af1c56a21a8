"""Imports every domain's models so Alembic and the tests see all tables."""

from app.auth.models import LoginSession, RefreshToken
from app.competitions.models import Competition
from app.content.models import Module, ModuleVersion
from app.gamification.models import EarnedBadge, LearningDay, PlayerProfile, PointAward
from app.idempotency.models import IdempotentResponse
from app.leaderboards.models import ArchivedPeriod, ArchivedStanding, BoardRepair
from app.learning.models import Answer, Attempt
from app.orgs.models import Department, DepartmentManager, Organization, User

__all__ = [
    "Answer",
    "ArchivedPeriod",
    "ArchivedStanding",
    "Attempt",
    "BoardRepair",
    "Competition",
    "Department",
    "DepartmentManager",
    "EarnedBadge",
    "IdempotentResponse",
    "LearningDay",
    "LoginSession",
    "Module",
    "ModuleVersion",
    "Organization",
    "PlayerProfile",
    "PointAward",
    "RefreshToken",
    "User",
]

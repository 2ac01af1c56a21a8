"""Pure rules of outbound delivery: backoff. `attempts` is 1-based."""

from __future__ import annotations

from datetime import timedelta

RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600


def retry_delay(
    attempts: int, *, base: int = RETRY_BASE_SECONDS, cap: int = RETRY_MAX_SECONDS
) -> timedelta:
    """Exponential backoff after the n-th failed attempt: 30 s, 1 min, 2 min ... capped at 1 h."""
    seconds = base * 2 ** min(max(attempts - 1, 0), 32)
    return timedelta(seconds=min(seconds, cap))

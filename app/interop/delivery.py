"""The xAPI channel of the outbox: batched POSTs of statements to each organisation's LRS.

Per organisation, in order: one POST of up to `XAPI_BATCH_SIZE` statements. 2xx: delivered.
5xx, 401/403/404/408/429, a timeout or no connection: everything left is retried later (the
LRS or its settings are at fault, not a statement). Any other 4xx: the batch is split in
halves until the refused statement is alone, which is parked with the LRS's answer, and the
rest go on. A statement already stored (a resend) is no error: the LRS ignores the same id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.interop import encryption
from app.interop.models import XapiIntegration
from app.interop.service import CHANNEL
from app.outbox import jobs
from app.outbox.service import SENT, Claimed, Outcome

log = logging.getLogger(__name__)

VERSION_HEADER = {"X-Experience-API-Version": "1.0.3"}
# An LRS (or its settings) at fault: retry everything, park nothing.
NOT_THE_STATEMENTS = {401, 403, 404, 407, 408, 425, 429}
_local = threading.local()


def _http() -> requests.Session:
    # One pooled session per thread: keep-alive to each LRS across batches.
    http = getattr(_local, "http", None)
    if http is None:
        http = _local.http = requests.Session()
    return http


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer (timeout, refused connection)
    body: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def transient(self) -> bool:
        return self.status is None or self.status >= 500 or self.status in NOT_THE_STATEMENTS

    def describe(self) -> str:
        return f"{self.status or 'no answer'} {self.body}".strip()[:1000]


class Lrs:
    """One organisation's LRS, as xAPI's statements resource."""

    def __init__(self, endpoint: str, username: str, password: str, timeout: float) -> None:
        self.statements_url = endpoint + "statements"
        self.auth = (username, password)
        self.timeout = timeout

    def _call(self, method: str, **kwargs: Any) -> Answer:
        try:
            response = _http().request(
                method,
                self.statements_url,
                auth=self.auth,
                timeout=self.timeout,
                **kwargs,
            )
        except requests.RequestException as error:
            return Answer(None, type(error).__name__)
        return Answer(response.status_code, response.text[:1000])

    def probe(self) -> Answer:
        """`GET statements?limit=1`: what every LRS serves (not every one has `/about`)."""
        return self._call("GET", params={"limit": 1}, headers=VERSION_HEADER)

    def post(self, statements: Sequence[str]) -> Answer:
        """POST statements given as JSON texts (as the outbox stored them)."""
        return self._call(
            "POST",
            data=("[" + ",".join(statements) + "]").encode(),
            headers={**VERSION_HEADER, "Content-Type": "application/json"},
        )


def lrs_for(integration: XapiIntegration) -> Lrs:
    return Lrs(
        integration.endpoint,
        integration.username,
        encryption.decrypt(integration.password_encrypted),
        float(current_app.config.get("XAPI_TIMEOUT_SECONDS", 10)),
    )


def _deliver(lrs: Lrs, messages: Sequence[Claimed]) -> list[Outcome]:
    """Outcomes in order; a refusal is narrowed down by halving the batch."""
    answer = lrs.post([message.body for message in messages])
    if answer.ok:
        return [SENT] * len(messages)
    if answer.transient:
        return [Outcome("retry", answer.describe())] * len(messages)
    if len(messages) == 1:
        log.warning("LRS refused statement %s: %s", messages[0].payload.get("id"), answer.status)
        return [Outcome("failed", answer.describe())]
    middle = len(messages) // 2
    first = _deliver(lrs, messages[:middle])
    if any(outcome.kind == "retry" for outcome in first):
        # The LRS went away meanwhile: what follows waits too, to keep the order.
        return first + [Outcome("retry", first[-1].error)] * (len(messages) - middle)
    return first + _deliver(lrs, messages[middle:])


def send(session: Session, messages: Sequence[Claimed], _now: datetime) -> list[Outcome]:
    """The channel's sender: per organisation, one POST (split only on a refusal)."""
    org_ids = sorted({message.org_id for message in messages})
    integrations = {
        row.org_id: row
        for row in session.scalars(
            select(XapiIntegration).where(XapiIntegration.org_id.in_(org_ids))
        )
    }
    session.commit()  # no transaction stays open while the LRS answers
    outcomes: dict[str, Outcome] = {}
    for org_id in org_ids:
        mine = [message for message in messages if message.org_id == org_id]
        integration = integrations.get(org_id)
        if integration is None or not integration.enabled:
            # Switched off after these were written: they wait (an hour at most between
            # looks) until it is on again, or are dropped when it is removed.
            reason = Outcome("retry", "the LRS connection is switched off")
            outcomes.update((message.id, reason) for message in mine)
            continue
        lrs = lrs_for(integration)
        for message, outcome in zip(mine, _deliver(lrs, mine), strict=True):
            outcomes[message.id] = outcome
    return [outcomes[message.id] for message in messages]


def _batch_size() -> int:
    return max(1, int(current_app.config.get("XAPI_BATCH_SIZE", 250)))


jobs.register(jobs.Channel(CHANNEL, send, batch_size=_batch_size, max_retry_seconds=900))

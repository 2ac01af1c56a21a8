"""The shared outbox: write messages with the change, claim them for one worker with
`FOR UPDATE SKIP LOCKED`, and record what the far side answered (retry with backoff, or park).

`claim_rows` is the claim every outbox uses (pushes in `app.notifications` too); the rest
serves `OutboxMessage`, the outbox of every other channel (xAPI statements, digests).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from app.db import after_commit, insert_for, new_id
from app.outbox import rules
from app.outbox.models import OutboxMessage, OutboxStats

CLAIM_LEASE = timedelta(minutes=5)
# A message waiting behind an earlier one of its key that another worker is sending.
BEHIND_SENDING = timedelta(seconds=5)


def claim_rows(
    session: Session,
    model: Any,
    *,
    where: Sequence[Any],
    order_by: Sequence[Any],
    now: datetime,
    limit: int,
    lease: timedelta = CLAIM_LEASE,
    include_stale: bool = True,
    returning: Sequence[Any] = (),
) -> tuple[str, list[Any]]:
    """Mark up to `limit` due rows of `model` as this worker's (status `sending`); returns the
    claim token that names them and, with `returning`, those columns of each claimed row.

    `model` has `id`, `status`, `deliver_after`, `claim_token` and `claimed_until`. A row is
    due when pending (or sending past its lease: a worker died) and `deliver_after <= now`.
    PostgreSQL skips rows another worker has locked; everywhere the conditional UPDATE only
    takes rows still claimable.
    """
    token = uuid.uuid4().hex
    claimable = (
        or_(
            model.status == "pending",
            and_(model.status == "sending", model.claimed_until < now),
        )
        if include_stale
        else model.status == "pending"
    )
    candidates = (
        select(model.id)
        .where(claimable, model.deliver_after <= now, *where)
        .order_by(*order_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Lock first, then update: as an IN (subquery) PostgreSQL may run the locking
        # subquery more than once and take more than `limit` rows.
        ids: Any = list(session.scalars(candidates))
        if not ids:
            return token, []
    else:
        # SQLite: one statement, so the write lock is taken before anything is read.
        ids = candidates.scalar_subquery()
    stmt = (
        update(model)
        .where(model.id.in_(ids), claimable)
        .values(status="sending", claim_token=token, claimed_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    if returning:
        return token, list(session.execute(stmt.returning(*returning)))
    session.execute(stmt)
    return token, []


# --- writing ------------------------------------------------------------------------------------


_OUTBOX_INSERT = insert(OutboxMessage)


@dataclass(frozen=True)
class NewMessage:
    org_id: str
    key: str
    payload: dict[str, Any]


def add(session: Session, *, channel: str, messages: Sequence[NewMessage], now: datetime) -> None:
    """Write messages in the caller's transaction; a delivery job is queued once it commits."""
    if not messages:
        return
    rows = [
        {
            "id": new_id(),
            "channel": channel,
            "org_id": message.org_id,
            "key": message.key,
            "payload": message.payload,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "deliver_after": now,
        }
        for message in messages
    ]
    # Core, not the ORM's bulk insert: a statement on the answer path, where the ORM's
    # bookkeeping cost more than the row.
    session.connection().execute(_OUTBOX_INSERT, rows)
    _kick_after_commit(session, channel)


def insert_when(channel: str, only_if: Any) -> Any:
    """The INSERT of one message of `channel`, made only when `only_if` holds. Its parameters
    are named `outbox_*` (`message_params`), so it can ride in the caller's own statement as a
    CTE on PostgreSQL: the message goes in with the change it reports, in the same round trip.
    The caller then calls `written`."""
    if not channel.isidentifier():  # written into the SQL: a name of the code's, never input
        raise ValueError(f"not a channel name: {channel!r}")
    columns = OutboxMessage.__table__.c
    values = {
        "id": bindparam("outbox_id", type_=columns.id.type),
        "channel": literal_column(f"'{channel}'", columns.channel.type),
        "org_id": bindparam("outbox_org_id", type_=columns.org_id.type),
        "key": bindparam("outbox_key", type_=columns.key.type),
        # The payload comes as JSON text (`message_params`), cast by the database.
        "payload": cast(bindparam("outbox_payload", type_=Text), columns.payload.type),
        "status": literal_column("'pending'", columns.status.type),
        "attempts": literal_column("0", columns.attempts.type),
        "created_at": bindparam("outbox_now", type_=columns.created_at.type),
        "deliver_after": bindparam("outbox_now", type_=columns.deliver_after.type),
    }
    return insert(OutboxMessage).from_select(list(values), select(*values.values()).where(only_if))


def message_params(message: NewMessage, *, now: datetime) -> dict[str, Any]:
    """The parameters of `insert_when` for `message`."""
    return {
        "outbox_id": new_id(),
        "outbox_org_id": message.org_id,
        "outbox_key": message.key,
        # orjson: a tenth of the standard library's time for a statement's 1.6 kB.
        "outbox_payload": orjson.dumps(message.payload).decode(),
        "outbox_now": now,
    }


def written(session: Session, *, channel: str) -> None:
    """After a statement carrying `insert_when` wrote its message: a delivery job is queued
    once the transaction commits, as `add` does."""
    _kick_after_commit(session, channel)


def _kick_after_commit(session: Session, channel: str) -> None:
    """One kick per channel and transaction, after it commits (per savepoint: a rolled-back
    savepoint drops its own kick, and the transaction's later writes need one of their own)."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    kicked = session.info.setdefault("outbox_kicks", {})
    if kicked.get(channel) is transaction:
        return
    kicked[channel] = transaction
    from app.outbox import jobs

    def kick() -> None:
        session.info.get("outbox_kicks", {}).pop(channel, None)
        jobs.kick(channel)

    after_commit(session, kick)


def discard_pending(session: Session, *, channel: str, org_id: str, key: str | None = None) -> int:
    """Drop undelivered messages of an organisation (or of one key of it), e.g. an LRS removed."""
    stmt = delete(OutboxMessage).where(
        OutboxMessage.channel == channel,
        OutboxMessage.org_id == org_id,
        OutboxMessage.status.in_(("pending", "sending")),
    )
    if key is not None:
        stmt = stmt.where(OutboxMessage.key == key)
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


# --- delivering ---------------------------------------------------------------------------------


@dataclass
class Claimed:
    """A message one worker took: its payload as the JSON text it was stored as, so a
    sender can pass it on without parsing it (`payload` parses it when needed)."""

    id: str
    org_id: str
    key: str
    attempts: int
    body: str

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = orjson.loads(self.body)
        return value


def release_stale(session: Session, *, channel: str, now: datetime) -> int:
    """Put back messages whose worker died while sending them (their lease ran out)."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.status == "sending",
            OutboxMessage.claimed_until < now,
        )
        .values(status="pending", claim_token=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def claim(session: Session, *, channel: str, now: datetime, limit: int) -> list[Claimed]:
    """Take up to `limit` due messages of `channel`, oldest first, keeping order per key: a
    message whose key has an earlier one still undelivered elsewhere is put back until then."""
    token, rows = claim_rows(
        session,
        OutboxMessage,
        where=[OutboxMessage.channel == channel],
        order_by=[OutboxMessage.id],
        now=now,
        limit=limit,
        include_stale=False,  # `release_stale` puts those back: the claim stays on its index
        returning=[
            OutboxMessage.id,
            OutboxMessage.org_id,
            OutboxMessage.key,
            OutboxMessage.attempts,
            # The stored JSON text itself: no parsing and dumping again per message.
            cast(OutboxMessage.payload, Text),
        ],
    )
    claimed = sorted((Claimed(*row) for row in rows), key=lambda message: message.id)
    if not claimed:
        return []
    keys = sorted({m.key for m in claimed})
    blockers: dict[str, tuple[str, datetime]] = {}
    for start in range(0, len(keys), 500):
        for key, first_id, due_at in session.execute(
            select(
                OutboxMessage.key, func.min(OutboxMessage.id), func.max(OutboxMessage.deliver_after)
            )
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.key.in_(keys[start : start + 500]),
                OutboxMessage.status.in_(("pending", "sending")),
                OutboxMessage.id < claimed[-1].id,
                or_(OutboxMessage.claim_token.is_(None), OutboxMessage.claim_token != token),
            )
            .group_by(OutboxMessage.key)
        ):
            blockers[key] = (first_id, due_at)
    ready: list[Claimed] = []
    for message in claimed:
        blocker = blockers.get(message.key)
        if blocker is not None and blocker[0] < message.id:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message.id)
                .values(
                    status="pending",
                    claim_token=None,
                    claimed_until=None,
                    deliver_after=max(blocker[1], now + BEHIND_SENDING),
                )
                .execution_options(synchronize_session=False)
            )
        else:
            ready.append(message)
    return ready


@dataclass(frozen=True)
class Outcome:
    """What the far side did with one message: `sent`, `retry` (try again later) or `failed`
    (refused: parked with its answer)."""

    kind: str
    error: str | None = None


SENT = Outcome("sent")


@dataclass
class Report:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    next_retry_at: datetime | None = None


def record(
    session: Session,
    *,
    channel: str,
    messages: Sequence[Claimed],
    outcomes: Sequence[Outcome],
    now: datetime,
    max_retry_seconds: int = rules.RETRY_MAX_SECONDS,
) -> Report:
    """Delete what was delivered (counted per organisation), schedule retries, park refusals.

    A refused message behind a retried one of its key is retried with it rather than parked
    (its refusal may come from the missing earlier one), so order per key survives.
    """
    report = Report()
    sent_ids: list[str] = []
    sent_per_org: dict[str, int] = {}
    errors_per_org: dict[str, str] = {}
    held_keys: dict[str, datetime] = {}
    for message, outcome in zip(messages, outcomes, strict=True):
        if outcome.kind == "sent":
            sent_ids.append(message.id)
            sent_per_org[message.org_id] = sent_per_org.get(message.org_id, 0) + 1
            report.sent += 1
            continue
        error = (outcome.error or outcome.kind)[:1000]
        errors_per_org[message.org_id] = error
        values: dict[str, Any] = {
            "attempts": message.attempts + 1,
            "claim_token": None,
            "claimed_until": None,
            "last_error": error,
        }
        if outcome.kind == "retry" or message.key in held_keys:
            retry_at = now + rules.retry_delay(message.attempts + 1, cap=max_retry_seconds)
            retry_at = max(retry_at, held_keys.get(message.key, retry_at))
            held_keys[message.key] = retry_at
            values.update(status="pending", deliver_after=retry_at)
            report.retrying += 1
            if report.next_retry_at is None or retry_at < report.next_retry_at:
                report.next_retry_at = retry_at
        else:
            values.update(status="failed")
            report.failed += 1
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    for start in range(0, len(sent_ids), 500):
        session.execute(
            delete(OutboxMessage)
            .where(OutboxMessage.id.in_(sent_ids[start : start + 500]))
            .execution_options(synchronize_session=False)
        )
    _count(session, channel, sent_per_org, errors_per_org, now)
    return report


def _count(
    session: Session,
    channel: str,
    sent: dict[str, int],
    errors: dict[str, str],
    now: datetime,
) -> None:
    insert = insert_for(session.get_bind().dialect.name)
    for org_id in sorted(set(sent) | set(errors)):
        values: dict[str, Any] = {}
        if org_id in sent:
            values.update(delivered=OutboxStats.delivered + sent[org_id], last_delivered_at=now)
        if org_id in errors:
            values.update(last_error=errors[org_id], last_error_at=now)
        stmt = insert(OutboxStats).values(
            org_id=org_id,
            channel=channel,
            delivered=sent.get(org_id, 0),
            last_delivered_at=now if org_id in sent else None,
            last_error=errors.get(org_id),
            last_error_at=now if org_id in errors else None,
        )
        session.execute(
            stmt.on_conflict_do_update(index_elements=["org_id", "channel"], set_=values)
        )


def has_due(session: Session, *, channel: str, now: datetime) -> bool:
    """Whether a message of `channel` waits to be sent now (the sweeper's cheap check)."""
    return (
        session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.channel == channel,
                or_(
                    OutboxMessage.status == "pending",
                    and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now),
                ),
                OutboxMessage.deliver_after <= now,
            )
            .limit(1)
        )
        is not None
    )


@dataclass(frozen=True)
class Counters:
    pending: int
    delivered: int
    failed: int
    last_error: str | None
    last_delivered_at: datetime | None


def counters(session: Session, *, channel: str, org_id: str) -> Counters:
    """Pending, delivered and failed messages of an organisation, with the last error."""
    by_status = dict(
        session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.org_id == org_id, OutboxMessage.channel == channel)
            .group_by(OutboxMessage.status)
        ).all()
    )
    stats = session.get(OutboxStats, (org_id, channel))
    return Counters(
        pending=int(by_status.get("pending", 0)) + int(by_status.get("sending", 0)),
        delivered=stats.delivered if stats else 0,
        failed=int(by_status.get("failed", 0)),
        last_error=stats.last_error if stats else None,
        last_delivered_at=stats.last_delivered_at if stats else None,
    )


def failed_messages(
    session: Session, *, channel: str, org_id: str, limit: int = 20
) -> list[OutboxMessage]:
    """The newest parked messages of an organisation, with what the far side answered."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.org_id == org_id,
                OutboxMessage.channel == channel,
                OutboxMessage.status == "failed",
            )
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )

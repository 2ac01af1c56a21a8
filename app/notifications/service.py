"""Devices, preferences, the outbox (`notify`), delivery bookkeeping, nudges and the inbox."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.db import after_commit, insert_for, new_id
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.insights import service as insights
from app.languages import in_language
from app.notifications import rules
from app.notifications.messages import TYPES, render
from app.notifications.models import Device, Notification, NotificationOptOut
from app.notifications.push import PushMessage, SendResult
from app.orgs import service as orgs
from app.orgs.models import Organization, User
from app.outbox.service import claim_rows
from app.pagination import Page, paginate

CHUNK = 500  # rows per bulk statement, and pushes per FCM batch
CLAIM_LEASE = timedelta(minutes=5)
DEFAULT_QUIET_HOURS = ("22:00", "07:00")  # when neither the user nor the organisation set any

DateFor = datetime | Callable[[ZoneInfo], datetime] | None


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- devices --------------------------------------------------------------------------------


def register_device(
    session: Session,
    *,
    user: User,
    installation_id: str,
    token: str,
    platform: str,
    app_version: str | None,
    now: datetime,
) -> tuple[Device, bool]:
    """Register (or refresh) an installation's token, within the user's organisation.

    A token is an app install's address, so it may sit on one installation per organisation:
    - another installation of mine holding it (the app was reinstalled) is removed;
    - another person's installation holding it is removed only when it is the same
      installation id too (a shared store phone, now signed in as me): the same physical
      install proves itself by both. Otherwise the token is that person's: 409, and nothing
      of theirs changes (knowing someone's installation id or token is not enough to stop
      their pushes);
    - another person's installation with the same id but another token is a different
      phone, and is never touched. Other organisations' devices are never touched.
    """
    if not 1 <= len(installation_id) <= 128:
        raise Unprocessable(
            "The installation id is too long.",
            errors={"installation_id": ["At most 128 characters."]},
        )
    holders = session.scalars(
        select(Device).where(
            Device.org_id == user.org_id,
            Device.token == token,
            or_(Device.user_id != user.id, Device.installation_id != installation_id),
        )
    ).all()
    if any(d.user_id != user.id and d.installation_id != installation_id for d in holders):
        raise Conflict(
            "This push token is registered to another installation. Ask the push service "
            "for a new token and register that.",
            errors={"token": ["Registered to another installation."]},
        )
    for holder in holders:  # mine elsewhere, or this same installation under another login
        session.delete(holder)
    session.flush()
    device = session.scalar(
        select(Device).where(Device.user_id == user.id, Device.installation_id == installation_id)
    )
    created = device is None
    if device is None:
        device = Device(
            org_id=user.org_id, user_id=user.id, installation_id=installation_id, created_at=now
        )
        session.add(device)
    device.token = token
    device.platform = platform
    device.app_version = app_version
    device.last_seen_at = now
    session.flush()
    return device, created


def remove_device(session: Session, *, user: User, installation_id: str) -> None:
    """Forget an installation of mine (logging out of the app); absent is fine."""
    session.execute(
        delete(Device).where(Device.user_id == user.id, Device.installation_id == installation_id)
    )


def prune_devices(session: Session, *, now: datetime, unused_days: int) -> int:
    """Delete devices not registered again for `unused_days` (FCM drops such tokens anyway)."""
    result = session.execute(
        delete(Device).where(Device.last_seen_at < now - timedelta(days=unused_days))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- preferences ----------------------------------------------------------------------------


def preferences(session: Session, *, user: User, locale: str | None = None) -> dict[str, Any]:
    """Which notification types I get pushed (described in `locale`, else my language), with
    my language and quiet hours."""
    opted_out = set(
        session.scalars(
            select(NotificationOptOut.type).where(NotificationOptOut.user_id == user.id)
        )
    )
    start, end = _quiet_hours(user, user.organization)
    return {
        "types": [
            {
                "type": kind.name,
                "enabled": kind.name not in opted_out,
                "description": in_language(
                    kind.description, locale or user.locale or user.organization.default_locale
                ),
            }
            for kind in TYPES.values()
        ],
        "locale": user.locale or user.organization.default_locale,
        "timezone": user.timezone or user.organization.timezone,
        "quiet_hours": {"start": start, "end": end} if start and end else None,
        "daily_cap": rules.daily_cap(user.organization.settings),
    }


def update_preferences(session: Session, *, user: User, types: dict[str, bool]) -> None:
    """Turn pushes of some types on or off."""
    unknown = sorted(set(types) - set(TYPES))
    if unknown:
        raise Unprocessable(
            "Unknown notification types.",
            errors={"types": [f"Unknown type: {name}" for name in unknown]},
        )
    off = [name for name, enabled in types.items() if not enabled]
    session.execute(
        delete(NotificationOptOut).where(
            NotificationOptOut.user_id == user.id, NotificationOptOut.type.in_(list(types))
        )
    )
    session.add_all(NotificationOptOut(user_id=user.id, type=name) for name in off)
    session.flush()


def _quiet_hours(user: Any, org: Any) -> tuple[str | None, str | None]:
    if user.quiet_hours_start and user.quiet_hours_end:
        return user.quiet_hours_start, user.quiet_hours_end
    default = ((org.settings or {}).get("notifications") or {}).get("quiet_hours")
    if isinstance(default, dict):
        return default.get("start"), default.get("end")
    return DEFAULT_QUIET_HOURS


def _quiet_times(user: Any, org: Any) -> tuple[time | None, time | None]:
    start, end = _quiet_hours(user, org)
    if not start or not end:
        return None, None
    return rules.parse_hhmm(start), rules.parse_hhmm(end)


# --- the outbox -------------------------------------------------------------------------------


@dataclass
class NotifyResult:
    created: list[str] = field(default_factory=list)  # notification ids, pushed or inbox-only
    skipped: dict[str, str] = field(default_factory=dict)  # user id -> why nothing was written


def notify(
    session: Session,
    *,
    user_ids: Iterable[str],
    type: str,
    now: datetime,
    data: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    per_user_params: dict[str, dict[str, Any]] | None = None,
    dedupe_key: str | None = None,
    not_before: DateFor = None,
    expires_at: DateFor = None,
    urgent: bool = False,
) -> NotifyResult:
    """Write notifications in the caller's transaction; delivery is queued after it commits.

    `dedupe_key` may contain `{local_date}` (the user's date today): a key already used for a
    user writes nothing for them, which makes scheduled jobs safe to run twice.
    """
    kind = TYPES[type]
    data = {key: value for key, value in (data or {}).items() if value is not None}
    result = NotifyResult()
    ids = list(dict.fromkeys(user_ids))
    pending_at: list[datetime] = []
    for chunk in _chunks(ids):
        users = session.execute(
            select(User, Organization)
            .join(Organization, Organization.id == User.org_id)
            .where(User.id.in_(chunk))
        ).all()
        found = {user.id for user, _ in users}
        result.skipped.update(
            {user_id: "unknown_user" for user_id in chunk if user_id not in found}
        )
        opted_out = set(
            session.scalars(
                select(NotificationOptOut.user_id).where(
                    NotificationOptOut.user_id.in_(chunk), NotificationOptOut.type == type
                )
            )
        )
        rows: list[dict[str, Any]] = []
        for user, org in users:
            if not user.active:
                result.skipped[user.id] = "inactive"
                continue
            tz = ZoneInfo(user.timezone or org.timezone)
            start = max(now, _resolve(not_before, tz) or now)
            quiet_start, quiet_end = _quiet_times(user, org)
            deliver_at = rules.next_allowed(start, tz, quiet_start, quiet_end)
            expiry = _resolve(expires_at, tz) or start + kind.lifetime
            status, reason = "pending", None
            if user.id in opted_out:
                status, reason = "skipped", "opted_out"
            elif deliver_at >= expiry:
                status, reason = "skipped", "quiet_hours"
            locale, title, body = render(
                type,
                user.locale or org.default_locale,
                {**(params or {}), **(per_user_params or {}).get(user.id, {})},
            )
            rows.append(
                {
                    "id": new_id(),
                    "org_id": user.org_id,
                    "user_id": user.id,
                    "type": type,
                    "title": title,
                    "body": body,
                    "data": data,
                    "locale": locale,
                    "urgent": urgent,
                    "dedupe_key": dedupe_key.format(local_date=rules.local_day(now, tz).isoformat())
                    if dedupe_key
                    else None,
                    "created_at": now,
                    "visible_at": start,
                    "deliver_after": deliver_at if status == "pending" else now,
                    "expires_at": expiry,
                    "status": status,
                    "skip_reason": reason,
                    "attempts": 0,
                    "devices_sent": 0,
                }
            )
        inserted = _insert_new(session, rows)
        for row in rows:
            if row["id"] not in inserted:
                result.skipped[row["user_id"]] = "duplicate"
                continue
            result.created.append(row["id"])
            if row["status"] == "pending":
                pending_at.append(row["deliver_after"])
    if pending_at:
        _queue_delivery_after_commit(session, pending_at)
    return result


def _resolve(value: DateFor, tz: ZoneInfo) -> datetime | None:
    return value(tz) if callable(value) else value


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Bulk insert; rows whose (user, dedupe key) exists already are left out. Returns new ids."""
    if not rows:
        return set()
    insert = insert_for(session.get_bind().dialect.name)
    stmt = (
        insert(Notification)
        .on_conflict_do_nothing(index_elements=["user_id", "dedupe_key"])
        .returning(Notification.id)
    )
    return set(session.scalars(stmt, rows))


def _queue_delivery_after_commit(session: Session, times: list[datetime]) -> None:
    """Collect this transaction's delivery times; one enqueue runs after it commits."""
    transaction = session.get_transaction()
    state = session.info.get("notifications_due")
    if state is None or state[0] is not transaction:  # a rolled-back transaction's is stale
        due: list[datetime] = []
        session.info["notifications_due"] = (transaction, due)
        from app.notifications import jobs

        def enqueue() -> None:
            session.info.pop("notifications_due", None)
            jobs.enqueue_delivery(due)

        after_commit(session, enqueue)
    else:
        due = state[1]
    due.extend(times)


# --- delivery (used by the worker's jobs) ------------------------------------------------------


@dataclass
class Claim:
    """Notifications one worker took for sending, and the pushes to send for them."""

    token: str
    claimed: int  # rows taken, including those then skipped (cap) or put back (quiet hours)
    notifications: list[Notification]  # the ones to push now
    messages: list[tuple[str, PushMessage]]  # (notification id, push)


def claim_due(session: Session, *, now: datetime, limit: int = CHUNK) -> Claim:
    """Take up to `limit` due notifications for this worker (no other worker gets them).

    PostgreSQL skips rows another worker has locked; everywhere the conditional UPDATE only
    takes rows still pending. Caps and current quiet hours are applied here, under a lock on
    the users, so concurrent workers never push more than the daily cap.
    """
    token, _ = claim_rows(
        session,
        Notification,
        where=[Notification.expires_at > now],
        order_by=[Notification.deliver_after],
        now=now,
        limit=limit,
        lease=CLAIM_LEASE,
    )
    claimed = list(
        session.scalars(
            select(Notification)
            .where(Notification.claim_token == token)
            .order_by(Notification.user_id, Notification.urgent.desc(), Notification.id)
            .execution_options(populate_existing=True)
        )
    )
    if not claimed:
        return Claim(token, 0, [], [])
    user_ids = sorted({n.user_id for n in claimed})
    # Serialises workers per user for the cap; NO KEY UPDATE leaves inserts referencing them be.
    people = {
        user.id: (user, org)
        for user, org in session.execute(
            select(User, Organization)
            .join(Organization, Organization.id == User.org_id)
            .where(User.id.in_(user_ids))
            .order_by(User.id)
            .with_for_update(of=User, key_share=True)
        )
    }
    days = {
        user_id: rules.local_day(now, ZoneInfo(user.timezone or org.timezone)).isoformat()
        for user_id, (user, org) in people.items()
    }
    used: dict[str, int] = defaultdict(int)
    for user_id, day, count in session.execute(
        select(Notification.user_id, Notification.push_day, func.count())
        .where(
            Notification.user_id.in_(user_ids),
            Notification.status.in_(("sending", "delivered")),
            Notification.push_day.in_(set(days.values())),
            or_(Notification.claim_token.is_(None), Notification.claim_token != token),
        )
        .group_by(Notification.user_id, Notification.push_day)
    ):
        if days.get(user_id) == day:
            used[user_id] += count
    to_send: list[Notification] = []
    for notification in claimed:
        user, org = people[notification.user_id]
        tz = ZoneInfo(user.timezone or org.timezone)
        quiet_start, quiet_end = _quiet_times(user, org)
        allowed_at = rules.next_allowed(now, tz, quiet_start, quiet_end)
        if allowed_at > now:  # the user changed their quiet hours since it was written
            _release(notification, allowed_at)
        elif used[user.id] >= rules.daily_cap(org.settings):
            _skip(notification, "daily_cap")
        else:
            used[user.id] += 1
            notification.push_day = days[user.id]
            to_send.append(notification)
    session.flush()
    return Claim(token, len(claimed), to_send, _messages(session, to_send, now))


def _release(notification: Notification, at: datetime) -> None:
    if at >= notification.expires_at:
        _skip(notification, "quiet_hours")
        return
    notification.status, notification.deliver_after = "pending", at
    notification.claim_token = notification.claimed_until = None


def _skip(notification: Notification, reason: str) -> None:
    notification.status, notification.skip_reason = "skipped", reason
    notification.claim_token = notification.claimed_until = None


def _messages(
    session: Session, notifications: list[Notification], now: datetime
) -> list[tuple[str, PushMessage]]:
    devices: dict[str, list[Device]] = defaultdict(list)
    for user_ids in _chunks(sorted({n.user_id for n in notifications})):
        for device in session.scalars(select(Device).where(Device.user_id.in_(user_ids))):
            devices[device.user_id].append(device)
    messages = []
    for notification in notifications:
        payload = push_data(notification)
        ttl = int((notification.expires_at - now).total_seconds())
        for device in devices[notification.user_id]:
            messages.append(
                (
                    notification.id,
                    PushMessage(
                        token=device.token,
                        platform=device.platform,
                        title=notification.title,
                        body=notification.body,
                        data=payload,
                        collapse_key=notification.type,
                        ttl_seconds=ttl,
                        urgent=notification.urgent,
                    ),
                )
            )
    return messages


def push_data(notification: Notification) -> dict[str, str]:
    """The data payload: strings only (FCM's rule), with a deep link the app opens."""
    data = {key: str(value) for key, value in (notification.data or {}).items()}
    data.update(type=notification.type, notification_id=notification.id)
    data.setdefault("deep_link", deep_link(notification.data or {}))
    return data


def deep_link(data: dict[str, Any]) -> str:
    for key, route in (
        ("module_id", "modules"),
        ("path_id", "paths"),
        ("competition_id", "competitions"),
    ):
        if data.get(key):
            return f"nanolearn://{route}/{data[key]}"
    return "nanolearn://inbox"


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    dead_tokens: int = 0


def record_results(
    session: Session, *, claim: Claim, results: list[SendResult], now: datetime
) -> DeliveryReport:
    """Mark each claimed notification delivered, due for a retry (with backoff) or failed."""
    report = DeliveryReport()
    outcomes: dict[str, list[SendResult]] = defaultdict(list)
    for (notification_id, _), result in zip(claim.messages, results, strict=True):
        outcomes[notification_id].append(result)
    dead = sorted({r.token for r in results if r.outcome == "dead_token"})
    for tokens in _chunks(dead):
        session.execute(delete(Device).where(Device.token.in_(tokens)))
    report.dead_tokens = len(dead)
    delivered: dict[int, list[str]] = defaultdict(list)  # devices reached -> notification ids
    for notification in claim.notifications:
        mine = outcomes.get(notification.id, [])
        sent = sum(1 for r in mine if r.outcome == "sent")
        if sent:  # the common case: one bulk UPDATE per batch below, not one per row
            delivered[sent].append(notification.id)
            report.delivered += 1
            continue
        notification.claim_token = notification.claimed_until = None
        if not mine:
            notification.status, notification.skip_reason = "skipped", "no_device"
            report.skipped += 1
        elif any(r.outcome == "retry" for r in mine):
            notification.attempts += 1
            notification.last_error = next(r.error for r in mine if r.outcome == "retry")
            retry_at = now + rules.retry_delay(notification.attempts)
            if retry_at >= notification.expires_at:
                notification.status = "expired"
                report.failed += 1
            else:
                notification.status, notification.deliver_after = "pending", retry_at
                report.retrying += 1
        else:
            notification.status = "failed"
            notification.last_error = mine[-1].error
            report.failed += 1
    for sent, ids in delivered.items():
        for chunk in _chunks(ids):
            # ORM-enabled UPDATE: the claimed objects in the session get the new values too.
            session.execute(
                update(Notification)
                .where(Notification.id.in_(chunk))
                .values(
                    status="delivered",
                    delivered_at=now,
                    devices_sent=sent,
                    claim_token=None,
                    claimed_until=None,
                )
            )
    session.flush()
    return report


def expire_stale(session: Session, *, now: datetime) -> int:
    """Give up on pending pushes past their expiry (they stay in the inbox)."""
    result = session.execute(
        update(Notification)
        .where(Notification.status == "pending", Notification.expires_at <= now)
        .values(status="expired")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def has_due(session: Session, *, now: datetime) -> bool:
    """Whether any notification waits to be sent now (the sweeper's cheap check)."""
    return (
        session.scalar(
            select(Notification.id)
            .where(
                Notification.status.in_(("pending", "sending")),
                Notification.deliver_after <= now,
            )
            .limit(1)
        )
        is not None
    )


# --- time-based notifications -----------------------------------------------------------------


def notify_streaks_at_risk(session: Session, *, now: datetime) -> NotifyResult:
    """Evening reminder for everyone who learned yesterday but not yet today (local time)."""
    from app.gamification import service as gamification
    from app.gamification.models import LearningDay

    # Learning days count completions and spaced reviews alike (as the streak does).
    last_learned = (
        select(LearningDay.user_id, func.max(LearningDay.first_at).label("last"))
        .where(LearningDay.first_at >= now - timedelta(hours=50))
        .group_by(LearningDay.user_id)
        .subquery()
    )
    candidates = session.execute(
        select(User, Organization, last_learned.c.last)
        .join(last_learned, last_learned.c.user_id == User.id)
        .join(Organization, Organization.id == User.org_id)
        .where(User.active.is_(True))
    ).all()
    at_risk: list[str] = []
    streaks: dict[str, dict[str, Any]] = {}
    for user, org, last in candidates:
        tz = ZoneInfo(user.timezone or org.timezone)
        at = rules.reminder_time(org.settings, "streak_time", rules.DEFAULT_STREAK_REMINDER)
        if rules.streak_reminder_due(now, tz, at=at) and rules.streak_at_risk(last, now, tz):
            at_risk.append(user.id)
    for user_ids in _chunks(at_risk):
        for user in session.scalars(select(User).where(User.id.in_(user_ids))):
            streaks[user.id] = {"streak": gamification.streak_of(session, user, now)["current"]}
    return notify(
        session,
        user_ids=at_risk,
        type="streak_at_risk",
        now=now,
        per_user_params=streaks,
        dedupe_key="streak_at_risk:{local_date}",
        expires_at=lambda tz: rules.end_of_local_day(now, tz),
    )


def notify_group(
    session: Session,
    *,
    type: str,
    user_ids: Sequence[str],
    payload: dict[str, Any],
    key: str,
    now: datetime,
    not_before: DateFor = None,
    expires_at: DateFor = None,
) -> NotifyResult:
    """One event (a path out, a due date, a competition over) to its audience, once per key."""
    data = {k: v for k, v in payload.items() if k.endswith("_id")}
    return notify(
        session,
        user_ids=user_ids,
        type=type,
        now=now,
        data=data,
        params=payload,
        dedupe_key=f"{type}:{key}",
        not_before=not_before,
        expires_at=expires_at,
    )


# --- nudges -----------------------------------------------------------------------------------


@dataclass
class NudgeResult:
    queued: list[str]
    skipped: list[dict[str, str]]
    # Who it was sent to, named, so the manager sees more than ids.
    recipients: list[dict[str, str]] = field(default_factory=list)


def send_nudge(
    session: Session,
    *,
    sender: User,
    message: str,
    now: datetime,
    user_ids: list[str] | None = None,
    department_id: str | None = None,
    only_follow_up: bool = False,
) -> NudgeResult:
    """A manager's nudge to members of departments they act for; one per learner per day.
    `only_follow_up` keeps those the insights say need follow-up this week."""
    allowed = orgs.managed_department_ids(session, sender)
    recipients: list[str] = []
    if department_id:
        department = orgs.get_department(session, sender.org_id, department_id)
        if department.id not in allowed:
            raise Forbidden("You do not manage this department.")
        subtree = orgs.department_subtree_ids(session, sender.org_id, [department.id])
        recipients += list(
            session.scalars(
                select(User.id)
                .where(User.department_id.in_(subtree), User.active.is_(True))
                .order_by(User.id)
            )
        )
    for user_id in user_ids or []:
        user = orgs.get_user(session, sender.org_id, user_id)
        if not sender.has_role("admin") and user.department_id not in allowed:
            raise Forbidden("You may only nudge people in departments you manage.")
        recipients.append(user.id)
    recipients = [user_id for user_id in dict.fromkeys(recipients) if user_id != sender.id]
    if only_follow_up:
        needing = set(
            insights.needing_follow_up(session, viewer=sender, user_ids=recipients, now=now)
        )
        recipients = [user_id for user_id in recipients if user_id in needing]
    result = notify(
        session,
        user_ids=recipients,
        type="nudge",
        now=now,
        data={"sender_id": sender.id},
        params={"sender": sender.display_name, "message": message},
        dedupe_key="nudge:{local_date}",
    )
    reasons = {"duplicate": "already_nudged_today", "inactive": "inactive"}
    queued = [u for u in recipients if u not in result.skipped]
    names: dict[str, str] = {}
    if queued:
        rows = session.execute(select(User.id, User.display_name).where(User.id.in_(queued)))
        names = {user_id: name for user_id, name in rows}
    return NudgeResult(
        recipients=[{"id": user_id, "display_name": names[user_id]} for user_id in queued],
        queued=queued,
        skipped=[
            {"user_id": user_id, "reason": reasons.get(why, why)}
            for user_id, why in result.skipped.items()
        ],
    )


# --- the inbox --------------------------------------------------------------------------------


def inbox(
    session: Session, *, user: User, unread: bool, limit: int, cursor: str | None, now: datetime
) -> Page[Notification]:
    """My notifications, newest first: every one, pushed or not, once it is due."""
    stmt = select(Notification).where(
        Notification.user_id == user.id, Notification.visible_at <= now
    )
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    return paginate(
        session, stmt, key=Notification.id, limit=limit, cursor=cursor, newest_first=True
    )


def mark_read(session: Session, *, user: User, notification_id: str, now: datetime) -> None:
    """Mark one of my notifications read (another user's is 404)."""
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NotFound("No such notification.")
    if notification.read_at is None:
        notification.read_at = now
    session.flush()

"""The real FcmPushSender (firebase-admin) against a fake FCM endpoint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from firebase_admin import messaging
from urllib3.util.retry import Retry

from app import clock
from app.notifications import jobs, service
from app.notifications.models import Device, Notification
from app.notifications.push import FcmPushSender, PushMessage
from tests.notifications.fake_fcm import FakeFcm


@pytest.fixture
def fcm(fake_fcm: FakeFcm) -> Any:
    # No transport-level retries: the outbox retries with its own backoff.
    sender = FcmPushSender(
        fake_fcm.service_account(), endpoint=fake_fcm.url, http_retries=Retry(total=0)
    )
    yield sender
    sender.close()


def message(token: str, **changes: Any) -> PushMessage:
    values: dict[str, Any] = {
        "token": token,
        "platform": "android",
        "title": "Ukens læringssti er klar",
        "body": "Kjølekjeden – ta første modul i en pause.",
        "data": {"type": "path_start", "path_id": "P1", "deep_link": "nanolearn://paths/P1"},
        "collapse_key": "path_start",
        "ttl_seconds": 3600,
        "urgent": False,
    }
    values.update(changes)
    return PushMessage(**values)


def test_request_body_has_localised_text_deep_link_collapse_key_ttl_and_apns_headers(
    fcm: FcmPushSender, fake_fcm: FakeFcm
) -> None:
    results = fcm.send([message("tok-1")])

    assert [r.outcome for r in results] == ["sent"]
    assert results[0].message_id == "projects/nanolearn-test/messages/1"
    assert fake_fcm.token_requests == 1  # OAuth token fetched from the faked token endpoint
    assert fake_fcm.headers[0]["authorization"] == "Bearer fake-access"
    sent = fake_fcm.messages[0]
    assert sent["token"] == "tok-1"
    assert sent["notification"] == {
        "title": "Ukens læringssti er klar",
        "body": "Kjølekjeden – ta første modul i en pause.",
    }
    assert sent["data"] == {
        "type": "path_start",
        "path_id": "P1",
        "deep_link": "nanolearn://paths/P1",
    }
    assert sent["android"] == {"collapse_key": "path_start", "priority": "normal", "ttl": "3600s"}
    headers = sent["apns"]["headers"]
    assert headers["apns-collapse-id"] == "path_start"
    assert headers["apns-priority"] == "5"
    assert headers["apns-push-type"] == "alert"
    assert int(headers["apns-expiration"]) > 0
    assert sent["webpush"]["headers"]["TTL"] == "3600"


def test_urgent_messages_get_high_priority(fcm: FcmPushSender, fake_fcm: FakeFcm) -> None:
    fcm.send([message("tok-1", urgent=True)])

    sent = fake_fcm.messages[0]
    assert sent["android"]["priority"] == "high"
    assert sent["apns"]["headers"]["apns-priority"] == "10"


def test_sends_in_batches_of_at_most_500(
    fcm: FcmPushSender, fake_fcm: FakeFcm, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_sizes: list[int] = []
    real_send_each = messaging.send_each

    def spy(messages: list[Any], *args: Any, **kwargs: Any) -> Any:
        batch_sizes.append(len(messages))
        return real_send_each(messages, *args, **kwargs)

    monkeypatch.setattr(messaging, "send_each", spy)

    results = fcm.send([message(f"tok-{n}") for n in range(501)])

    assert batch_sizes == [500, 1]
    assert len(fake_fcm.messages) == 501
    assert {m["token"] for m in fake_fcm.messages} == {f"tok-{n}" for n in range(501)}
    assert [r.token for r in results] == [f"tok-{n}" for n in range(501)]  # order kept
    assert all(r.outcome == "sent" for r in results)


@pytest.mark.parametrize(
    ("token", "outcome", "code"),
    [
        ("dead-1", "dead_token", "UNREGISTERED"),
        ("mismatch-1", "dead_token", "SENDER_ID_MISMATCH"),
        ("bad-1", "dead_token", "INVALID_ARGUMENT"),
        ("busy-1", "retry", "UNAVAILABLE"),
        ("quota-1", "retry", "QUOTA_EXCEEDED"),
        ("oops-1", "retry", "INTERNAL"),
    ],
)
def test_classifies_fcm_errors(fcm: FcmPushSender, token: str, outcome: str, code: str) -> None:
    [result] = fcm.send([message(token)])

    assert (result.outcome, result.error) == (outcome, code)


def test_pipeline_prunes_dead_tokens_and_retries_unavailable_with_backoff(
    session: Any,
    learner: Any,
    colleague: Any,
    fcm: FcmPushSender,
    fake_fcm: FakeFcm,
    frozen_clock: Any,
) -> None:
    now = clock.now()
    for user, installation, token in [
        (learner, "learner-phone", "tok-ok"),
        (learner, "old-tablet", "dead-tablet"),
        (colleague, "colleague-phone", "busy-colleague"),
    ]:
        service.register_device(
            session,
            user=user,
            installation_id=installation,
            token=token,
            platform="android",
            app_version=None,
            now=now,
        )
    user_ids = [learner.id, colleague.id]
    service.notify(
        session,
        user_ids=user_ids,
        type="nudge",
        now=now,
        params={"sender": "Mona", "message": "Husk kjølekjeden!"},
    )

    report = jobs.deliver_batch(session, sender=fcm, now=now)

    assert report is not None
    assert (report.delivered, report.retrying, report.dead_tokens) == (1, 1, 1)
    tokens = set(session.scalars(Device.__table__.select().with_only_columns(Device.token)))
    assert tokens == {"tok-ok", "busy-colleague"}  # the dead one is gone
    mine = session.query(Notification).filter_by(user_id=learner.id).one()
    theirs = session.query(Notification).filter_by(user_id=colleague.id).one()
    assert (mine.status, mine.devices_sent) == ("delivered", 1)
    assert (theirs.status, theirs.attempts, theirs.last_error) == ("pending", 1, "UNAVAILABLE")
    assert theirs.deliver_after == now + timedelta(seconds=30)

    # Not due yet: nothing is sent again before the backoff has passed.
    assert jobs.deliver_batch(session, sender=fcm, now=now + timedelta(seconds=10)) is None

    # FCM recovers (the colleague's app got a fresh token) and the retry goes through.
    service.register_device(
        session,
        user=colleague,
        installation_id="colleague-phone",
        token="tok-colleague",
        platform="ios",
        app_version="2.1",
        now=now,
    )
    report = jobs.deliver_batch(session, sender=fcm, now=now + timedelta(seconds=31))
    assert report is not None and report.delivered == 1
    session.refresh(theirs)
    assert theirs.status == "delivered"
    assert [m["token"] for m in fake_fcm.messages].count("tok-ok") == 1  # never sent twice


def test_whole_outage_is_retried_until_the_push_expires(
    session: Any, learner: Any, fcm: FcmPushSender, fake_fcm: FakeFcm, frozen_clock: Any
) -> None:
    now = clock.now()
    service.register_device(
        session,
        user=learner,
        installation_id="p",
        token="tok-1",
        platform="android",
        app_version=None,
        now=now,
    )
    service.notify(
        session,
        user_ids=[learner.id],
        type="nudge",
        now=now,
        params={"sender": "Mona", "message": "Hei"},
    )
    fake_fcm.down = True
    moment = now
    statuses = []
    for _ in range(80):
        jobs.deliver_batch(session, sender=fcm, now=moment)
        row = session.query(Notification).filter_by(user_id=learner.id).one()
        statuses.append(row.status)
        if row.status != "pending":
            break
        moment = row.deliver_after
    assert statuses[-1] == "expired"
    assert row.expires_at == now + timedelta(days=1)
    assert row.attempts > 10  # backoff grows to an hour, so about 25 tries in a day
    assert len(fake_fcm.messages) == row.attempts  # one request per try, none lost or doubled
    # Once expired nothing is claimed again (it stays in the inbox).
    assert jobs.deliver_batch(session, sender=fcm, now=moment) is None

"""Two workers on their own database connections never send the same notification twice.

The rows are committed for real (a worker cannot see the test's rolled-back transaction) and
removed afterwards.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app import clock
from app.notifications import jobs, service
from app.notifications.models import Notification
from app.notifications.push import FakePushSender, PushMessage, SendResult
from app.orgs.models import Organization
from tests import factories

USERS = 30
PER_USER = 4
CAP = 3


@pytest.fixture
def committed_outbox(engine: Engine, frozen_clock: Any) -> Iterator[str]:
    with Session(engine) as session:
        org = factories.make_org(session, slug="workers", name="Workers AS")
        org.settings = {"notifications": {"daily_cap": CAP}}
        users = [factories.make_user(session, org, f"w{n}") for n in range(USERS)]
        for user in users:
            service.register_device(
                session,
                user=user,
                installation_id=f"i-{user.username}",
                token=f"tok-{user.username}",
                platform="android",
                app_version=None,
                now=clock.now(),
            )
        for n in range(PER_USER):
            service.notify(
                session,
                user_ids=[u.id for u in users],
                type="nudge",
                now=clock.now(),
                params={"sender": "Mona", "message": f"n{n}"},
            )
        session.commit()
        org_id = org.id
    yield org_id
    with Session(engine) as session:
        session.execute(delete(Organization).where(Organization.id == org_id))  # cascades
        session.commit()


class RendezvousSender(FakePushSender):
    """Holds each worker's first batch until both workers have claimed one."""

    def __init__(self) -> None:
        super().__init__()
        self.barrier = threading.Barrier(2, timeout=20)
        self.first = threading.local()

    def send(self, messages: Sequence[PushMessage]) -> list[SendResult]:
        if not getattr(self.first, "done", False):
            self.first.done = True
            self.barrier.wait()  # both workers now hold a claim at the same time
        return super().send(messages)


def test_two_workers_never_send_twice_and_respect_the_cap(
    engine: Engine, committed_outbox: str
) -> None:
    sender = RendezvousSender()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            # Like the app's session: objects stay loaded after a commit.
            with Session(engine, expire_on_commit=False) as session:
                while jobs.deliver_batch(session, sender=sender, now=clock.now(), batch_size=9):
                    pass
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    sent = Counter(m.data["notification_id"] for m in sender.sent)
    assert sent and max(sent.values()) == 1  # no notification pushed twice
    per_user = Counter(m.token for m in sender.sent)
    assert set(per_user.values()) == {CAP}  # never more than the daily cap
    assert len(per_user) == USERS
    with Session(engine) as session:
        statuses = Counter(
            session.scalars(
                select(Notification.status).where(Notification.org_id == committed_outbox)
            )
        )
    assert statuses == {"delivered": USERS * CAP, "skipped": USERS * (PER_USER - CAP)}

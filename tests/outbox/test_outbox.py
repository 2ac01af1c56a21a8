"""The shared outbox: written with the change, one job queued after commit, delivered in order
per key by a real RQ worker, retried with backoff, refusals parked without blocking others."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from rq import Queue
from sqlalchemy import select

from app import clock
from app.outbox import jobs, service
from app.outbox.models import OutboxMessage

CHANNEL = "test"


class FakeFarSide:
    """Records what it was sent; answers from a script of outcomes by payload `n`."""

    def __init__(self) -> None:
        self.received: list[tuple[str, int]] = []
        self.answers: dict[int, service.Outcome] = {}
        self.down = False

    def send(
        self, _session: Any, messages: Sequence[service.Claimed], _now: datetime
    ) -> list[service.Outcome]:
        outcomes = []
        for message in messages:
            n = message.payload["n"]
            if self.down:
                outcomes.append(service.Outcome("retry", "503 down"))
                continue
            outcome = self.answers.get(n, service.SENT)
            if outcome.kind == "sent":
                self.received.append((message.key, n))
            outcomes.append(outcome)
        return outcomes


@pytest.fixture
def far_side() -> Iterator[FakeFarSide]:
    fake = FakeFarSide()
    jobs.register(jobs.Channel(CHANNEL, fake.send, batch_size=lambda: 3))
    yield fake
    jobs.CHANNELS.pop(CHANNEL, None)


def write(session: Any, org: Any, key: str, *numbers: int) -> None:
    service.add(
        session,
        channel=CHANNEL,
        messages=[service.NewMessage(org.id, key, {"n": n}) for n in numbers],
        now=clock.now(),
    )


def test_written_with_the_change_and_one_job_queued_after_commit(
    session: Any, org: Any, redis_client: Any, far_side: FakeFarSide, frozen_clock: Any
) -> None:
    session.commit()
    queue = Queue("default", connection=redis_client)

    write(session, org, "a", 1)
    session.rollback()
    assert queue.count == 0
    assert session.scalars(select(OutboxMessage)).all() == []

    write(session, org, "a", 1, 2)
    write(session, org, "b", 3)
    session.commit()
    write(session, org, "a", 4)
    session.commit()  # a job is queued already: no second one

    assert [job.func_name for job in queue.jobs] == ["app.outbox.jobs.deliver_due"]
    queue.jobs[0].perform()  # as a worker runs it

    assert far_side.received == [("a", 1), ("a", 2), ("b", 3), ("a", 4)]
    assert session.scalars(select(OutboxMessage)).all() == []  # delivered rows are gone
    counters = service.counters(session, channel=CHANNEL, org_id=org.id)
    assert (counters.pending, counters.delivered, counters.failed) == (0, 4, 0)
    assert counters.last_delivered_at == frozen_clock.current


def test_far_side_down_retries_with_backoff_and_keeps_order(
    session: Any, org: Any, far_side: FakeFarSide, frozen_clock: Any
) -> None:
    write(session, org, "a", 1, 2)
    session.commit()
    far_side.down = True
    assert jobs.deliver_due(CHANNEL) == 0
    write(session, org, "a", 5)  # written while the first two wait for their retry
    session.commit()

    assert jobs.deliver_due(CHANNEL) == 0  # 5 must not overtake 1 and 2
    assert far_side.received == []
    counters = service.counters(session, channel=CHANNEL, org_id=org.id)
    assert counters.pending == 3
    assert counters.last_error == "503 down"

    far_side.down = False
    frozen_clock.advance(seconds=29)
    assert jobs.deliver_due(CHANNEL) == 0  # the backoff is 30 s
    frozen_clock.advance(seconds=1)
    assert jobs.deliver_due(CHANNEL) == 3  # 5 was put back until its elders were due
    assert far_side.received == [("a", 1), ("a", 2), ("a", 5)]


def test_backoff_grows_and_nothing_is_lost_after_a_day_down(
    session: Any, org: Any, far_side: FakeFarSide, frozen_clock: Any
) -> None:
    write(session, org, "a", 1)
    session.commit()
    far_side.down = True
    waits = []
    for _ in range(8):
        jobs.deliver_due(CHANNEL)
        session.expire_all()  # the jobs write with Core statements
        message = session.scalars(select(OutboxMessage)).one()
        waits.append(message.deliver_after - frozen_clock.current)
        frozen_clock.set(message.deliver_after)
    assert waits[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert waits[-1] == timedelta(hours=1)
    frozen_clock.advance(days=1)
    far_side.down = False
    assert jobs.deliver_due(CHANNEL) == 1
    assert far_side.received == [("a", 1)]


def test_a_refused_message_is_parked_and_blocks_nothing(
    session: Any, org: Any, far_side: FakeFarSide, frozen_clock: Any
) -> None:
    far_side.answers[2] = service.Outcome("failed", '400 {"detail": "bad statement"}')
    write(session, org, "a", 1, 2, 3, 4)
    session.commit()

    assert jobs.deliver_due(CHANNEL) == 3
    assert far_side.received == [("a", 1), ("a", 3), ("a", 4)]
    parked = service.failed_messages(session, channel=CHANNEL, org_id=org.id)
    assert [(m.payload["n"], m.last_error) for m in parked] == [
        (2, '400 {"detail": "bad statement"}')
    ]
    counters = service.counters(session, channel=CHANNEL, org_id=org.id)
    assert (counters.pending, counters.delivered, counters.failed) == (0, 3, 1)


def test_a_message_behind_an_earlier_one_of_its_key_waits_for_it(
    session: Any, org: Any, far_side: FakeFarSide, frozen_clock: Any
) -> None:
    write(session, org, "a", 1)
    write(session, org, "b", 2)
    session.commit()
    first = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
    first.deliver_after = frozen_clock.current + timedelta(minutes=10)  # a retry of "a" waits
    write(session, org, "a", 3)
    session.commit()

    assert jobs.deliver_due(CHANNEL) == 1
    assert far_side.received == [("b", 2)]
    frozen_clock.advance(minutes=10)
    assert jobs.deliver_due(CHANNEL) == 2
    assert far_side.received == [("b", 2), ("a", 1), ("a", 3)]


def test_the_sweeper_delivers_what_a_lost_enqueue_left_behind(
    session: Any, org: Any, redis_client: Any, far_side: FakeFarSide, frozen_clock: Any
) -> None:
    write(session, org, "a", 1)
    session.commit()
    Queue("default", connection=redis_client).empty()  # the job was lost

    assert jobs.sweep_channels() == 1
    assert far_side.received == [("a", 1)]


def test_push_retries_keep_their_own_schedule() -> None:
    from app.notifications import rules

    assert rules.retry_delay(1) == timedelta(seconds=30)
    assert rules.retry_delay(40) == timedelta(hours=1)


def test_commits_just_after_seeing_the_flag_ask_redis_nothing(
    session: Any, org: Any, redis_client: Any, far_side: FakeFarSide, frozen_clock: Any
) -> None:
    session.commit()
    queue = Queue("default", connection=redis_client)
    write(session, org, "a", 1)
    session.commit()
    assert queue.count == 1
    redis_client.delete(jobs._flag(CHANNEL))  # as the job does when it starts

    write(session, org, "a", 2)
    session.commit()  # within the quiet time: the running job takes it, no second job
    assert queue.count == 1
    assert redis_client.get(jobs._flag(CHANNEL)) is None

    jobs._flag_seen_at[CHANNEL] -= jobs.KICK_QUIET_SECONDS  # the quiet time is over
    write(session, org, "a", 3)
    session.commit()
    assert queue.count == 2
    assert redis_client.get(jobs._flag(CHANNEL)) is not None


def test_the_job_looks_again_until_the_quiet_time_after_clearing_the_flag(
    session: Any,
    org: Any,
    redis_client: Any,
    far_side: FakeFarSide,
    frozen_clock: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session.commit()
    queue = Queue("default", connection=redis_client)
    write(session, org, "a", 1)
    session.commit()
    waits: list[float] = []
    sleep = time.sleep

    def meanwhile(seconds: float) -> None:
        # Another commit of a process that saw the flag a moment ago: it queues no job.
        waits.append(seconds)
        if len(waits) == 1:
            jobs._flag_seen_at[CHANNEL] = time.monotonic()  # saw it just before it was cleared
            write(session, org, "a", 2)
            session.commit()
        sleep(seconds)

    monkeypatch.setattr(jobs.time, "sleep", meanwhile)
    queue.jobs[0].perform()

    assert far_side.received == [("a", 1), ("a", 2)]  # the same job took the late one
    assert queue.count == 1
    assert len(waits) == 1 and 0 < waits[0] <= jobs.KICK_QUIET_SECONDS
    assert session.scalars(select(OutboxMessage)).all() == []

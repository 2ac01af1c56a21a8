"""A reader of a whole board (the per-member ranking) gets its entries only when the board
changed since the tag it holds: every update, rebuild or loss of the board changes the tag."""

from __future__ import annotations

from datetime import UTC, datetime

from app.leaderboards import rules, store

ORG = "01TESTORGWHOLEBOARD0000000"
NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)
WEEK = rules.period_at("week", NOW, "Europe/Oslo")


def read(client, held=None) -> store.WholeBoard:
    return store.read_whole_board(
        client, org_id=ORG, board="depts", window="week", period=WEEK.key, held=held, held_for=60
    )


def read_top(client, org_id: str, me: str | None = None) -> store.BoardRead:
    return store.read_board(
        client,
        org_id=org_id,
        board="depts",
        window="week",
        period=WEEK.key,
        limit=10,
        me=me,
        held_for=60,
    )


def add(client, member: str, points: int) -> None:
    store.apply_increments(
        client, [store.Increment(ORG, "depts", WEEK, member, points, rules.ticks_left(WEEK, NOW))]
    )


def rebuild(client, entries: list[tuple[str, int]]) -> None:
    store.replace_org_boards(
        client, ORG, {("week", WEEK.key, "depts"): entries}, {("week", WEEK.key): WEEK}
    )


def points(board: store.WholeBoard) -> list[tuple[str, int]]:
    assert board.entries is not None
    return [(member, rules.split("week", score)[0]) for member, score in board.entries]


def test_the_board_comes_only_when_it_changed(redis_client):
    missing = read(redis_client)
    assert (missing.tag, missing.entries) == (None, [])
    rebuild(redis_client, [("d1", rules.FACTOR["week"] * 10)])
    first = read(redis_client)
    assert first.built and first.tag and points(first) == [("d1", 10)]
    unchanged = read(redis_client, held=first.tag)
    assert unchanged.tag == first.tag and unchanged.entries is None
    add(redis_client, "d2", 25)
    updated = read(redis_client, held=first.tag)
    assert updated.tag != first.tag and points(updated) == [("d2", 25), ("d1", 10)]


def test_a_rebuild_or_a_lost_board_changes_the_tag(redis_client):
    rebuild(redis_client, [("d1", rules.FACTOR["week"] * 10)])
    held = read(redis_client).tag
    rebuild(redis_client, [("d1", rules.FACTOR["week"] * 10)])  # same content, new token
    again = read(redis_client, held=held)
    assert again.tag != held and points(again) == [("d1", 10)]
    redis_client.delete(store.key(ORG, "depts", "week", WEEK.key))
    lost = read(redis_client, held=again.tag)
    assert (lost.tag, lost.entries) == (None, [])
    store.forget_built(redis_client, ORG)  # Redis lost the marker: nothing held is trusted
    add(redis_client, "d1", 5)
    unbuilt = read(redis_client)
    assert not unbuilt.built and read(redis_client, held=unbuilt.tag).entries is not None


def test_scripts_are_loaded_again_after_redis_forgot_them(redis_client):
    """A restarted Redis has none of the scripts: updates and reads load them again."""
    other_org = "01TESTORGWHOLEBOARD0000001"
    redis_client.script_flush()
    add(redis_client, "d1", 10)
    redis_client.script_flush()
    assert points(read(redis_client)) == [("d1", 10)]
    redis_client.script_flush()
    # Two organisations in one call go through a pipeline, which loads the script itself.
    ticks = rules.ticks_left(WEEK, NOW)
    store.apply_increments(
        redis_client,
        [
            store.Increment(ORG, "depts", WEEK, "d1", 5, ticks),
            store.Increment(other_org, "depts", WEEK, "d9", 7, ticks),
        ],
    )
    assert points(read(redis_client)) == [("d1", 15)]
    top = read_top(redis_client, other_org, me="d9")
    assert top.my_rank == 1 and rules.split("week", top.my_score)[0] == 7


def test_an_update_is_announced_only_when_a_read_came_since_the_last_announcement(redis_client):
    channel = "test-board-announcements"
    listener = redis_client.pubsub()
    listener.subscribe(channel)
    assert listener.get_message(timeout=1.0)["type"] == "subscribe"

    def update_then_announced() -> bool:
        store.apply_increments(
            redis_client,
            [store.Increment(ORG, "depts", WEEK, "d1", 1, rules.ticks_left(WEEK, NOW))],
            channel=channel,
            announcement=lambda org_id: org_id,
        )
        messages = []
        while (message := listener.get_message(timeout=0.2)) is not None:
            messages.append(message["data"])
        assert messages in ([], [ORG.encode()])
        return bool(messages)

    try:
        assert not update_then_announced()  # nobody has read the boards: nobody to tell
        read(redis_client)
        ttl = redis_client.ttl(store.reads_held_key(ORG))
        assert 0 < ttl <= 60  # the read said how long it may be kept
        assert update_then_announced()
        assert not update_then_announced()  # that reader was told; nobody read since
        read_top(redis_client, ORG)
        assert update_then_announced()
    finally:
        listener.close()

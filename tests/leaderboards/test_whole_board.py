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
        client, org_id=ORG, board="depts", window="week", period=WEEK.key, held=held
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
    top = store.read_board(
        redis_client,
        org_id=other_org,
        board="depts",
        window="week",
        period=WEEK.key,
        limit=10,
        me="d9",
    )
    assert top.my_rank == 1 and rules.split("week", top.my_score)[0] == 7

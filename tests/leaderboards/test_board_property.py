"""Property: every Redis board equals a brute-force computation from the ledger.

Random sequences of awards (ties, replays, ISO week 53, DST changes, organisations in
different time zones) go through the real ledger and the real after-commit Redis update; the
boards are then compared with a from-scratch tally of the ledger rows, again after a rebuild,
and the ledger fallback used when Redis is down.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.extensions import get_redis
from app.gamification import service as gamification
from app.gamification.models import PointAward
from app.leaderboards import rules, service, store
from app.orgs.models import Department
from tests import factories

TIMEZONES = ["Europe/Oslo", "America/New_York", "Pacific/Auckland", "Asia/Kolkata", "UTC"]
# Instants where periods are easy to get wrong (all in the future, so no key is born expired).
ANCHORS = [
    datetime(2026, 12, 27, 22, 59, 59, tzinfo=UTC),  # end of 2026-W52 in Oslo
    datetime(2026, 12, 31, 23, 30, tzinfo=UTC),  # New Year in Oslo, inside 2026-W53
    datetime(2027, 1, 3, 22, 59, 59, tzinfo=UTC),  # last second of 2026-W53 in Oslo
    datetime(2027, 1, 3, 23, 0, tzinfo=UTC),  # first second of 2027-W01 in Oslo
    datetime(2027, 3, 14, 6, 59, 59, tzinfo=UTC),  # New York springs forward
    datetime(2027, 3, 14, 7, 0, tzinfo=UTC),
    datetime(2027, 3, 28, 0, 59, 59, tzinfo=UTC),  # Oslo springs forward
    datetime(2027, 3, 28, 1, 0, tzinfo=UTC),
    datetime(2027, 4, 3, 13, 59, 59, tzinfo=UTC),  # Auckland falls back
    datetime(2027, 10, 31, 1, 0, tzinfo=UTC),  # Oslo falls back
    datetime(2027, 11, 7, 6, 0, tzinfo=UTC),  # New York falls back
    datetime(2027, 11, 30, 22, 59, 59, tzinfo=UTC),  # month boundary in Oslo
]
OFFSETS = [0, 0, 1, 59, 3599, 3600, 86_400 * 2]

event = st.tuples(
    st.integers(0, 4),  # which user
    st.sampled_from([1, 5, 10, 10, 25]),  # points (repeats make ties likely)
    st.integers(0, len(ANCHORS) - 1),
    st.sampled_from(OFFSETS),
    st.booleans(),  # replay an earlier source key (must not pay twice)
)
_slugs = itertools.count()


def department_parents(session, org_id: str) -> dict[str, str | None]:
    return dict(
        session.execute(
            select(Department.id, Department.parent_id).where(Department.org_id == org_id)
        ).all()
    )


def brute_force(
    rows: list[tuple[str, str | None, int, datetime]],
    tz: str,
    parents: dict[str, str | None] | None = None,
):
    """{(window, period, board): [(member, points)] best first}, written straight from the spec:
    an award counts for the department it was earned in and for every department above it
    (`parents`: department -> the one above it, as the tree is now)."""
    zone = ZoneInfo(tz)
    parents = parents or {}
    totals: dict = defaultdict(lambda: defaultdict(lambda: [0, None]))
    for user_id, dept_id, points, at in rows:
        local = at.astimezone(zone)
        iso = local.isocalendar()
        periods = [
            ("week", f"{iso.year}-W{iso.week:02d}"),
            ("month", f"{local.year}-{local.month:02d}"),
            ("all_time", "all"),
        ]
        members = [("users:org", user_id)]
        above = dept_id
        while above:
            members += [(f"users:dept:{above}", user_id), ("depts", above)]
            above = parents.get(above)
        for (window, period), (board, member) in itertools.product(periods, members):
            slot = totals[(window, period, board)][member]
            slot[0] += points
            slot[1] = at if slot[1] is None else max(slot[1], at)
    expected = {}
    for (window, period, board), members in totals.items():
        # Earlier achiever first, to the second (to the hour for all-time); then by id.
        resolution = 3600 if window == "all_time" else 1
        order = sorted(
            members.items(),
            key=lambda item: (item[1][0], -(int(item[1][1].timestamp()) // resolution), item[0]),
            reverse=True,
        )
        expected[(window, period, board)] = [(member, slot[0]) for member, slot in order]
    return expected


def in_period(at: datetime, window: str, period_key: str, tz: str) -> bool:
    local = at.astimezone(ZoneInfo(tz))
    iso = local.isocalendar()
    return {
        "week": f"{iso.year}-W{iso.week:02d}",
        "month": f"{local.year}-{local.month:02d}",
        "all_time": "all",
    }[window] == period_key


def redis_boards(client, org_id: str) -> dict:
    found = {}
    prefix = f"nl:{{{org_id}}}:"
    for raw in client.scan_iter(match=f"nl:{{{org_id}}}:*", count=1000):
        name = raw.decode()
        if name in (store.built_key(org_id), store.reads_held_key(org_id)) or name.startswith(
            f"{prefix}version:"
        ):
            continue  # the built and reads-held marks and the boards' version counters
        window, period = name.split(":")[-2:]
        board = name.removeprefix(prefix)[: -len(f":{window}:{period}")]
        found[(window, period, board)] = [
            (member.decode(), rules.split(window, score)[0])
            for member, score in client.zrevrange(raw, 0, -1, withscores=True)
        ]
    return found


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tz=st.sampled_from(TIMEZONES), events=st.lists(event, min_size=1, max_size=25))
def test_boards_equal_the_ledger(session, tz, events):
    """A region with a store split in two (Nord, Sør) and a warehouse where nobody scores;
    halfway, u1 moves from Nord to Sør and u3 leaves (deactivated)."""
    org = factories.make_org(session, slug=f"prop-{next(_slugs)}", name="Prop", timezone=tz)
    region = factories.make_department(session, org, "Region")
    shop = factories.make_department(session, org, "Butikk", parent=region)
    north = factories.make_department(session, org, "Nord", parent=shop)
    south = factories.make_department(session, org, "Sør", parent=shop)
    idle = factories.make_department(session, org, "Lager", parent=region)
    users = [
        factories.make_user(session, org, f"u{i}", department=dept)
        for i, dept in enumerate([north, north, south, south, None, shop])
    ]
    factories.make_user(session, org, "quiet", department=south)  # a member who never scores
    factories.make_user(session, org, "stock", department=idle)
    now = datetime.now(UTC)
    paid_keys: list[tuple[int, str]] = []
    for index, (who, points, anchor, offset, replay) in enumerate(events):
        if index == len(events) // 2:
            users[1].department_id = south.id  # points earned in Nord stay there
            users[3].active = False
            session.flush()
        if replay and paid_keys:
            who, key = paid_keys[index % len(paid_keys)]
        else:
            key = f"prop:{index}"
        if who == 3 and not users[3].active:
            continue
        paid = gamification.award_points(
            session,
            user=users[who % len(users)],
            points=points,
            reason="Property test",
            source_key=key,
            earned_at=ANCHORS[anchor] + timedelta(seconds=offset),
            now=now,
        )
        if paid:
            paid_keys.append((who, key))
        if index % 7 == 6:
            session.commit()  # several transactions, several pipelines
    session.commit()

    rows = session.execute(
        select(
            PointAward.user_id, PointAward.department_id, PointAward.points, PointAward.earned_at
        ).where(PointAward.org_id == org.id)
    ).all()
    assert len(rows) == len(paid_keys)
    parents = department_parents(session, org.id)
    expected = brute_force([tuple(r) for r in rows], tz, parents)
    client = get_redis()

    assert redis_boards(client, org.id) == expected  # incremental updates after each commit

    service.rebuild_org(session, client, org, now)
    assert redis_boards(client, org.id) == expected  # a rebuild from the ledger agrees

    for (window, period_key, board), entries in expected.items():
        period = rules.parse_period(window, period_key, tz)
        from_ledger = service._ranked_from_ledger(session, org, period, board)
        assert [(r.member, r.points) for r in from_ledger] == entries  # the Redis-down path

    # The departments board: the leaves (Nord, Sør, Lager), or the sub-departments of a
    # department each counting everything below it; active members now, u3 gone, u1 in Sør.
    def below(department_id: str) -> set[str]:
        found = {department_id}
        while True:
            more = {d for d, parent in parents.items() if parent in found} - found
            if not more:
                return found
            found |= more

    active = {north.id: 1, south.id: 3, shop.id: 1, idle.id: 1}  # u0 | u1, u2, quiet | u5 | stock
    names = {north.id: "Nord", south.id: "Sør", idle.id: "Lager", shop.id: "Butikk"}
    viewer = users[2]  # in Sør
    windows = {(w, p) for w, p, _ in expected} or {("week", rules.period_at("week", now, tz).key)}
    for (window, period_key), metric, (parent, competitors, mine) in itertools.product(
        windows,
        ("total", "per_member"),
        [
            (None, [north.id, south.id, idle.id], south.id),
            (region.id, [shop.id, idle.id], shop.id),
            (shop.id, [north.id, south.id], south.id),
        ],
    ):
        scored = dict(expected.get((window, period_key, "depts"), []))
        body = service.render_department_board(
            service.department_board_facts(
                session,
                viewer=viewer,
                window=window,
                period=period_key,
                metric=metric,
                limit=100,
                now=now,
                parent_id=parent,
            )
        )
        got = [(e["department"]["id"], e["points"], e["members"]) for e in body["entries"]]
        members = {d: sum(active.get(x, 0) for x in below(d)) for d in competitors}
        reached = {
            dept: max(
                at
                for _, d, _, at in rows
                if d in below(dept) and in_period(at, window, period_key, tz)
            )
            for dept in competitors
            if dept in scored
        }
        resolution = 3600 if window == "all_time" else 1
        want = sorted(
            (d for d in competitors if d in scored),
            key=lambda d: (
                scored[d] if metric == "total" else Fraction(scored[d], max(members[d], 1)),
                -(int(reached[d].timestamp()) // resolution),
                d,
            ),
            reverse=True,
        ) + sorted((d for d in competitors if d not in scored), key=lambda d: (names[d], d))
        assert got == [(d, scored.get(d, 0), members[d]) for d in want]
        assert [e["rank"] for e in body["entries"]] == list(range(1, len(want) + 1))
        assert body["mine"]["department"]["id"] == mine

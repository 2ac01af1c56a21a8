"""`GET /leaderboards/users` and `/leaderboards/departments` through HTTP."""

from __future__ import annotations

import pytest

from app.extensions import get_redis
from app.gamification.models import PointAward
from app.leaderboards import facts, store
from app.orgs.models import DepartmentManager
from tests import factories
from tests.conftest import auth_headers
from tests.gamification.play import play

USERS = "/api/v1/leaderboards/users"
DEPTS = "/api/v1/leaderboards/departments"


def names(body):
    return [(e["rank"], e["user"]["display_name"], e["score"]) for e in body["entries"]]


def test_my_department_this_week(client, played, as_learner):
    board = client.get(USERS, headers=as_learner)
    assert board.status_code == 200, board.json
    assert board.json["scope"] == "department"
    assert board.json["window"] == "week"
    assert board.json["period"] == "2026-W48"
    # Equal points: whoever reached them first ranks higher.
    assert names(board.json) == [(1, "Learner", 80), (2, "Colleague", 80)]
    assert board.json["me"] == {"rank": 1, "score": 80}


def test_the_organisation_and_other_windows(client, played, as_learner, as_manager):
    for window, period in (("week", "2026-W48"), ("month", "2026-11"), ("all_time", "all")):
        board = client.get(f"{USERS}?scope=organization&window={window}", headers=as_manager)
        assert board.status_code == 200, board.json
        assert board.json["period"] == period
        assert names(board.json) == [(1, "Learner", 80), (2, "Colleague", 80), (3, "Picker", 35)]
        assert board.json["me"] is None  # the manager has no points
    top = client.get(f"{USERS}?scope=organization&limit=1", headers=as_manager).json
    assert names(top) == [(1, "Learner", 80)]
    mine = client.get(f"{USERS}?scope=organization&limit=1", headers=as_learner).json
    assert mine["me"] == {"rank": 1, "score": 80}


def test_the_callers_row_comes_with_the_top_n(client, session, played, picker):
    board = client.get(f"{USERS}?scope=organization&limit=1", headers=auth_headers(session, picker))
    assert names(board.json) == [(1, "Learner", 80)]
    assert board.json["me"] == {"rank": 3, "score": 35}


def test_past_periods(client, played, as_learner):
    last_week = client.get(f"{USERS}?period=2026-W47", headers=as_learner)
    assert last_week.status_code == 200
    assert last_week.json["entries"] == [] and last_week.json["me"] is None
    played.advance(days=7)  # next week: this week is now the past, still readable
    past = client.get(f"{USERS}?period=2026-W48", headers=as_learner).json
    assert names(past) == [(1, "Learner", 80), (2, "Colleague", 80)]
    assert client.get(USERS, headers=as_learner).json["entries"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=2026-48", "period"),
        ("period=2025-W53", "period"),
        ("window=month&period=2026-13", "period"),
        ("window=all_time&period=2026-W48", "period"),
        ("window=year", "window"),
        ("scope=world", "scope"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
    ],
)
def test_bad_query_parameters(client, as_learner, query, field):
    answer = client.get(f"{USERS}?{query}", headers=as_learner)
    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    assert list(answer.json["errors"]) == [field]


@pytest.mark.parametrize(
    ("query", "field"),
    [("metric=average", "metric"), ("window=day", "window"), ("period=x", "period")],
)
def test_bad_department_board_parameters(client, as_learner, query, field):
    answer = client.get(f"{DEPTS}?{query}", headers=as_learner)
    assert answer.status_code == 422
    assert list(answer.json["errors"]) == [field]


def test_boards_need_a_login(client):
    assert client.get(USERS).status_code == 401
    assert client.get(DEPTS).status_code == 401


def test_departments_by_total_and_per_member(
    client, session, org, checkout, module, played, picker, as_learner, redis_client
):
    for name in ("kasse3", "kasse4"):
        factories.make_user(session, org, name, department=checkout)
    total = client.get(DEPTS, headers=as_learner)
    assert total.status_code == 200, total.json
    rows = [
        (e["rank"], e["department"]["name"], e["score"], e["members"])
        for e in total.json["entries"]
    ]
    assert rows == [(1, "Kasse", 160, 4), (2, "Lager Nord", 35, 1)]
    assert total.json["metric"] == "total" and total.json["period"] == "2026-W48"
    assert total.json["mine"]["department"]["name"] == "Kasse"
    per_member = client.get(f"{DEPTS}?metric=per_member", headers=as_learner).json
    rows = [(e["rank"], e["department"]["name"], e["score"]) for e in per_member["entries"]]
    assert rows == [(1, "Kasse", 40), (2, "Lager Nord", 35)]
    factories.make_user(session, org, "kasse5", department=checkout)
    # Member counts are kept for a minute in Redis and for a minute in the process: the new
    # hire counts once both have expired.
    cached = client.get(f"{DEPTS}?metric=per_member", headers=as_learner).json
    assert [e["members"] for e in cached["entries"]] == [4, 1]
    redis_client.delete(store.member_counts_key(org.id))
    facts._member_counts.clear()
    per_member = client.get(f"{DEPTS}?metric=per_member", headers=as_learner).json
    rows = [(e["rank"], e["department"]["name"], e["score"]) for e in per_member["entries"]]
    assert rows == [(1, "Lager Nord", 35), (2, "Kasse", 32)]
    assert [e["members"] for e in per_member["entries"]] == [1, 5]
    assert per_member["mine"]["rank"] == 2


def test_mine_is_null_without_points(client, played, as_manager):
    board = client.get(DEPTS, headers=as_manager).json
    assert board["mine"] is None
    assert [e["department"]["name"] for e in board["entries"]] == ["Kasse", "Lager Nord"]


def test_a_learner_may_appear_as_a_colleague_outside_the_department(
    client, session, org, warehouse, played, colleague, picker, as_learner, as_manager
):
    as_colleague = auth_headers(session, colleague)
    assert (
        client.patch(
            "/api/v1/me", json={"leaderboard_visibility": "department"}, headers=as_colleague
        ).status_code
        == 200
    )
    seen_by_picker = client.get(
        f"{USERS}?scope=organization", headers=auth_headers(session, picker)
    ).json
    hidden = seen_by_picker["entries"][1]
    # The organisation speaks bokmål; the name follows the viewer's language like content.
    assert hidden["user"] == {"id": None, "display_name": "En kollega", "anonymous": True}
    for language, name in (("en", "A colleague"), ("nn", "Ein kollega")):
        seen = client.get(
            f"{USERS}?scope=organization",
            headers={**auth_headers(session, picker), "Accept-Language": language},
        ).json
        assert seen["entries"][1]["user"]["display_name"] == name
    assert hidden["score"] == 80
    # Her own department sees her name; so does the manager of her store (Kasse is under it).
    by_learner = client.get(f"{USERS}?scope=organization", headers=as_learner).json
    assert by_learner["entries"][1]["user"]["display_name"] == "Colleague"
    by_manager = client.get(f"{USERS}?scope=organization", headers=as_manager).json
    assert by_manager["entries"][1]["user"]["id"] == colleague.id
    # A manager of another department does not.
    boss = factories.make_user(session, org, "boss", department=warehouse, roles=["manager"])
    session.add(DepartmentManager(department_id=warehouse.id, user_id=boss.id))
    session.flush()
    by_boss = client.get(f"{USERS}?scope=organization", headers=auth_headers(session, boss)).json
    assert by_boss["entries"][1]["user"]["display_name"] == "En kollega"
    # And she still sees herself.
    own = client.get(f"{USERS}?scope=organization", headers=as_colleague).json
    assert own["entries"][1]["user"]["display_name"] == "Colleague"


def test_managers_may_look_at_departments_they_manage(
    client, session, other_org, checkout, warehouse, played, as_manager, as_learner
):
    managed = client.get(f"{USERS}?department_id={checkout.id}", headers=as_manager)
    assert managed.status_code == 200
    assert names(managed.json) == [(1, "Learner", 80), (2, "Colleague", 80)]
    assert (
        client.get(f"{USERS}?department_id={warehouse.id}", headers=as_learner).status_code == 403
    )
    elsewhere = factories.make_department(session, other_org, "Utland")
    assert (
        client.get(f"{USERS}?department_id={elsewhere.id}", headers=as_manager).status_code == 404
    )


def test_updates_reach_redis_after_the_commit(
    client, session, org, learner, module, as_learner, frozen_clock
):
    redis_client = get_redis()
    redis_client.set(store.built_key(org.id), "1")  # boards complete: no rebuild on read
    play(client, session, module, as_learner)
    key = store.key(org.id, f"users:dept:{learner.department_id}", "week", "2026-W48")
    assert redis_client.zcard(key) == 1
    assert redis_client.ttl(key) > 0  # expires on its own some weeks after the period
    assert redis_client.ttl(store.key(org.id, "users:org", "all_time", "all")) == -1
    board = client.get(USERS, headers=as_learner).json
    assert board["me"] == {"rank": 1, "score": 80}


def test_with_live_boards_off_only_a_rebuild_updates_them(
    app, client, session, org, learner, module, as_learner, frozen_clock, monkeypatch
):
    redis_client = get_redis()
    redis_client.set(store.built_key(org.id), "1")  # boards complete: no rebuild on read
    monkeypatch.setitem(app.config, "LEADERBOARDS_LIVE", False)
    play(client, session, module, as_learner)
    key = store.key(org.id, f"users:dept:{learner.department_id}", "week", "2026-W48")
    assert redis_client.zcard(key) == 0
    assert client.get(USERS, headers=as_learner).json["me"] is None
    assert session.query(PointAward).filter_by(user_id=learner.id).count() > 0

    result = app.test_cli_runner().invoke(args=["leaderboards", "rebuild"])
    assert result.exit_code == 0, result.output
    assert client.get(USERS, headers=as_learner).json["me"] == {"rank": 1, "score": 80}


def test_reading_a_board_costs_no_query_once_its_facts_are_cached(
    client, session, played, as_learner, as_manager
):
    """The caller, the repair marker, names, privacy choices, departments and member counts
    are cached per process: after a first read of each, Redis does all the work."""
    from sqlalchemy import event

    urls = (
        USERS,
        USERS + "?scope=organization&window=all_time",
        DEPTS,
        DEPTS + "?metric=per_member",
    )
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for headers in (as_learner, as_manager):
            for url in urls:
                assert client.get(url, headers=headers).status_code == 200
        assert statements  # the first reads did load what is cached
        for headers in (as_learner, as_manager):
            for url in urls:
                statements.clear()
                assert client.get(url, headers=headers).status_code == 200
                assert statements == [], (url, statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_api_documents_the_boards(client):
    spec = client.get("/api/v1/openapi.json").json
    for path in (
        "/api/v1/leaderboards/users",
        "/api/v1/leaderboards/departments",
        "/api/v1/competitions",
        "/api/v1/competitions/{competition_id}/standings",
        "/api/v1/me/badges",
    ):
        assert path in spec["paths"], path


def test_no_department_means_an_empty_department_board(client, played, as_admin):
    board = client.get(USERS, headers=as_admin)
    assert board.status_code == 200
    assert board.json["entries"] == [] and board.json["me"] is None
    assert len(client.get(f"{USERS}?scope=organization", headers=as_admin).json["entries"]) == 3

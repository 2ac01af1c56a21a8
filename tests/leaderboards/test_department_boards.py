"""Which departments compete on the boards, and how a store split into departments rolls up.

The shared scene (`conftest.played`): Butikk Sentrum (the manager's store) is split into
Kasse (learner and colleague, 80 points each); Lager Nord stands alone (the picker, 35).
"""

from __future__ import annotations

import pytest

from tests import factories
from tests.conftest import auth_headers
from tests.gamification.play import play

USERS = "/api/v1/leaderboards/users"
DEPTS = "/api/v1/leaderboards/departments"


def rows(body):
    return [
        (e["rank"], e["department"]["name"], e["score"], e["points"], e["members"])
        for e in body["entries"]
    ]


def people(body):
    return [(e["rank"], e["user"]["display_name"], e["score"]) for e in body["entries"]]


def get(client, url, headers):
    answer = client.get(url, headers=headers)
    assert answer.status_code == 200, answer.json
    return answer.json


def test_departments_without_points_are_listed_after_those_with_points(
    client, session, org, other_org, store, module, played, manager, as_manager
):
    bakery = factories.make_department(session, org, "Bakeri", parent=store)
    baker = factories.make_user(session, org, "baker", department=bakery)
    factories.make_department(session, org, "Frukt", parent=store)  # nobody works there yet
    factories.make_department(session, other_org, "Annet firma")
    play(client, session, module, as_manager)  # the manager works in the store itself
    as_baker = auth_headers(session, baker)

    board = get(client, DEPTS, as_baker)
    # The departments without sub-departments compete; the store (split into Kasse, Bakeri
    # and Frukt) does not compete against its own departments. Without points: by name.
    assert rows(board) == [
        (1, "Kasse", 160, 160, 2),
        (2, "Lager Nord", 35, 35, 1),
        (3, "Bakeri", 0, 0, 1),
        (4, "Frukt", 0, 0, 0),
    ]
    assert board["entries"][2]["department"]["parent"] == {"id": store.id, "name": store.name}
    assert board["entries"][1]["department"]["parent"] is None
    assert board["parent_id"] is None
    assert board["mine"]["rank"] == 3 and board["mine"]["score"] == 0  # listed, so placed
    assert get(client, DEPTS, as_manager)["mine"] is None  # the store does not compete

    per_member = get(client, f"{DEPTS}?metric=per_member", as_baker)
    # No members: points divided by 1, shown with members 0.
    assert rows(per_member) == [
        (1, "Kasse", 80, 160, 2),
        (2, "Lager Nord", 35, 35, 1),
        (3, "Bakeri", 0, 0, 1),
        (4, "Frukt", 0, 0, 0),
    ]
    assert rows(get(client, f"{DEPTS}?limit=3", as_baker))[-1][1] == "Bakeri"
    # Another week: everyone at 0, by name.
    last_week = get(client, f"{DEPTS}?period=2026-W47", as_baker)
    assert [r[1:] for r in rows(last_week)] == [
        ("Bakeri", 0, 0, 1),
        ("Frukt", 0, 0, 0),
        ("Kasse", 0, 0, 2),
        ("Lager Nord", 0, 0, 1),
    ]


def test_a_new_department_shows_on_the_next_read(client, session, org, played, as_learner):
    assert len(get(client, DEPTS, as_learner)["entries"]) == 2
    factories.make_department(session, org, "Apotek")
    assert [r[1] for r in rows(get(client, DEPTS, as_learner))] == ["Kasse", "Lager Nord", "Apotek"]


def test_a_stores_board_rolls_up_its_departments(
    client,
    session,
    org,
    store,
    checkout,
    warehouse,
    module,
    played,
    picker,
    colleague,
    manager,
    as_manager,
    as_admin,
):
    bakery = factories.make_department(session, org, "Bakeri", parent=store)
    # The picker moves from Lager Nord to the bakery: the 35 points earned in Lager Nord stay
    # there, what they earn from now counts for the store.
    moved = client.patch(
        f"/api/v1/admin/users/{picker.id}", json={"department_id": bakery.id}, headers=as_admin
    )
    assert moved.status_code == 200, moved.json
    played.advance(hours=1)
    other = factories.publish_module(session, org, factories.module_document(title="Brød"))
    play(client, session, other, auth_headers(session, picker), wrong=1)  # 50
    played.advance(hours=1)
    play(client, session, module, as_manager)  # 80, in the store itself
    # The colleague leaves: their points stay on the boards, they are no longer a member.
    gone = client.patch(
        f"/api/v1/admin/users/{colleague.id}", json={"active": False}, headers=as_admin
    )
    assert gone.status_code == 200, gone.json

    store_board = get(client, f"{USERS}?scope=department", as_manager)
    assert people(store_board) == [
        (1, "Learner", 80),
        (2, "Colleague", 80),
        (3, "Manager", 80),
        (4, "Picker", 50),
    ]
    assert store_board["me"] == {"rank": 3, "score": 80}
    kasse = get(client, f"{USERS}?department_id={checkout.id}", as_manager)
    assert people(kasse) == [(1, "Learner", 80), (2, "Colleague", 80)]
    lager = get(client, f"{USERS}?department_id={warehouse.id}", as_admin)
    assert people(lager) == [(1, "Picker", 35)]

    # The store's departments side by side, and the store's place among the top-level ones.
    inside = get(client, f"{DEPTS}?parent_id={store.id}", as_manager)
    assert rows(inside) == [(1, "Kasse", 160, 160, 1), (2, "Bakeri", 50, 50, 1)]
    assert inside["parent_id"] == store.id
    assert inside["mine"] is None  # the manager works in the store, above both
    region = client.post(
        "/api/v1/admin/departments", json={"name": "Region Øst"}, headers=as_admin
    ).json
    for department in (store, warehouse):
        answer = client.patch(
            f"/api/v1/admin/departments/{department.id}",
            json={"parent_id": region["id"]},
            headers=as_admin,
        )
        assert answer.status_code == 200, answer.json
    stores = get(client, f"{DEPTS}?parent_id={region['id']}&metric=per_member", as_manager)
    # Butikk Sentrum: 160 + 50 + 80 over learner, picker and manager (the colleague left);
    # Lager Nord has nobody left: its points are divided by 1.
    assert rows(stores) == [(1, "Butikk Sentrum", 96.67, 290, 3), (2, "Lager Nord", 35, 35, 0)]
    assert stores["mine"]["department"]["id"] == store.id
    region_board = get(client, f"{USERS}?department_id={region['id']}", as_admin)
    # The region's board counts both: the picker's 35 from Lager Nord and 50 from the bakery.
    assert people(region_board) == [
        (1, "Picker", 85),
        (2, "Learner", 80),
        (3, "Colleague", 80),
        (4, "Manager", 80),
    ]


def test_a_rebuild_from_the_ledger_gives_the_same_boards(
    app, client, session, org, store, module, played, picker, as_manager, as_admin
):
    bakery = factories.make_department(session, org, "Bakeri", parent=store)
    client.patch(
        f"/api/v1/admin/users/{picker.id}", json={"department_id": bakery.id}, headers=as_admin
    )
    play(client, session, module, as_manager)
    urls = [
        USERS,
        f"{USERS}?window=month",
        DEPTS,
        f"{DEPTS}?metric=per_member",
        f"{DEPTS}?parent_id={store.id}",
        f"{DEPTS}?parent_id={store.id}&window=all_time&metric=per_member",
    ]
    live = [get(client, url, as_manager) for url in urls]
    assert live[0]["entries"]  # the store's board is not empty
    result = app.test_cli_runner().invoke(args=["leaderboards", "rebuild"])
    assert result.exit_code == 0, result.output
    assert [get(client, url, as_manager) for url in urls] == live


@pytest.mark.parametrize(("parent", "status"), [("nope", 404), ("x" * 27, 422), ("other", 404)])
def test_a_parent_that_is_not_one_of_ours(
    client, session, other_org, played, as_learner, parent, status
):
    if parent == "other":
        parent = factories.make_department(session, other_org, "Annet").id
    answer = client.get(f"{DEPTS}?parent_id={parent}", headers=as_learner)
    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"

"""Admin: the department tree and its managers."""

from __future__ import annotations

from tests import factories
from tests.api.test_errors import assert_problem

DEPARTMENTS = "/api/v1/admin/departments"


def test_create_a_department(client, as_admin):
    response = client.post(DEPARTMENTS, json={"name": "Region Vest"}, headers=as_admin)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["name"] == "Region Vest"
    assert body["parent_id"] is None
    assert body["managers"] == []
    assert body["id"] and body["created_at"]


def test_create_under_a_parent_with_managers(client, session, store, learner, as_admin):
    response = client.post(
        DEPARTMENTS,
        json={"name": "Ferskvare", "parent_id": store.id, "manager_ids": [learner.id]},
        headers=as_admin,
    )
    assert response.status_code == 201, response.json
    assert response.json["parent_id"] == store.id
    assert response.json["managers"] == [{"id": learner.id, "display_name": learner.display_name}]
    session.refresh(learner)
    assert "manager" in learner.roles and "learner" in learner.roles


def test_a_new_manager_gains_the_manager_role_and_can_act(
    client, session, checkout, learner, as_admin
):
    response = client.patch(
        f"{DEPARTMENTS}/{checkout.id}", json={"manager_ids": [learner.id]}, headers=as_admin
    )
    assert response.status_code == 200, response.json
    assert [m["id"] for m in response.json["managers"]] == [learner.id]
    session.refresh(learner)
    assert learner.roles.count("manager") == 1


def test_managers_are_replaced_and_cleared(client, store, manager, learner, as_admin):
    url = f"{DEPARTMENTS}/{store.id}"
    replaced = client.patch(url, json={"manager_ids": [learner.id]}, headers=as_admin)
    assert [m["id"] for m in replaced.json["managers"]] == [learner.id]
    cleared = client.patch(url, json={"manager_ids": []}, headers=as_admin)
    assert cleared.status_code == 200
    assert cleared.json["managers"] == []


def test_a_manager_of_another_org_is_404(client, store, other_org_admin, as_admin):
    response = client.patch(
        f"{DEPARTMENTS}/{store.id}", json={"manager_ids": [other_org_admin.id]}, headers=as_admin
    )
    assert_problem(response, 404)


def test_rename_and_move(client, store, warehouse, as_admin):
    response = client.patch(
        f"{DEPARTMENTS}/{warehouse.id}",
        json={"name": "Lager Sentrum", "parent_id": store.id},
        headers=as_admin,
    )
    assert response.status_code == 200, response.json
    assert response.json["name"] == "Lager Sentrum"
    assert response.json["parent_id"] == store.id
    back = client.patch(f"{DEPARTMENTS}/{warehouse.id}", json={"parent_id": None}, headers=as_admin)
    assert back.json["parent_id"] is None


def test_a_parent_in_another_org_is_404(client, session, other_org, store, as_admin):
    theirs = factories.make_department(session, other_org, "Deres butikk")
    created = client.post(DEPARTMENTS, json={"name": "X", "parent_id": theirs.id}, headers=as_admin)
    assert_problem(created, 404)
    moved = client.patch(
        f"{DEPARTMENTS}/{store.id}", json={"parent_id": theirs.id}, headers=as_admin
    )
    assert_problem(moved, 404)


def test_an_unknown_parent_is_404(client, as_admin):
    response = client.post(DEPARTMENTS, json={"name": "X", "parent_id": "nope"}, headers=as_admin)
    assert_problem(response, 404)


def test_a_cycle_is_422(client, session, org, store, checkout, as_admin):
    shelf = factories.make_department(session, org, "Hylle", parent=checkout)
    for parent in (shelf, checkout, store):
        response = client.patch(
            f"{DEPARTMENTS}/{store.id}", json={"parent_id": parent.id}, headers=as_admin
        )
        body = assert_problem(response, 422)
        assert "parent_id" in body["errors"]
    session.refresh(store)
    assert store.parent_id is None


def test_invalid_department_fields_are_422(client, as_admin):
    body = assert_problem(client.post(DEPARTMENTS, json={"name": ""}, headers=as_admin), 422)
    assert "name" in body["errors"]
    body = assert_problem(client.post(DEPARTMENTS, json={}, headers=as_admin), 422)
    assert "name" in body["errors"]


def test_the_list_pages_with_a_cursor_and_only_shows_this_org(
    client, session, org, other_org, as_admin
):
    # Ids made within one millisecond have no defined order among themselves: page by id.
    ids = sorted(factories.make_department(session, org, f"Avdeling {n}").id for n in range(5))
    factories.make_department(session, other_org, "Deres avdeling")
    first = client.get(f"{DEPARTMENTS}?limit=2", headers=as_admin)
    assert first.status_code == 200
    assert [d["id"] for d in first.json["items"]] == ids[:2]
    seen = [d["id"] for d in first.json["items"]]
    cursor = first.json["next_cursor"]
    while cursor:
        page = client.get(f"{DEPARTMENTS}?limit=2&cursor={cursor}", headers=as_admin).json
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ids


def test_the_list_default_page(client, store, checkout, as_admin):
    body = client.get(DEPARTMENTS, headers=as_admin).json
    assert {d["name"] for d in body["items"]} == {"Butikk Sentrum", "Kasse"}
    assert body["next_cursor"] is None
    kasse = next(d for d in body["items"] if d["name"] == "Kasse")
    assert kasse["parent_id"] == store.id


def test_another_orgs_department_is_404(client, session, other_org, as_admin):
    theirs = factories.make_department(session, other_org, "Deres avdeling")
    response = client.patch(f"{DEPARTMENTS}/{theirs.id}", json={"name": "Mine"}, headers=as_admin)
    assert_problem(response, 404)
    session.refresh(theirs)
    assert theirs.name == "Deres avdeling"


def test_the_same_manager_twice_is_one_manager(client, session, learner, as_admin):
    response = client.post(
        DEPARTMENTS,
        json={"name": "Kasse 2", "manager_ids": [learner.id, learner.id]},
        headers=as_admin,
    )
    assert response.status_code == 201, response.json
    assert [m["id"] for m in response.json["managers"]] == [learner.id]


def test_the_department_list_loads_managers_in_a_fixed_number_of_queries(
    client, session, org, learner, as_admin
):
    from tests.paths.test_query_count import count_queries

    def add_departments(count: int, first: int = 0) -> None:
        for n in range(first, first + count):
            response = client.post(
                DEPARTMENTS,
                json={"name": f"Avdeling {n}", "manager_ids": [learner.id]},
                headers=as_admin,
            )
            assert response.status_code == 201

    def queries_to_list() -> int:
        session.expire_all()
        with count_queries(session) as statements:
            response = client.get(f"{DEPARTMENTS}?limit=100", headers=as_admin)
        assert response.status_code == 200
        assert all(d["managers"] for d in response.json["items"] if d["name"].startswith("Avd"))
        return len(statements)

    add_departments(2)
    few = queries_to_list()
    add_departments(6, first=2)
    assert queries_to_list() == few


# --- names unique among siblings ------------------------------------------------------------


def test_a_sibling_with_the_same_name_is_409_with_the_existing_id(
    client, session, org, store, checkout, as_admin
):
    for name in ("Kasse", "kasse", "  KASSE "):
        response = client.post(
            DEPARTMENTS, json={"name": name, "parent_id": store.id}, headers=as_admin
        )
        body = assert_problem(response, 409)
        assert body["existing_id"] == checkout.id, name
        assert "name" in body["errors"]
    top = client.post(DEPARTMENTS, json={"name": "butikk sentrum"}, headers=as_admin)
    assert assert_problem(top, 409)["existing_id"] == store.id


def test_the_same_name_under_another_parent_or_in_another_org_is_fine(
    client, session, other_org, store, warehouse, as_admin
):
    under_warehouse = client.post(
        DEPARTMENTS, json={"name": "Kasse", "parent_id": warehouse.id}, headers=as_admin
    )
    assert under_warehouse.status_code == 201, under_warehouse.json
    factories.make_department(session, other_org, "Lager Nord")  # a top-level name taken here
    ours = client.post(DEPARTMENTS, json={"name": "Region Øst"}, headers=as_admin)
    assert ours.status_code == 201


def test_renaming_or_moving_onto_a_taken_name_is_409(
    client, session, org, store, checkout, warehouse, as_admin
):
    shelf = factories.make_department(session, org, "Hylle", parent=store)
    renamed = client.patch(f"{DEPARTMENTS}/{shelf.id}", json={"name": "KASSE"}, headers=as_admin)
    assert assert_problem(renamed, 409)["existing_id"] == checkout.id
    other_kasse = factories.make_department(session, org, "Kasse", parent=warehouse)
    moved = client.patch(
        f"{DEPARTMENTS}/{other_kasse.id}", json={"parent_id": store.id}, headers=as_admin
    )
    assert assert_problem(moved, 409)["existing_id"] == checkout.id
    to_top = client.patch(
        f"{DEPARTMENTS}/{checkout.id}",
        json={"parent_id": None, "name": "lager nord"},
        headers=as_admin,
    )
    assert assert_problem(to_top, 409)["existing_id"] == warehouse.id
    # Renaming to its own name in another case is no clash with itself.
    same = client.patch(f"{DEPARTMENTS}/{checkout.id}", json={"name": "KASSE"}, headers=as_admin)
    assert same.status_code == 200 and same.json["name"] == "KASSE"


def test_the_database_refuses_siblings_with_the_same_name_too(session, org, store):
    # Two requests racing past the service's check meet the unique index (also at the top
    # level, where the parent is NULL and a plain unique index would let both through).
    import pytest
    from sqlalchemy.exc import IntegrityError

    from app.orgs.models import Department

    for parent_id, name in ((store.id, "Ferskvare"), (None, "Region Midt")):
        session.add(Department(org_id=org.id, name=name, parent_id=parent_id))
        session.flush()
        with pytest.raises(IntegrityError), session.begin_nested():
            session.add(Department(org_id=org.id, name=name.upper(), parent_id=parent_id))
            session.flush()

"""Competitions between departments through HTTP: who may start one, standings, the finish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.competitions.service import finish_due_competitions
from tests import factories
from tests.conftest import auth_headers
from tests.gamification.play import play

URL = "/api/v1/competitions"


def body(*department_ids, **changes):
    payload = {
        "title": "Desember-dysten",
        "starts_at": "2026-11-23T00:00:00+01:00",
        "ends_at": "2026-12-07T00:00:00+01:00",
        "metric": "total",
        **changes,
    }
    if department_ids:
        payload["department_ids"] = list(department_ids)
    return payload


@pytest.fixture
def picker(session, org, warehouse):
    return factories.make_user(session, org, "picker", department=warehouse)


def test_a_manager_starts_one_between_departments_they_manage(
    client, session, org, store, checkout, as_manager, frozen_clock
):
    created = client.post(URL, json=body(store.id, checkout.id), headers=as_manager)
    assert created.status_code == 201, created.json
    assert created.json["status"] == "active"  # starts_at may be in the past
    assert created.json["metric"] == "total"
    assert set(created.json["department_ids"]) == {store.id, checkout.id}
    assert created.json["starts_at"] == "2026-11-22T23:00:00+00:00"
    # Without department_ids: the lowest departments the manager may act for, never the store
    # against its own sub-departments.
    alone = client.post(URL, json=body(), headers=as_manager)
    assert alone.status_code == 422  # the store has one sub-department: nobody to compete with
    fresh = factories.make_department(session, org, "Fersk", parent=store)
    default = client.post(URL, json=body(), headers=as_manager)
    assert default.status_code == 201
    assert set(default.json["department_ids"]) == {checkout.id, fresh.id}


def test_a_manager_cannot_use_someone_elses_department(client, store, warehouse, as_manager):
    answer = client.post(URL, json=body(store.id, warehouse.id), headers=as_manager)
    assert answer.status_code == 403
    assert answer.mimetype == "application/problem+json"


def test_a_learner_cannot_start_one(client, store, checkout, as_learner):
    assert client.post(URL, json=body(store.id, checkout.id), headers=as_learner).status_code == 403


def test_another_organisations_department_is_not_found(client, session, other_org, store, as_admin):
    elsewhere = factories.make_department(session, other_org, "Utland")
    assert client.post(URL, json=body(store.id, elsewhere.id), headers=as_admin).status_code == 404


def test_an_admin_may_use_any_department(client, store, warehouse, as_admin, frozen_clock):
    created = client.post(URL, json=body(store.id, warehouse.id), headers=as_admin)
    assert created.status_code == 201


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_at": "2026-11-22T00:00:00+01:00"}, "ends_at"),  # before it starts
        (
            {"starts_at": "2026-11-01T00:00:00+01:00", "ends_at": "2026-11-20T00:00:00+01:00"},
            "ends_at",
        ),
        ({"metric": "average"}, "metric"),
        ({"title": ""}, "title"),
        ({"starts_at": "2026-11-23T00:00:00"}, "starts_at"),  # no offset
    ],
)
def test_invalid_competitions(client, store, checkout, as_admin, frozen_clock, changes, field):
    answer = client.post(URL, json=body(store.id, checkout.id, **changes), headers=as_admin)
    assert answer.status_code == 422
    assert field in answer.json["errors"]


def test_one_department_is_no_competition(client, store, as_admin, frozen_clock):
    answer = client.post(URL, json=body(store.id), headers=as_admin)
    assert answer.status_code == 422
    assert "department_ids" in answer.json["errors"]


def test_creating_needs_a_login_and_json(client, as_admin):
    assert client.post(URL, json=body()).status_code == 401
    bad = client.post(URL, data="{", headers={**as_admin, "Content-Type": "application/json"})
    assert bad.status_code == 400


def test_listing_by_status(
    client, store, checkout, warehouse, as_admin, as_learner, as_other_org_admin, frozen_clock
):
    ids = {}
    for name, starts, ends in (
        ("past", "2026-11-01T00:00:00+01:00", "2026-11-25T10:00:00+00:00"),
        ("now", "2026-11-20T00:00:00+01:00", "2026-12-20T00:00:00+01:00"),
        ("soon", "2026-12-01T00:00:00+01:00", "2026-12-20T00:00:00+01:00"),
    ):
        if name == "past":
            frozen_clock.set(datetime(2026, 11, 24, tzinfo=UTC))
        created = client.post(
            URL,
            json=body(store.id, warehouse.id, title=name, starts_at=starts, ends_at=ends),
            headers=as_admin,
        )
        assert created.status_code == 201, created.json
        ids[name] = created.json["id"]
        frozen_clock.set(datetime(2026, 11, 25, 10, tzinfo=UTC))
    everything = client.get(URL, headers=as_learner).json
    assert [c["title"] for c in everything["items"]] == ["soon", "now", "past"]
    assert everything["next_cursor"] is None
    for status, title in (("active", "now"), ("upcoming", "soon"), ("finished", "past")):
        page = client.get(f"{URL}?status={status}", headers=as_learner).json
        assert [(c["title"], c["status"]) for c in page["items"]] == [(title, status)]
    first = client.get(f"{URL}?limit=2", headers=as_learner).json
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get(f"{URL}?limit=2&cursor={first['next_cursor']}", headers=as_learner).json
    assert [c["title"] for c in rest["items"]] == ["past"]
    assert client.get(f"{URL}?status=paused", headers=as_learner).status_code == 422
    assert client.get(URL, headers=as_other_org_admin).json["items"] == []


def test_standings_live_then_frozen_with_a_winner_and_badges(
    app,
    client,
    session,
    org,
    store,
    checkout,
    warehouse,
    module,
    learner,
    picker,
    as_admin,
    as_learner,
    frozen_clock,
):
    created = client.post(
        URL,
        json=body(checkout.id, warehouse.id, ends_at="2026-11-26T00:00:00+01:00"),
        headers=as_admin,
    ).json
    standings_url = f"{URL}/{created['id']}/standings"
    empty = client.get(standings_url, headers=as_learner).json
    assert [(e["rank"], e["score"]) for e in empty["entries"]] == [(1, 0), (2, 0)]
    play(client, session, module, auth_headers(session, picker), wrong=2)  # 35 for Lager
    frozen_clock.advance(minutes=10)
    play(client, session, module, as_learner)  # 80 for Kasse
    live = client.get(standings_url, headers=as_learner)
    assert live.status_code == 200
    assert live.json["competition"]["status"] == "active"
    assert [
        (e["rank"], e["department"]["name"], e["score"], e["members"]) for e in live.json["entries"]
    ] == [
        (1, "Kasse", 80, 1),
        (2, "Lager Nord", 35, 1),
    ]

    frozen_clock.set(datetime(2026, 11, 26, 9, tzinfo=UTC))  # over
    result = app.test_cli_runner().invoke(args=["competitions", "finish-due"])
    assert result.exit_code == 0, result.output
    assert "Finished 1 competition(s)" in result.output
    assert finish_due_competitions(session, now=frozen_clock.current) == []  # safe twice
    done = client.get(standings_url, headers=as_learner).json
    assert done["competition"]["status"] == "finished"
    assert done["competition"]["winner_department_id"] == checkout.id
    badges = client.get("/api/v1/me/badges", headers=as_learner).json
    assert "competition_won" in {b["code"] for b in badges["earned"]}
    loser = client.get("/api/v1/me/badges", headers=auth_headers(session, picker)).json
    assert "competition_won" not in {b["code"] for b in loser["earned"]}
    # Points after the end do not move frozen standings.
    second = factories.publish_module(session, org, factories.module_document(title="Etter"))
    play(client, session, second, auth_headers(session, picker))
    assert client.get(standings_url, headers=as_learner).json["entries"] == done["entries"]
    assert (
        client.get(f"{URL}?status=finished", headers=as_learner).json["items"][0]["id"]
        == created["id"]
    )


def test_per_member_and_ties(
    client,
    session,
    org,
    checkout,
    warehouse,
    module,
    learner,
    colleague,
    picker,
    as_admin,
    frozen_clock,
):
    created = client.post(
        URL, json=body(checkout.id, warehouse.id, metric="per_member"), headers=as_admin
    ).json
    play(client, session, module, auth_headers(session, picker))  # Lager: 80 / 1 member
    frozen_clock.advance(minutes=1)
    play(client, session, module, auth_headers(session, learner))  # Kasse: 80 / 2 members
    standings = client.get(f"{URL}/{created['id']}/standings", headers=as_admin).json
    assert [(e["department"]["name"], e["score"], e["points"]) for e in standings["entries"]] == [
        ("Lager Nord", 80, 80),
        ("Kasse", 40, 80),
    ]
    frozen_clock.advance(minutes=1)
    play(client, session, module, auth_headers(session, colleague))  # Kasse: 160 / 2 = 80
    tied = client.get(f"{URL}/{created['id']}/standings", headers=as_admin).json
    # Equal scores: Lager reached 80 first.
    assert [(e["rank"], e["department"]["name"], e["score"]) for e in tied["entries"]] == [
        (1, "Lager Nord", 80),
        (2, "Kasse", 80),
    ]


def test_standings_of_another_organisation_are_not_found(
    client, store, checkout, as_admin, as_other_org_admin, as_learner, frozen_clock
):
    created = client.post(URL, json=body(store.id, checkout.id), headers=as_admin).json
    assert (
        client.get(f"{URL}/{created['id']}/standings", headers=as_other_org_admin).status_code
        == 404
    )
    assert client.get(f"{URL}/nope/standings", headers=as_learner).status_code == 404
    assert client.get(f"{URL}/{created['id']}/standings").status_code == 401


def test_finish_with_no_points_has_no_winner(session, org, store, checkout, admin, frozen_clock):
    from app.competitions.service import create_competition

    competition = create_competition(
        session,
        user=admin,
        title="Stille uke",
        starts_at=frozen_clock.current,
        ends_at=frozen_clock.current + timedelta(days=1),
        metric="total",
        department_ids=[store.id, checkout.id],
        now=frozen_clock.current,
    )
    finished = finish_due_competitions(session, now=frozen_clock.current + timedelta(days=2))
    assert finished == [competition.id]
    assert competition.winner_department_id is None
    assert competition.finished_at is not None


def test_every_problem_of_a_competition_is_reported_at_once(client, store, as_admin, frozen_clock):
    # Over before it starts, already over, and one department: three problems, one answer.
    changes = {"starts_at": "2026-11-20T00:00:00+01:00", "ends_at": "2026-11-10T00:00:00+01:00"}
    answer = client.post(URL, json=body(store.id, **changes), headers=as_admin)
    assert answer.status_code == 422
    assert answer.json["errors"] == {
        "ends_at": ["Must be after starts_at.", "Must be in the future."],
        "department_ids": ["Give at least two departments."],
    }


def test_a_store_split_into_departments_competes_with_everyone_below_it(
    client, session, org, store, warehouse, module, learner, colleague, picker, manager,
    as_admin, frozen_clock,
):  # fmt: skip
    fresh = factories.make_department(session, org, "Fersk", parent=store)
    baker = factories.make_user(session, org, "baker", department=fresh)
    created = client.post(
        URL,
        json=body(store.id, warehouse.id, ends_at="2026-11-26T00:00:00+01:00"),
        headers=as_admin,
    ).json
    play(client, session, module, auth_headers(session, picker))  # Lager Nord: 80
    frozen_clock.advance(minutes=1)
    play(client, session, module, auth_headers(session, learner))  # the store: 80 in Kasse
    play(client, session, module, auth_headers(session, baker), wrong=2)  # and 35 in Fersk
    gone = client.patch(
        f"/api/v1/admin/users/{colleague.id}", json={"active": False}, headers=as_admin
    )
    assert gone.status_code == 200, gone.json
    standings = client.get(f"{URL}/{created['id']}/standings", headers=as_admin).json
    # The store counts everything below it; its members: learner, baker and the manager.
    assert [
        (e["rank"], e["department"]["name"], e["score"], e["points"], e["members"])
        for e in standings["entries"]
    ] == [(1, "Butikk Sentrum", 115, 115, 3), (2, "Lager Nord", 80, 80, 1)]

    frozen_clock.set(datetime(2026, 11, 26, 9, tzinfo=UTC))
    assert finish_due_competitions(session, now=frozen_clock.current) == [created["id"]]
    session.commit()
    for user, won in ((learner, True), (baker, True), (manager, True), (picker, False)):
        badges = client.get("/api/v1/me/badges", headers=auth_headers(session, user)).json
        assert ("competition_won" in {b["code"] for b in badges["earned"]}) is won, user.username

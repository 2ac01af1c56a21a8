"""The managers' endpoints over HTTP: scope, figures, follow-up reasons, exports, audit."""

from __future__ import annotations

import csv
import io

import openpyxl
import pypdf

from app.orgs.models import User
from tests import factories
from tests.conftest import auth_headers
from tests.paths.conftest import finish

BASE = "/api/v1/insights"


def test_scope_learners_managers_admins_and_other_orgs(
    client, session, org, store, checkout, warehouse, learner, as_learner, as_manager,
    as_admin, as_other_org_admin, region, as_region_manager,
):  # fmt: skip
    tree = client.get(f"{BASE}/departments", headers=as_manager)
    assert tree.status_code == 200
    assert [(d["name"], d["parent_id"]) for d in tree.json["items"]] == [
        ("Butikk Sentrum", None),
        ("Kasse", store.id),
    ]
    assert tree.json["items"][0]["members"] == 2  # the manager in the store, the learner below
    names = [d["name"] for d in client.get(f"{BASE}/departments", headers=as_admin).json["items"]]
    assert names == ["Butikk Sentrum", "Kasse", "Lager Nord", "Region Øst"]
    for path in ("", "/members", "/children", "/requirements", "/trend", "/questions"):
        assert (
            client.get(f"{BASE}/departments/{store.id}{path}", headers=as_manager).status_code
            == 200
        )
        assert (
            client.get(f"{BASE}/departments/{checkout.id}{path}", headers=as_manager).status_code
            == 200
        )
        assert (
            client.get(f"{BASE}/departments/{warehouse.id}{path}", headers=as_manager).status_code
            == 403
        )
        assert (
            client.get(
                f"{BASE}/departments/{store.id}{path}", headers=as_region_manager
            ).status_code
            == 403
        )
        assert (
            client.get(f"{BASE}/departments/{store.id}{path}", headers=as_learner).status_code
            == 403
        )
        assert (
            client.get(
                f"{BASE}/departments/{store.id}{path}", headers=as_other_org_admin
            ).status_code
            == 404
        )
        assert client.get(f"{BASE}/departments/{store.id}{path}").status_code == 401
        assert (
            client.get(f"{BASE}/departments/{warehouse.id}{path}", headers=as_admin).status_code
            == 200
        )
    assert client.get(f"{BASE}/departments", headers=as_learner).status_code == 403
    assert client.get(f"{BASE}/users/{learner.id}", headers=as_manager).status_code == 200
    assert client.get(f"{BASE}/users/{learner.id}", headers=as_region_manager).status_code == 403
    assert client.get(f"{BASE}/users/{learner.id}", headers=as_other_org_admin).status_code == 404
    assert client.get(f"{BASE}/users/{learner.id}", headers=as_learner).status_code == 403
    assert client.get(f"{BASE}/users/nope", headers=as_admin).status_code == 404


def test_bad_arguments_are_422(client, store, as_manager):
    for query in ("?week=2026-W99", "?week=nonsense", "?format=pdf", "?limit=0"):
        response = client.get(f"{BASE}/departments/{store.id}/members{query}", headers=as_manager)
        assert response.status_code == 422, query
        assert response.content_type == "application/problem+json"
    assert client.get(f"{BASE}/departments/{store.id}?week=2026-W54", headers=as_manager).json[
        "errors"
    ] == {"week": ["2026 has no week 54."]}
    assert (
        client.get(f"{BASE}/departments/{store.id}/trend?weeks=53", headers=as_manager).status_code
        == 422
    )
    assert (
        client.get(f"{BASE}/departments/{store.id}/training-record", headers=as_manager).status_code
        == 422
    )


def test_summary_members_and_follow_up(
    client, session, frozen_clock, org, store, checkout, learner, colleague, manager,
    as_manager, week_path, week_modules,
):  # fmt: skip
    finish(client, session, auth_headers(session, learner), week_modules[0])
    finish(client, session, auth_headers(session, learner), week_modules[1], correct=False)
    summary = client.get(f"{BASE}/departments/{store.id}", headers=as_manager).json
    assert summary["week"] == "2026-W48"
    assert summary["department"] == {"id": store.id, "name": "Butikk Sentrum"}
    assert summary["members"] == 3 and summary["active_members"] == 1
    # The failed voluntary module is completed but not done: the path counts passes.
    assert summary["path_completion_rate"] == round(1 / 6, 4)
    assert summary["mandatory_compliance_rate"] == round(1 / 3, 4)
    assert summary["average_score"] == 0.5
    assert summary["points"] > 0
    checkout_only = client.get(f"{BASE}/departments/{checkout.id}", headers=as_manager).json
    assert checkout_only["members"] == 2

    # After the due time, whoever has not done the mandatory module needs follow-up.
    frozen_clock.advance(days=3)
    rows = client.get(
        f"{BASE}/departments/{store.id}/members?week=2026-W48",
        headers={**as_manager, "Accept-Language": "en"},
    ).json["items"]
    by_name = {row["user"]["display_name"]: row for row in rows}
    assert list(by_name) == ["Colleague", "Learner", "Manager"]
    assert by_name["Learner"]["modules_completed"] == 2
    assert by_name["Learner"]["mandatory_missing"] == 0
    assert by_name["Learner"]["needs_follow_up"] is False
    assert by_name["Learner"]["average_score"] == 0.5
    reason = by_name["Colleague"]["follow_up_reasons"][0]
    assert reason["code"] == "mandatory_overdue"
    assert reason["text"] == "mandatory module overdue (The cold chain)"
    assert by_name["Colleague"]["mandatory_missing"] == 1
    only = client.get(
        f"{BASE}/departments/{store.id}/members?follow_up=true", headers=as_manager
    ).json["items"]
    assert "Learner" not in [row["user"]["display_name"] for row in only]

    # Paging by name.
    page = client.get(
        f"{BASE}/departments/{store.id}/members?week=2026-W48&limit=2", headers=as_manager
    ).json
    assert [r["user"]["display_name"] for r in page["items"]] == ["Colleague", "Learner"]
    rest = client.get(
        f"{BASE}/departments/{store.id}/members?week=2026-W48&limit=2&cursor={page['next_cursor']}",
        headers=as_manager,
    ).json
    assert [r["user"]["display_name"] for r in rest["items"]] == ["Manager"]
    assert rest["next_cursor"] is None


def test_inactivity_and_requirement_reasons_in_norwegian(
    client, session, frozen_clock, org, store, learner, colleague, as_manager, as_admin, module,
):  # fmt: skip
    requirement = client.post(
        "/api/v1/admin/requirements",
        json={"module_id": module.id, "validity_months": 12},
        headers=as_admin,
    ).json
    finish(client, session, auth_headers(session, learner), module)
    frozen_clock.advance(days=365 - 9)
    rows = client.get(
        f"{BASE}/departments/{store.id}/members", headers={**as_manager, "Accept-Language": "nb"}
    ).json["items"]
    learner_row = next(r for r in rows if r["user"]["id"] == learner.id)
    codes = {r["code"]: r for r in learner_row["follow_up_reasons"]}
    assert codes["requirement_expiring"]["days"] == 9
    assert codes["requirement_expiring"]["requirement_id"] == requirement["id"]
    assert codes["requirement_expiring"]["text"] == "Kjølekjeden går ut om 9 dager"
    assert codes["inactive"]["text"] == "ikke aktiv på 356 dager"
    colleague_row = next(r for r in rows if r["user"]["id"] == colleague.id)
    assert {r["code"] for r in colleague_row["follow_up_reasons"]} == {
        "requirement_overdue",
        "never_active",
    }


def test_members_csv_and_excel_are_recorded(
    client, session, frozen_clock, org, store, learner, colleague, manager, as_manager, as_admin,
):  # fmt: skip
    session.get(User, learner.id).display_name = "Åse Ødegård"
    session.flush()
    response = client.get(
        f"{BASE}/departments/{store.id}/members", headers={**as_manager, "Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert table[0][:3] == ["Navn", "Brukernavn", "Avdeling"]
    assert sorted(row[0] for row in table[1:]) == ["Colleague", "Manager", "Åse Ødegård"]

    response = client.get(f"{BASE}/departments/{store.id}/members?format=xlsx", headers=as_manager)
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True).active
    values = list(sheet.values)
    assert values[0][0] == "Navn"
    assert sorted(row[0] for row in values[1:]) == ["Colleague", "Manager", "Åse Ødegård"]

    trail = client.get("/api/v1/admin/audit", headers=as_admin).json["items"]
    assert [(e["action"], e["actor_id"], e["target"], e["details"]["format"]) for e in trail] == [
        ("insights.members.export", manager.id, store.id, "xlsx"),
        ("insights.members.export", manager.id, store.id, "csv"),
    ]
    assert client.get("/api/v1/admin/audit", headers=as_manager).status_code == 403
    # Looking at the list is not an export.
    client.get(f"{BASE}/departments/{store.id}/members", headers=as_manager)
    assert len(client.get("/api/v1/admin/audit", headers=as_admin).json["items"]) == 2
    # A refused export is not recorded either.
    warehouse = factories.make_department(session, org, "Annet")
    assert (
        client.get(
            f"{BASE}/departments/{warehouse.id}/members?format=csv", headers=as_manager
        ).status_code
        == 403
    )
    assert len(client.get("/api/v1/admin/audit", headers=as_admin).json["items"]) == 2


def test_requirement_matrix_training_record_and_user_record(
    client, session, frozen_clock, org, store, checkout, learner, colleague, as_manager,
    as_admin, module,
):  # fmt: skip
    everyone = client.post(
        "/api/v1/admin/requirements", json={"module_id": module.id, "validity_months": 12},
        headers=as_admin,
    ).json  # fmt: skip
    finish(client, session, auth_headers(session, learner), module)
    frozen_clock.advance(days=2)
    matrix = client.get(f"{BASE}/departments/{checkout.id}/requirements", headers=as_manager).json
    assert matrix["requirements"] == [
        {"id": everyone["id"], "module_id": module.id, "title": "Kjølekjeden"}
    ]
    states = {row["user"]["id"]: row["states"][everyone["id"]] for row in matrix["members"]}
    assert states[learner.id]["status"] == "valid"
    assert states[learner.id]["valid_until"].startswith("2027-11-25")
    assert states[colleague.id]["status"] == "missing"

    sheet = client.get(
        f"{BASE}/departments/{checkout.id}/requirements?format=xlsx", headers=as_manager
    )
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.data), read_only=True).active.values)
    assert rows[0][3:] == ("Kjølekjeden", "Kjølekjeden – gyldig til")
    assert ("Learner", "learner", "Kasse", "gyldig", "2027-11-25") in rows

    pdf = client.get(
        f"{BASE}/departments/{store.id}/training-record?requirement_id={everyone['id']}",
        headers={**as_manager, "Accept-Language": "en"},
    )
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Training record: The cold chain" in text
    assert "Learner" in text and "2026-11-25" in text and "2027-11-25" in text
    assert "Colleague" in text and "missing" in text
    assert "1 of 3 hold valid training" in text
    assert (
        client.get(
            f"{BASE}/departments/{store.id}/training-record?requirement_id=nope", headers=as_manager
        ).status_code
        == 404
    )
    actions = [
        e["action"] for e in client.get("/api/v1/admin/audit", headers=as_admin).json["items"]
    ]
    assert actions == ["insights.training_record.export", "insights.requirements.export"]

    record = client.get(f"{BASE}/users/{learner.id}", headers=as_manager).json
    assert record["user"]["id"] == learner.id
    assert record["department"] == {"id": checkout.id, "name": "Kasse"}
    assert [m["module_id"] for m in record["modules"]] == [module.id]
    assert record["modules"][0]["score"] == {"correct": 3, "total": 3}
    assert record["requirements"][0]["status"] == "valid"
    assert record["points"]["total"] > 0
    assert record["streak"]["current"] >= 0
    assert record["last_active_at"].startswith("2026-11-25")


def test_weak_questions_need_five_people(
    client, session, frozen_clock, org, store, checkout, as_manager, module,
):  # fmt: skip
    people = [factories.make_user(session, org, f"p{n}", department=checkout) for n in range(5)]
    for person in people[:4]:
        finish(client, session, auth_headers(session, person), module, correct=False)
    url = f"{BASE}/departments/{store.id}/questions"
    assert client.get(url, headers=as_manager).json["items"] == []
    finish(client, session, auth_headers(session, people[4]), module)
    items = client.get(url, headers={**as_manager, "Accept-Language": "en"}).json["items"]
    assert len(items) == 3
    assert {i["answered_by"] for i in items} == {5}
    assert {i["wrong_rate"] for i in items} == {0.8}
    assert "How cold must chilled goods be?" in [i["prompt"] for i in items]


def test_children_and_trend(
    client, session, frozen_clock, org, region, region_store, as_region_manager, module,
):  # fmt: skip
    second = factories.make_department(session, org, "Butikk Vest", parent=region)
    east = factories.make_user(session, org, "east", department=region_store)
    factories.make_user(session, org, "west", department=second)
    finish(client, session, auth_headers(session, east), module)
    children = client.get(
        f"{BASE}/departments/{region.id}/children", headers=as_region_manager
    ).json
    assert [
        (c["department"]["name"], c["members"], c["active_members"]) for c in children["items"]
    ] == [
        ("Butikk Vest", 1, 0),
        ("Butikk Øst", 1, 1),
    ]
    frozen_clock.advance(days=7)
    trend = client.get(
        f"{BASE}/departments/{region.id}/trend?weeks=3", headers=as_region_manager
    ).json
    assert [w["week"] for w in trend["items"]] == ["2026-W47", "2026-W48", "2026-W49"]
    assert [w["active_members"] for w in trend["items"]] == [0, 1, 0]
    assert [w["members"] for w in trend["items"]] == [0, 3, 3]


def test_a_completion_shows_within_the_cache_bound(
    app, client, session, frozen_clock, org, store, learner, as_manager, week_path, week_modules,
    monkeypatch,
):  # fmt: skip
    monkeypatch.setitem(app.config, "INSIGHTS_CACHE_SECONDS", 4)
    summary, members = f"{BASE}/departments/{store.id}", f"{BASE}/departments/{store.id}/members"

    def mine() -> dict:
        rows = client.get(members, headers=as_manager).json["items"]
        return next(row for row in rows if row["user"]["id"] == learner.id)

    before = client.get(summary, headers=as_manager).json
    assert before["active_members"] == 0
    assert mine()["modules_completed"] == 0
    finish(client, session, auth_headers(session, learner), week_modules[0])
    # Kept figures are shown while young...
    frozen_clock.advance(seconds=1)
    assert client.get(summary, headers=as_manager).json == before
    assert mine()["modules_completed"] == 0
    # ...and never older than the bound: 4 s after they were computed, the completion shows.
    frozen_clock.advance(seconds=3)
    after = client.get(summary, headers=as_manager).json
    assert after["active_members"] == 1
    assert after["points"] > before["points"]
    assert after["path_completion_rate"] > (before["path_completion_rate"] or 0)
    assert mine()["modules_completed"] == 1


def test_one_process_refreshes_kept_figures_while_the_others_serve_them(
    app, client, session, frozen_clock, org, store, learner, as_manager, week_path, week_modules,
    monkeypatch,
):  # fmt: skip
    from app.extensions import get_redis
    from app.insights import cache

    monkeypatch.setitem(app.config, "INSIGHTS_CACHE_SECONDS", 4)
    url = f"{BASE}/departments/{store.id}"
    assert client.get(url, headers=as_manager).json["active_members"] == 0
    finish(client, session, auth_headers(session, learner), week_modules[0])
    frozen_clock.advance(seconds=3)  # a second before the bound: time to refresh
    # Another process claimed the refresh: this one serves the kept figures meanwhile.
    key = cache.key(org.id, "summary", store.id, "2026-W48")
    assert cache.claim(get_redis(), key, seconds=1)
    assert client.get(url, headers=as_manager).json["active_members"] == 0
    # At the bound nobody serves them any more: this request waits for the other process's
    # figures while it holds its claim, and computes them itself once the claim lapsed.
    frozen_clock.advance(seconds=1)
    assert client.get(url, headers=as_manager).json["active_members"] == 1
    # Without a claim, the first request when it is time to refresh gets the kept figures
    # and starts their refresh (here, bound to the test's transaction, before it answers):
    # the next one gets the new figures.
    points = client.get(url, headers=as_manager).json["points"]
    finish(client, session, auth_headers(session, learner), week_modules[1])
    frozen_clock.advance(seconds=2)
    assert client.get(url, headers=as_manager).json["points"] == points
    frozen_clock.advance(seconds=1)
    assert client.get(url, headers=as_manager).json["points"] == points
    assert client.get(url, headers=as_manager).json["points"] > points


def test_without_the_cache_a_completion_shows_at_once(
    app, client, session, frozen_clock, org, store, learner, as_manager, week_path, week_modules,
    monkeypatch,
):  # fmt: skip
    monkeypatch.setitem(app.config, "INSIGHTS_CACHE_SECONDS", 0)
    url = f"{BASE}/departments/{store.id}"
    before = client.get(url, headers=as_manager).json
    assert before["active_members"] == 0
    finish(client, session, auth_headers(session, learner), week_modules[0])
    after = client.get(url, headers=as_manager).json
    assert after["active_members"] == 1
    members = client.get(f"{url}/members", headers=as_manager).json["items"]
    assert [r["modules_completed"] for r in members if r["user"]["id"] == learner.id] == [1]


def test_kept_figures_are_per_organisation_department_and_week(
    app, client, session, frozen_clock, org, other_org, store, checkout, learner, manager,
    as_manager, week_path, week_modules, monkeypatch,
):  # fmt: skip
    """The scope is checked before anything kept is read, and figures kept for one
    department, week or organisation are never served for another."""
    monkeypatch.setitem(app.config, "INSIGHTS_CACHE_SECONDS", 4)
    finish(client, session, auth_headers(session, learner), week_modules[0])
    base = f"{BASE}/departments"
    whole = client.get(f"{base}/{store.id}", headers=as_manager).json
    part = client.get(f"{base}/{checkout.id}", headers=as_manager).json
    last_week = client.get(f"{base}/{store.id}?week=2026-W47", headers=as_manager).json
    assert (whole["members"], part["members"], last_week["active_members"]) == (2, 1, 0)
    assert whole["active_members"] == 1
    elsewhere = factories.make_department(session, other_org, "Butikk Rival")
    rival = factories.make_user(session, other_org, "rivalboss", roles=["admin"])
    as_rival = auth_headers(session, rival)
    assert client.get(f"{base}/{store.id}", headers=as_rival).status_code == 404
    assert client.get(f"{base}/{elsewhere.id}", headers=as_manager).status_code == 404
    colleague_view = auth_headers(session, learner)
    assert client.get(f"{base}/{store.id}", headers=colleague_view).status_code == 403


def test_me_names_the_departments_a_manager_manages(client, store, as_manager, as_learner):
    me = client.get("/api/v1/me", headers=as_manager).json
    assert me["manages"] == [{"id": store.id, "name": "Butikk Sentrum"}]
    assert client.get("/api/v1/me", headers=as_learner).json["manages"] == []


def test_nudge_only_those_who_need_follow_up_names_them(
    client, session, frozen_clock, org, store, learner, colleague, as_manager, week_path,
    week_modules,
):  # fmt: skip
    finish(client, session, auth_headers(session, learner), week_modules[0])
    frozen_clock.advance(days=3)  # past Friday's due time: the colleague is overdue
    response = client.post(
        "/api/v1/nudges",
        json={"department_id": store.id, "only_follow_up": True, "message": "Husk modulen!"},
        headers=as_manager,
    )
    assert response.status_code == 202
    assert response.json["recipients"] == [{"id": colleague.id, "display_name": "Colleague"}]
    assert response.json["queued"] == [colleague.id]
    everyone = client.post(
        "/api/v1/nudges",
        json={"user_ids": [learner.id, colleague.id], "only_follow_up": True, "message": "x"},
        headers=as_manager,
    ).json
    assert everyone["recipients"] == []  # the learner needs none; the colleague had one today
    assert everyone["skipped"] == [{"user_id": colleague.id, "reason": "already_nudged_today"}]


def test_a_module_completed_without_answers_makes_nobody_compliant(
    client, session, frozen_clock, org, store, learner, as_manager, week_path, week_modules
):  # fmt: skip
    headers = auth_headers(session, learner)
    attempt = client.post(f"/api/v1/modules/{week_modules[0].id}/attempts", headers=headers)
    done = client.post(f"/api/v1/attempts/{attempt.json['id']}/complete", headers=headers)
    assert done.status_code == 200
    summary = client.get(f"{BASE}/departments/{store.id}", headers=as_manager).json
    assert summary["active_members"] == 1  # it was completed (the contract's `completed`)
    assert summary["path_completion_rate"] == 0.0
    assert summary["mandatory_compliance_rate"] == 0.0
    rows = client.get(f"{BASE}/departments/{store.id}/members", headers=as_manager).json["items"]
    [mine] = [row for row in rows if row["user"]["id"] == learner.id]
    assert mine["mandatory_missing"] == 1


def test_an_erased_person_leaves_the_kept_members_list_at_once(
    app, client, session, frozen_clock, org, store, learner, as_manager, as_admin, monkeypatch,
):  # fmt: skip
    monkeypatch.setitem(app.config, "INSIGHTS_CACHE_SECONDS", 4)
    url = f"{BASE}/departments/{store.id}/members"
    names = [
        row["user"]["display_name"] for row in client.get(url, headers=as_manager).json["items"]
    ]
    assert learner.display_name in names
    response = client.post(f"/api/v1/admin/users/{learner.id}/erase", headers=as_admin)
    assert response.status_code == 202
    rows = client.get(url, headers=as_manager).json["items"]
    assert learner.id not in [row["user"]["id"] for row in rows]
    assert learner.display_name not in [row["user"]["display_name"] for row in rows]


def test_one_kept_members_list_serves_every_language(
    app, client, session, frozen_clock, org, store, learner, colleague, as_manager, week_path,
    week_modules, monkeypatch,
):  # fmt: skip
    monkeypatch.setitem(app.config, "INSIGHTS_CACHE_SECONDS", 4)
    frozen_clock.advance(days=3)  # past Friday's due time: the mandatory module is overdue
    url = f"{BASE}/departments/{store.id}/members?follow_up=true"
    texts = {}
    for language in ("en", "nb", "en"):
        rows = client.get(url, headers={**as_manager, "Accept-Language": language}).json["items"]
        mine = next(row for row in rows if row["user"]["id"] == colleague.id)
        texts.setdefault(language, set()).add(mine["follow_up_reasons"][0]["text"])
    assert texts == {
        "en": {"mandatory module overdue (The cold chain)"},
        "nb": {"obligatorisk modul på overtid (Modul 1)"},
    }

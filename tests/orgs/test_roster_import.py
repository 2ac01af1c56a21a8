"""Admin: the HR roster CSV import, all or nothing with a per-row error report."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from app.orgs.models import Department, User
from tests import factories
from tests.api.test_errors import assert_problem

IMPORT = "/api/v1/admin/users/import"
HEADER = "username,display_name,department,roles\n"


def post_csv(client, headers, text, query="", encoding="utf-8"):
    return client.post(
        f"{IMPORT}{query}", data=text.encode(encoding), content_type="text/csv", headers=headers
    )


def user_count(session, org):
    return session.scalar(select(func.count()).select_from(User).where(User.org_id == org.id))


def by_username(session, org, username):
    session.expire_all()
    return session.scalar(select(User).where(User.org_id == org.id, User.username == username))


def test_a_csv_body_creates_and_updates_users(
    client, session, org, store, checkout, learner, as_admin
):
    text = (
        HEADER
        + "kari,Kari Nordmann,Kasse,learner\n"
        + "ola,Ola Hansen,butikk sentrum,learner;manager\n"
        + "learner,Lars Læring,Butikk Sentrum,learner|editor\n"
    )
    response = post_csv(client, as_admin, text)
    assert response.status_code == 200, response.json
    assert response.json == {"created": 2, "updated": 1, "errors": []}
    kari = by_username(session, org, "kari")
    assert kari.display_name == "Kari Nordmann"
    assert kari.department_id == checkout.id
    assert kari.roles == ["learner"]
    assert by_username(session, org, "ola").roles == ["learner", "manager"]
    assert by_username(session, org, "ola").department_id == store.id  # names match case-blind
    updated = by_username(session, org, "learner")
    assert updated.id == learner.id
    assert updated.display_name == "Lars Læring"
    assert updated.department_id == store.id
    assert updated.roles == ["learner", "editor"]


def test_a_multipart_file_upload_works_too(client, session, org, checkout, as_admin):
    data = {"file": (io.BytesIO((HEADER + "kari,Kari,Kasse,learner\n").encode()), "roster.csv")}
    response = client.post(IMPORT, data=data, content_type="multipart/form-data", headers=as_admin)
    assert response.status_code == 200, response.json
    assert response.json["created"] == 1
    assert by_username(session, org, "kari") is not None


def test_multipart_without_a_file_is_422(client, as_admin):
    response = client.post(
        IMPORT, data={"other": "x"}, content_type="multipart/form-data", headers=as_admin
    )
    body = assert_problem(response, 422)
    assert "file" in body["errors"]


def test_a_utf8_bom_from_excel_is_accepted(client, session, org, checkout, as_admin):
    response = post_csv(client, as_admin, "\ufeff" + HEADER + "kari,Kari,Kasse,learner\n")
    assert response.json == {"created": 1, "updated": 0, "errors": []}


def test_a_password_column_lets_new_users_log_in(client, org, as_admin):
    text = "username,display_name,department,roles,password\nkari,Kari,,learner,a good password\n"
    assert post_csv(client, as_admin, text).json["created"] == 1
    response = client.post(
        "/api/v1/auth/login",
        json={"organization": "acme", "username": "kari", "password": "a good password"},
    )
    assert response.status_code == 200


def test_imported_users_without_a_password_cannot_log_in_yet(client, org, as_admin):
    assert post_csv(client, as_admin, HEADER + "kari,Kari,,learner\n").json["created"] == 1
    for password in ("!", "", "password"):
        response = client.post(
            "/api/v1/auth/login",
            json={"organization": "acme", "username": "kari", "password": password or "x"},
        )
        assert response.status_code == 401


def test_one_bad_row_imports_nothing_and_every_error_is_reported(
    client, session, org, checkout, learner, as_admin
):
    before = user_count(session, org)
    text = (
        HEADER
        + "kari,Kari,Kasse,learner\n"  # fine
        + "learner,Renamed,Kasse,learner\n"  # fine (an update)
        + ",No Username,Kasse,learner\n"  # row 4: username
        + "per,,Nowhere,boss\n"  # row 5: display_name, department, roles
        + "kari,Kari Again,Kasse,learner\n"  # row 6: duplicate in file
    )
    response = post_csv(client, as_admin, text)
    assert response.status_code == 200
    report = response.json
    assert report["created"] == 0 and report["updated"] == 0
    found = {(e["row"], e["field"]) for e in report["errors"]}
    assert found == {
        (4, "username"),
        (5, "display_name"),
        (5, "department"),
        (5, "roles"),
        (6, "username"),
    }
    assert all(e["message"] for e in report["errors"])
    assert user_count(session, org) == before
    assert by_username(session, org, "kari") is None
    assert by_username(session, org, "learner").display_name == learner.display_name


def test_missing_columns_are_reported(client, session, org, as_admin):
    before = user_count(session, org)
    response = post_csv(client, as_admin, "username,name\nkari,Kari\n")
    report = response.json
    assert report["created"] == 0 and report["updated"] == 0
    assert len(report["errors"]) == 1
    assert report["errors"][0]["row"] == 1
    assert "display_name" in report["errors"][0]["message"]
    assert "department" in report["errors"][0]["message"]
    assert user_count(session, org) == before


def test_an_empty_file_is_reported(client, as_admin):
    report = post_csv(client, as_admin, "").json
    assert report["created"] == 0 and report["errors"]


def test_an_unknown_department_is_an_error_unless_asked_to_create_it(
    client, session, org, as_admin
):
    text = HEADER + "kari,Kari,Frukt og grønt,learner\nola,Ola,Frukt og grønt,learner\n"
    report = post_csv(client, as_admin, text).json
    assert report["created"] == 0
    assert {(e["row"], e["field"]) for e in report["errors"]} == {
        (2, "department"),
        (3, "department"),
    }

    report = post_csv(client, as_admin, text, query="?create_departments=true").json
    assert report == {"created": 2, "updated": 0, "errors": []}
    departments = session.scalars(
        select(Department).where(Department.org_id == org.id, Department.name == "Frukt og grønt")
    ).all()
    assert len(departments) == 1  # created once, used by both rows
    assert by_username(session, org, "ola").department_id == departments[0].id


def test_a_bad_create_departments_value_is_422(client, as_admin):
    body = assert_problem(
        post_csv(client, as_admin, HEADER, query="?create_departments=maybe"), 422
    )
    assert "create_departments" in body["errors"]


def test_non_utf8_is_422(client, session, org, as_admin):
    before = user_count(session, org)
    response = post_csv(
        client, as_admin, HEADER + "bjorn,Bjørn Ærlig,,learner\n", encoding="latin-1"
    )
    body = assert_problem(response, 422)
    assert "file" in body["errors"]
    assert user_count(session, org) == before


def test_non_utf8_upload_is_422(client, as_admin):
    data = {"file": (io.BytesIO((HEADER + "bjorn,Bjørn,,learner\n").encode("cp1252")), "r.csv")}
    response = client.post(IMPORT, data=data, content_type="multipart/form-data", headers=as_admin)
    assert_problem(response, 422)


def test_a_json_body_is_415(client, as_admin):
    assert_problem(client.post(IMPORT, json={"rows": []}, headers=as_admin), 415)


def test_a_row_with_too_many_fields_is_reported_not_a_crash(client, session, org, as_admin):
    before = user_count(session, org)
    response = post_csv(client, as_admin, HEADER + "kari,Kari,,learner,surplus\n")
    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.json
    assert report["created"] == 0
    assert report["errors"] and report["errors"][0]["row"] == 2
    assert user_count(session, org) == before


def test_values_the_api_would_refuse_are_refused_in_the_roster_too(client, session, org, as_admin):
    text = (
        HEADER
        + "has space,Kari,,learner\n"
        + f"{'u' * 151},Kari,,learner\n"
        + f"kari,{'K' * 201},,learner\n"
        + f"ola,Ola,{'D' * 201},learner\n"
    )
    response = post_csv(client, as_admin, text, query="?create_departments=true")
    assert response.status_code == 200, response.get_data(as_text=True)
    found = {(e["row"], e["field"]) for e in response.json["errors"]}
    assert found == {(2, "username"), (3, "username"), (4, "display_name"), (5, "department")}
    assert response.json["created"] == 0


def test_a_nul_character_in_a_cell_is_a_row_error(client, org, as_admin):
    report = post_csv(client, as_admin, HEADER + "kari,Ka\x00ri,,learner\n").json
    assert {(e["row"], e["field"]) for e in report["errors"]} == {(2, "display_name")}


def test_repeated_roles_in_a_row_are_stored_once(client, session, org, as_admin):
    assert (
        post_csv(client, as_admin, HEADER + "kari,Kari,,learner;editor;learner\n").json["created"]
        == 1
    )
    assert by_username(session, org, "kari").roles == ["learner", "editor"]


def test_a_short_password_in_the_roster_is_refused(client, org, as_admin):
    text = "username,display_name,department,roles,password\nkari,Kari,,learner,short\n"
    report = post_csv(client, as_admin, text).json
    assert {(e["row"], e["field"]) for e in report["errors"]} == {(2, "password")}


def test_another_orgs_users_are_not_touched(client, session, other_org, other_org_admin, as_admin):
    # "admin" exists in both orgs; the import updates ours only.
    response = post_csv(client, as_admin, HEADER + "admin,Vår Admin,,admin\n")
    assert response.json == {"created": 0, "updated": 1, "errors": []}
    session.refresh(other_org_admin)
    assert other_org_admin.display_name != "Vår Admin"
    # A department name that exists only in the other org is unknown here.
    factories.make_department(session, other_org, "Deres avdeling")
    report = post_csv(client, as_admin, HEADER + "kari,Kari,Deres avdeling,learner\n").json
    assert {(e["row"], e["field"]) for e in report["errors"]} == {(2, "department")}


def test_a_started_on_column_sets_first_working_days(client, session, org, learner, as_admin):
    from datetime import date

    text = (
        "username,display_name,department,roles,started_on\n"
        + "kari,Kari Nordmann,,learner,2019-03-04\n"
        + "nils,Nils Ny,,learner,\n"
        + "learner,Lars Læring,,learner,2021-08-16\n"
    )
    response = post_csv(client, as_admin, text)
    assert response.json == {"created": 2, "updated": 1, "errors": []}
    assert by_username(session, org, "kari").started_on == date(2019, 3, 4)
    assert by_username(session, org, "nils").started_on is None  # from the day of the import
    assert by_username(session, org, "learner").started_on == date(2021, 8, 16)
    # Left empty later, a known first day stays.
    again = post_csv(client, as_admin, "username,display_name,department,roles,started_on\n"
                     "kari,Kari Nordmann,,learner,\n")  # fmt: skip
    assert again.json["errors"] == []
    assert by_username(session, org, "kari").started_on == date(2019, 3, 4)


def test_a_started_on_that_is_not_a_date_is_a_row_error(client, session, org, as_admin):
    text = "username,display_name,department,roles,started_on\nkari,Kari,,learner,04.03.2019\n"
    response = post_csv(client, as_admin, text)
    assert response.json["errors"] == [
        {"row": 2, "field": "started_on", "message": "A date as YYYY-MM-DD."}
    ]
    assert by_username(session, org, "kari") is None

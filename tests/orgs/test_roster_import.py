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


def counts(response):
    """The totals of a successful import."""
    assert response.status_code == 200, response.get_data(as_text=True)
    return {key: response.json[key] for key in ("created", "updated", "errors")}


def refused(response):
    """The per-row problems of a refused import (a 422 problem)."""
    body = assert_problem(response, 422)
    assert "nothing was imported" in body["detail"]
    for problem in body["problems"]:
        assert problem["message"] in body["errors"][f"rows[{problem['row']}].{problem['field']}"]
    return body["problems"]


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
    assert counts(response) == {"created": 2, "updated": 1, "errors": []}
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
    assert counts(response) == {"created": 1, "updated": 0, "errors": []}


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
    problems = refused(response)
    found = {(e["row"], e["field"]) for e in problems}
    assert found == {
        (4, "username"),
        (5, "display_name"),
        (5, "department"),
        (5, "roles"),
        (6, "username"),
    }
    assert all(e["message"] for e in problems)
    assert user_count(session, org) == before
    assert by_username(session, org, "kari") is None
    assert by_username(session, org, "learner").display_name == learner.display_name


def test_missing_columns_are_reported(client, session, org, as_admin):
    before = user_count(session, org)
    response = post_csv(client, as_admin, "username,name\nkari,Kari\n")
    problems = refused(response)
    assert len(problems) == 1
    assert problems[0]["row"] == 1
    assert "display_name" in problems[0]["message"]
    assert "department" in problems[0]["message"]
    assert "semicolons" in problems[0]["message"]  # says what was expected
    assert user_count(session, org) == before


def test_an_empty_file_is_reported(client, as_admin):
    assert refused(post_csv(client, as_admin, ""))


def test_an_unknown_department_is_an_error_unless_asked_to_create_it(
    client, session, org, as_admin
):
    text = HEADER + "kari,Kari,Frukt og grønt,learner\nola,Ola,Frukt og grønt,learner\n"
    assert {(e["row"], e["field"]) for e in refused(post_csv(client, as_admin, text))} == {
        (2, "department"),
        (3, "department"),
    }

    response = post_csv(client, as_admin, text, query="?create_departments=true")
    assert counts(response) == {"created": 2, "updated": 0, "errors": []}
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
    problems = refused(response)
    assert problems and problems[0]["row"] == 2
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
    found = {(e["row"], e["field"]) for e in refused(response)}
    assert found == {(2, "username"), (3, "username"), (4, "display_name"), (5, "department")}


def test_a_nul_character_in_a_cell_is_a_row_error(client, org, as_admin):
    problems = refused(post_csv(client, as_admin, HEADER + "kari,Ka\x00ri,,learner\n"))
    assert {(e["row"], e["field"]) for e in problems} == {(2, "display_name")}


def test_repeated_roles_in_a_row_are_stored_once(client, session, org, as_admin):
    assert (
        post_csv(client, as_admin, HEADER + "kari,Kari,,learner;editor;learner\n").json["created"]
        == 1
    )
    assert by_username(session, org, "kari").roles == ["learner", "editor"]


def test_a_short_password_in_the_roster_is_refused(client, org, as_admin):
    text = "username,display_name,department,roles,password\nkari,Kari,,learner,short\n"
    problems = refused(post_csv(client, as_admin, text))
    assert {(e["row"], e["field"]) for e in problems} == {(2, "password")}


def test_another_orgs_users_are_not_touched(client, session, other_org, other_org_admin, as_admin):
    # "admin" exists in both orgs; the import updates ours only.
    response = post_csv(client, as_admin, HEADER + "admin,Vår Admin,,admin\n")
    assert counts(response) == {"created": 0, "updated": 1, "errors": []}
    session.refresh(other_org_admin)
    assert other_org_admin.display_name != "Vår Admin"
    # A department name that exists only in the other org is unknown here.
    factories.make_department(session, other_org, "Deres avdeling")
    problems = refused(post_csv(client, as_admin, HEADER + "kari,Kari,Deres avdeling,learner\n"))
    assert {(e["row"], e["field"]) for e in problems} == {(2, "department")}


def test_a_started_on_column_sets_first_working_days(client, session, org, learner, as_admin):
    from datetime import date

    text = (
        "username,display_name,department,roles,started_on\n"
        + "kari,Kari Nordmann,,learner,2019-03-04\n"
        + "nils,Nils Ny,,learner,\n"
        + "learner,Lars Læring,,learner,2021-08-16\n"
    )
    response = post_csv(client, as_admin, text)
    assert counts(response) == {"created": 2, "updated": 1, "errors": []}
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
    assert refused(response) == [
        {"row": 2, "field": "started_on", "message": "A date as YYYY-MM-DD."}
    ]
    assert by_username(session, org, "kari") is None


# --- separators, byte order marks, which department each row got ----------------------------


def test_a_semicolon_separated_file_from_norwegian_excel_is_read(
    client, session, org, checkout, as_admin
):
    # Excel in Norwegian saves "CSV UTF-8" with a BOM and `;`; roles are quoted when they hold `;`.
    text = (
        "\ufeffusername;display_name;department;roles\r\n"
        'kari;Kari Nordmann;Kasse;"learner;manager"\r\n'
        "ola;Ola, fra Bergen;Kasse;learner\r\n"
    )
    response = post_csv(client, as_admin, text)
    assert counts(response) == {"created": 2, "updated": 0, "errors": []}
    assert response.json["delimiter"] == "semicolon"
    assert by_username(session, org, "kari").roles == ["learner", "manager"]
    assert by_username(session, org, "ola").display_name == "Ola, fra Bergen"


def test_a_tab_separated_utf16_file_is_read(client, session, org, checkout, as_admin):
    # Excel's "Unicode text": UTF-16 with a BOM, tab-separated.
    text = "Username\tDisplay_Name\tDepartment\tRoles\r\nbjorn\tBjørn Ærlig\tKasse\tlearner\r\n"
    response = post_csv(client, as_admin, text, encoding="utf-16")
    assert counts(response)["created"] == 1
    assert response.json["delimiter"] == "tab"
    assert by_username(session, org, "bjorn").display_name == "Bjørn Ærlig"


def test_the_report_says_which_department_each_row_got(
    client, session, org, store, checkout, learner, as_admin
):
    text = (
        HEADER
        + "kari,Kari,kasse,learner\n"
        + "learner,Lars,,learner\n"
        + "nils,Nils,Ny avdeling,learner\n"
    )
    response = post_csv(client, as_admin, text, query="?create_departments=true")
    rows = response.json["rows"]
    assert rows[0] == {
        "row": 2,
        "username": "kari",
        "action": "created",
        "department": {
            "id": checkout.id,
            "name": "Kasse",
            "path": "Butikk Sentrum / Kasse",
            "created": False,
        },
    }
    assert rows[1] == {"row": 3, "username": "learner", "action": "updated", "department": None}
    assert rows[2]["department"]["name"] == "Ny avdeling" and rows[2]["department"]["created"]
    assert by_username(session, org, "nils").department_id == rows[2]["department"]["id"]


def test_a_name_shared_by_departments_under_different_parents_is_not_guessed(
    client, session, org, store, checkout, warehouse, as_admin
):
    other_kasse = factories.make_department(session, org, "Kasse", parent=warehouse)
    problems = refused(post_csv(client, as_admin, HEADER + "kari,Kari,Kasse,learner\n"))
    assert problems[0]["field"] == "department"
    assert "Butikk Sentrum / Kasse" in problems[0]["message"]
    assert "Lager Nord / Kasse" in problems[0]["message"]
    assert by_username(session, org, "kari") is None
    # The path, or the id, says which one.
    text = HEADER + "kari,Kari,lager nord/kasse,learner\nola,Ola," + checkout.id + ",learner\n"
    response = post_csv(client, as_admin, text)
    assert counts(response)["created"] == 2
    assert by_username(session, org, "kari").department_id == other_kasse.id
    assert by_username(session, org, "ola").department_id == checkout.id
    assert [r["department"]["path"] for r in response.json["rows"]] == [
        "Lager Nord / Kasse",
        "Butikk Sentrum / Kasse",
    ]


def test_create_departments_creates_under_a_named_parent(client, session, org, store, as_admin):
    text = (
        HEADER
        + "kari,Kari,Butikk Sentrum / Ferskvare,learner\n"
        + "ola,Ola,butikk sentrum/ferskvare,learner\n"
    )
    response = post_csv(client, as_admin, text, query="?create_departments=true")
    assert counts(response)["created"] == 2
    created = session.scalars(
        select(Department).where(Department.org_id == org.id, Department.name == "Ferskvare")
    ).all()
    assert len(created) == 1 and created[0].parent_id == store.id

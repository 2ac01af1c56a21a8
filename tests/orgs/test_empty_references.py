"""An id that names another row is never empty: `""` is a 422 keyed by its field, never a
foreign key to nothing (a 500 on PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.api.test_errors import assert_problem


@pytest.mark.parametrize(
    "method, path, body, field",
    [
        ("post", "/api/v1/admin/departments", {"name": "Ny", "parent_id": ""}, "parent_id"),
        (
            "post",
            "/api/v1/admin/departments",
            {"name": "Ny", "manager_ids": [""]},
            "manager_ids[0]",
        ),
        (
            "post",
            "/api/v1/admin/users",
            {
                "username": "nyansatt",
                "display_name": "Ny Ansatt",
                "password": "long-enough-password",
                "department_id": "",
                "roles": ["learner"],
            },
            "department_id",
        ),
        (
            "post",
            "/api/v1/admin/requirements",
            {"module_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ", "department_id": ""},
            "department_id",
        ),
        ("post", "/api/v1/nudges", {"department_id": "", "message": "Hei"}, "department_id"),
        ("post", "/api/v1/nudges", {"user_ids": [""], "message": "Hei"}, "user_ids[0]"),
    ],
)
def test_an_empty_reference_is_422_keyed_by_field(client, as_admin, method, path, body, field):
    response = client.open(path, method=method.upper(), json=body, headers=as_admin)
    problem = assert_problem(response, 422)
    assert field in problem["errors"]


def test_patching_a_department_with_an_empty_parent_is_422(client, as_admin, checkout):
    response = client.patch(
        f"/api/v1/admin/departments/{checkout.id}", json={"parent_id": ""}, headers=as_admin
    )
    assert "parent_id" in assert_problem(response, 422)["errors"]


def test_patching_a_user_with_an_empty_department_is_422(client, as_admin, learner):
    response = client.patch(
        f"/api/v1/admin/users/{learner.id}", json={"department_id": ""}, headers=as_admin
    )
    assert "department_id" in assert_problem(response, 422)["errors"]


def test_null_still_clears_a_parent(client, as_admin, checkout):
    response = client.patch(
        f"/api/v1/admin/departments/{checkout.id}", json={"parent_id": None}, headers=as_admin
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["parent_id"] is None


def test_an_integrity_error_that_escapes_every_check_is_a_409_problem(
    app, client, as_admin, monkeypatch
):
    """The last resort: two requests racing past a check meet the database's constraint."""
    from sqlalchemy.exc import IntegrityError

    from app.orgs import service

    def racing(*_args, **_kwargs):
        raise IntegrityError("INSERT ...", {}, Exception("violates foreign key constraint"))

    monkeypatch.setattr(service, "create_department", racing)
    response = client.post("/api/v1/admin/departments", json={"name": "Ny"}, headers=as_admin)
    body = assert_problem(response, 409)
    assert "violates" not in body["detail"]  # no SQL or constraint text to the client


def test_an_empty_default_department_for_sign_in_is_422(client, as_admin):
    body = {
        "issuer": "https://idp.example.com",
        "client_id": "nanolearn",
        "username_claim": "preferred_username",
        "default_department_id": "",
    }
    response = client.put("/api/v1/admin/integrations/oidc", json=body, headers=as_admin)
    assert "default_department_id" in assert_problem(response, 422)["errors"]

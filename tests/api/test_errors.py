"""Every error is RFC 9457 problem+json, with the status the contract names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.auth.tokens import AccessClaims, encode_access_token
from app.errors import PROBLEM_MIMETYPE
from tests.conftest import SECRET


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is problem+json with the four members and no stack trace."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MIMETYPE
    body = response.get_json(force=True)
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "<html" not in text.lower()
    return body


# --- 400 ---------------------------------------------------------------------------------


def test_malformed_json_is_400(client):
    response = client.post(
        "/api/v1/auth/login", data='{"organization": "acme",', content_type="application/json"
    )
    assert_problem(response, 400)


def test_malformed_json_on_a_protected_endpoint_is_400(client, as_admin):
    response = client.post(
        "/api/v1/admin/departments",
        data="{not json",
        content_type="application/json",
        headers=as_admin,
    )
    assert_problem(response, 400)


# --- 401 ---------------------------------------------------------------------------------


def test_missing_token_is_401(client):
    body = assert_problem(client.get("/api/v1/modules"), 401)
    assert "token" in body["detail"].lower()


def test_a_token_with_a_non_bearer_scheme_is_401(client):
    assert_problem(client.get("/api/v1/modules", headers={"Authorization": "Basic YTpi"}), 401)


def test_garbage_token_is_401(client):
    response = client.get("/api/v1/modules", headers={"Authorization": "Bearer not.a.jwt"})
    assert_problem(response, 401)
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_token_signed_with_another_key_is_401(client, session, learner):
    token = encode_access_token(
        AccessClaims(user_id=learner.id, org_id=learner.org_id, session_id="x"),
        secret="another-secret-key-that-is-long-enough-for-hs256",
        now=datetime.now(UTC),
        lifetime=timedelta(hours=1),
    )
    assert_problem(client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 401)


def test_expired_token_is_401(client, session, learner, as_learner):
    # A real login session, but a token whose lifetime ended an hour ago.
    valid = client.get("/api/v1/me", headers=as_learner)
    assert valid.status_code == 200
    from app.auth.tokens import decode_access_token

    claims = decode_access_token(as_learner["Authorization"].split()[1], secret=SECRET)
    assert claims is not None
    expired = encode_access_token(
        claims,
        secret=SECRET,
        now=datetime.now(UTC) - timedelta(hours=2),
        lifetime=timedelta(minutes=15),
    )
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"})
    assert_problem(response, 401)


def test_revoked_login_is_401(client, session, learner, as_learner):
    from app.auth.service import revoke_all_logins

    assert client.get("/api/v1/me", headers=as_learner).status_code == 200
    revoke_all_logins(session, user_id=learner.id, now=datetime.now(UTC), reason="test")
    session.flush()
    assert_problem(client.get("/api/v1/me", headers=as_learner), 401)


# --- 403, 404, 405 -----------------------------------------------------------------------


def test_wrong_role_is_403(client, as_learner):
    assert_problem(client.get("/api/v1/admin/departments", headers=as_learner), 403)


@pytest.mark.parametrize(
    "path", ["/api/v1/no-such-thing", "/no-such-page", "/api/v1/modules/x/y/z"]
)
def test_unknown_route_is_a_404_problem(client, path):
    assert_problem(client.get(path, headers={"Accept": "text/html"}), 404)


def test_unknown_module_is_404(client, as_learner):
    assert_problem(
        client.get("/api/v1/modules/01HZZZZZZZZZZZZZZZZZZZZZZZ", headers=as_learner), 404
    )


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/api/v1/auth/login")
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_wrong_method_on_a_protected_endpoint_is_405(client, as_admin):
    response = client.put("/api/v1/admin/departments", json={}, headers=as_admin)
    assert_problem(response, 405)


# --- 413, 415 ----------------------------------------------------------------------------


def test_body_over_the_limit_is_413(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    big = {"organization": "acme", "username": "x", "password": "p" * 2000}
    assert_problem(client.post("/api/v1/auth/login", json=big), 413)


def test_body_over_the_limit_is_413_on_a_protected_endpoint(app, client, as_admin, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = client.post("/api/v1/admin/departments", json={"name": "x" * 4000}, headers=as_admin)
    assert_problem(response, 413)


def test_roster_over_the_limit_is_413(app, client, as_admin, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    csv_text = "username,display_name,department,roles\n" + "a,b,,learner\n" * 200
    response = client.post(
        "/api/v1/admin/users/import",
        data=csv_text.encode(),
        content_type="text/csv",
        headers=as_admin,
    )
    assert_problem(response, 413)


def test_a_body_under_the_limit_still_works(app, client, monkeypatch, org, learner):
    from tests.factories import PASSWORD

    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = client.post(
        "/api/v1/auth/login",
        json={"organization": "acme", "username": "learner", "password": PASSWORD},
    )
    assert response.status_code == 200


def test_non_json_body_is_415(client):
    response = client.post(
        "/api/v1/auth/login", data="organization=acme&username=x", content_type="text/plain"
    )
    assert_problem(response, 415)


def test_form_body_to_a_json_endpoint_is_415(client, as_admin):
    response = client.post("/api/v1/admin/departments", data={"name": "Kasse"}, headers=as_admin)
    assert_problem(response, 415)


# --- 422 ---------------------------------------------------------------------------------


def test_invalid_fields_are_422_keyed_by_field(client, as_admin):
    response = client.post(
        "/api/v1/admin/users",
        json={"username": "bad name!", "display_name": "", "password": "short", "roles": []},
        headers=as_admin,
    )
    body = assert_problem(response, 422)
    errors = body["errors"]
    assert {"username", "display_name", "password", "roles", "department_id"} <= set(errors)
    assert all(isinstance(m, list) and all(isinstance(s, str) for s in m) for m in errors.values())


def test_missing_fields_are_422(client):
    body = assert_problem(client.post("/api/v1/auth/login", json={}), 422)
    assert {"organization", "username", "password"} <= set(body["errors"])


def test_a_json_array_instead_of_an_object_is_422(client):
    body = assert_problem(client.post("/api/v1/auth/login", json=[1, 2]), 422)
    assert body["errors"]


def test_unknown_fields_are_422(client, as_admin):
    response = client.post(
        "/api/v1/admin/departments", json={"name": "Kasse", "colour": "red"}, headers=as_admin
    )
    body = assert_problem(response, 422)
    assert "colour" in body["errors"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("cursor=%%%", "cursor"),
        ("cursor=bm90LWpzb24", "cursor"),
    ],
)
def test_invalid_query_parameters_are_422_keyed_by_parameter(client, as_admin, query, parameter):
    response = client.get(f"/api/v1/admin/departments?{query}", headers=as_admin)
    body = assert_problem(response, 422)
    assert parameter in body["errors"], body


def test_invalid_query_parameter_on_modules_is_422(client, as_learner):
    body = assert_problem(client.get("/api/v1/modules?limit=0", headers=as_learner), 422)
    assert "limit" in body["errors"]


# --- 500 ---------------------------------------------------------------------------------


def test_an_unexpected_exception_is_a_500_problem_without_a_stack_trace(
    client, as_admin, monkeypatch
):
    from app.orgs import service

    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail: password=hunter2")

    monkeypatch.setattr(service, "create_department", explode)
    response = client.post("/api/v1/admin/departments", json={"name": "Kasse"}, headers=as_admin)
    body = assert_problem(response, 500)
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "RuntimeError" not in text
    assert "errors" not in body


def test_an_unexpected_exception_in_login_is_a_500_problem(client, monkeypatch, org, learner):
    from app.auth import service

    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(service, "login", explode)
    response = client.post(
        "/api/v1/auth/login",
        json={"organization": "acme", "username": "learner", "password": "whatever"},
    )
    assert_problem(response, 500)


# --- NUL characters (PostgreSQL text cannot hold them: they must never reach a query) ----


def test_a_nul_character_in_a_json_field_is_422_keyed_by_field(client):
    response = client.post(
        "/api/v1/auth/login",
        json={"organization": "acme", "username": "a\x00b", "password": "x"},
    )
    body = assert_problem(response, 422)
    assert list(body["errors"]) == ["username"]


def test_a_nul_character_deep_in_a_body_is_keyed_by_its_path(client, as_learner):
    response = client.post(
        "/api/v1/sync", json={"events": [{"client_id": "x\x00"}]}, headers=as_learner
    )
    body = assert_problem(response, 422)
    assert list(body["errors"]) == ["events[0].client_id"]


def test_a_nul_character_in_a_query_parameter_is_422(client, as_learner):
    body = assert_problem(client.get("/api/v1/modules?topic=%00", headers=as_learner), 422)
    assert list(body["errors"]) == ["topic"]


def test_a_nul_character_in_an_id_is_404(client, as_admin):
    assert_problem(client.get("/api/v1/modules/ab%00cd", headers=as_admin), 404)
    response = client.patch("/api/v1/admin/users/%00", json={"active": False}, headers=as_admin)
    assert_problem(response, 404)


def test_a_status_has_one_problem_type_whoever_answers_it(client, as_admin, learner):
    """A 422 from schema validation and one from a service carry the same type and title."""
    from_schema = assert_problem(
        client.post("/api/v1/admin/departments", json={}, headers=as_admin), 422
    )
    from_service = assert_problem(
        client.patch(
            f"/api/v1/admin/users/{learner.id}",
            json={"roles": ["learner", "boss"]},
            headers=as_admin,
        ),
        422,
    )
    assert from_schema["type"] == from_service["type"]
    assert from_schema["title"] == from_service["title"]
    from_router = assert_problem(client.get("/api/v1/nothing"), 404)
    from_service = assert_problem(
        client.patch("/api/v1/admin/users/nobody", json={"active": False}, headers=as_admin), 404
    )
    assert from_router["type"] == from_service["type"]
    assert from_router["title"] == from_service["title"]

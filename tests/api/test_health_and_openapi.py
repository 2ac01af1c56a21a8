"""Health probes and the OpenAPI document."""

from __future__ import annotations

import socket

import pytest
import redis

from tests.api.test_errors import assert_problem

# Every path of the contract implemented so far, with the methods and the error codes each
# must document (beyond 422 for a body or query, 429 and the body errors, checked below).
CONTRACT: dict[tuple[str, str], set[int]] = {
    ("post", "/api/v1/auth/login"): {401, 429},
    ("post", "/api/v1/auth/refresh"): {401},
    ("post", "/api/v1/auth/logout"): set(),
    ("get", "/api/v1/me"): {401},
    ("patch", "/api/v1/me"): {401, 422},
    ("get", "/api/v1/me/points"): {401, 422},
    ("get", "/api/v1/modules"): {401, 422},
    ("get", "/api/v1/modules/{module_id}"): {401, 404},
    ("post", "/api/v1/modules/{module_id}/attempts"): {401, 404, 409},
    ("post", "/api/v1/attempts/{attempt_id}/answers"): {401, 404, 409, 422},
    ("post", "/api/v1/attempts/{attempt_id}/complete"): {401, 404},
    ("post", "/api/v1/sync"): {401, 422},
    ("get", "/api/v1/admin/departments"): {401, 403, 422},
    ("post", "/api/v1/admin/departments"): {401, 403, 404, 422},
    ("patch", "/api/v1/admin/departments/{department_id}"): {401, 403, 404, 422},
    ("post", "/api/v1/admin/users"): {401, 403, 404, 409, 422},
    ("patch", "/api/v1/admin/users/{user_id}"): {401, 403, 404, 409, 422},
    ("post", "/api/v1/admin/users/import"): {401, 403, 415, 422},
}
PUBLIC = {"/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout"}


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_when_database_and_redis_are_up(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "redis": "ok"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # released on exit: nothing listens there


def test_readyz_is_503_when_redis_is_unreachable(app, client, monkeypatch):
    dead = redis.Redis(host="127.0.0.1", port=_closed_port(), socket_connect_timeout=0.5)
    monkeypatch.setitem(app.extensions, "redis", dead)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "ok"
    assert response.json["checks"]["redis"].startswith("unavailable")
    assert "Traceback" not in response.get_data(as_text=True)


def test_readyz_recovers_when_redis_is_back(client):
    assert client.get("/readyz").status_code == 200


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


def test_openapi_is_3_1(spec):
    assert spec["openapi"].startswith("3.1.")
    assert spec["info"]["title"]


def test_openapi_lists_every_contract_path_with_its_errors(spec):
    for (method, path), codes in CONTRACT.items():
        assert path in spec["paths"], path
        operation = spec["paths"][path].get(method)
        assert operation is not None, (method, path)
        documented = {int(code) for code in operation["responses"] if code.isdigit()}
        assert codes <= documented, (method, path, codes - documented)
        assert 429 in documented, (method, path)  # every endpoint has a rate limit
        if "requestBody" in operation:
            assert {400, 413, 415, 422} <= documented, (method, path, documented)


def test_operations_taking_an_idempotency_key_document_422(spec):
    found = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":  # path-level parameters, not an operation
                continue
            names = {p.get("name") for p in operation.get("parameters", [])}
            if "Idempotency-Key" in names:
                found += 1
                assert "422" in operation["responses"], (method, path)
    assert found >= 4  # attempts, answers, complete, sync


def test_protected_operations_document_401_and_bearer_auth(spec):
    for (method, path), _codes in CONTRACT.items():
        operation = spec["paths"][path][method]
        if path in PUBLIC:
            continue
        assert "401" in operation["responses"], (method, path)
        assert operation.get("security") == [{"bearerAuth": []}], (method, path)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_admin_operations_document_403(spec):
    for (method, path), _codes in CONTRACT.items():
        if path.startswith("/api/v1/admin/"):
            assert "403" in spec["paths"][path][method]["responses"], (method, path)


def test_documented_errors_are_problem_json(spec):
    responses = spec["components"]["responses"]
    for name in ("UNAUTHORIZED", "NOT_FOUND", "UNPROCESSABLE_ENTITY", "TOO_MANY_REQUESTS"):
        content = responses[name]["content"]
        assert list(content) == ["application/problem+json"], name
    problem = spec["components"]["schemas"]["Problem"]["properties"]
    assert {"type", "title", "status", "detail", "errors"} <= set(problem)


def test_docs_are_html(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "swagger" in response.get_data(as_text=True).lower()


def test_unknown_docs_path_is_a_problem(client):
    assert_problem(client.get("/api/v1/docs/nothing-here"), 404)

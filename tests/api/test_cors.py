"""CORS for browsers (managers' screens, editors' tools); nothing for the phone app."""

from __future__ import annotations


def test_a_browser_request_gets_cors_headers(client, as_learner):
    response = client.get(
        "/api/v1/me", headers={**as_learner, "Origin": "https://admin.example.no"}
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://admin.example.no")


def test_a_preflight_is_answered(client):
    response = client.options(
        "/api/v1/auth/login",
        headers={
            "Origin": "https://admin.example.no",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type, Authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://admin.example.no")
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_a_request_without_origin_gets_no_cors_headers(client, as_learner):
    response = client.get("/api/v1/me", headers=as_learner)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


def test_an_error_to_a_browser_carries_cors_headers_so_it_can_read_the_problem(client):
    response = client.get("/api/v1/me", headers={"Origin": "https://admin.example.no"})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://admin.example.no")
    assert response.headers["Content-Type"] == "application/problem+json"

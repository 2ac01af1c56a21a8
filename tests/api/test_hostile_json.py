"""Every JSON body goes through one parser with the same limits (lone surrogates, nesting,
huge numbers): the answer is a 400 problem on every endpoint, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from app.json_provider import MAX_DEPTH, parse_json
from tests.api.test_errors import assert_problem

LONE_SURROGATE = '{"organization": "acme", "username": "\\ud800", "password": "x", '
LONE_SURROGATE += '"refresh_token": "\\ud800", "display_name": "\\ud800"}'
DEEP = "[" * 100_000 + "]" * 100_000
JUST_TOO_DEEP = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)  # within orjson's own bound
HUGE_INTEGER = '{"events": [{"module_version": %s}], "display_name": %s}' % (("9" * 5000,) * 2)

# (method, path, who): login, refresh, logout, PATCH /me, answers, sync and others.
ENDPOINTS = [
    ("post", "/api/v1/auth/login", None),
    ("post", "/api/v1/auth/refresh", None),
    ("post", "/api/v1/auth/logout", None),
    ("patch", "/api/v1/me", "as_learner"),
    ("post", "/api/v1/attempts/01HZZZZZZZZZZZZZZZZZZZZZZZ/answers", "as_learner"),
    ("post", "/api/v1/sync", "as_learner"),
    ("post", "/api/v1/admin/departments", "as_admin"),
    ("post", "/api/v1/competitions", "as_admin"),
    ("post", "/api/v1/editor/modules", "as_editor"),
]


@pytest.mark.parametrize("method, path, who", ENDPOINTS)
@pytest.mark.parametrize(
    "body", [LONE_SURROGATE, DEEP, JUST_TOO_DEEP, HUGE_INTEGER, "NaN", b'"\xff"']
)
def test_hostile_json_is_a_400_problem_everywhere(request, client, method, path, who, body):
    headers = request.getfixturevalue(who) if who else {}
    response = client.open(
        path, method=method.upper(), data=body, content_type="application/json", headers=headers
    )
    problem = assert_problem(response, 400)
    assert problem["detail"].startswith("The request body is not valid JSON")


def test_a_body_as_deep_as_the_limit_is_read(client):
    deep_but_allowed = {"organization": "acme", "username": "nobody", "password": "x"}
    nested: object = "x"
    for _ in range(MAX_DEPTH - 1):
        nested = [nested]
    deep_but_allowed["extra"] = nested  # type: ignore[assignment]
    # Read, then refused for what it says (an unknown field), not for how it is written.
    assert_problem(client.post("/api/v1/auth/login", json=deep_but_allowed), 422)


def test_the_parser_counts_depth_without_recursion():
    with pytest.raises(ValueError):
        parse_json(DEEP)
    with pytest.raises(ValueError):
        parse_json(JUST_TOO_DEEP)
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert parse_json('{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}


def test_an_idempotent_retry_of_a_deep_body_is_a_400_not_a_500(client, as_learner):
    headers = {**as_learner, "Idempotency-Key": "k1"}
    response = client.post(
        "/api/v1/sync", data=DEEP, content_type="application/json", headers=headers
    )
    assert_problem(response, 400)


PAGED = [
    ("/api/v1/me/points", "as_learner"),
    ("/api/v1/modules", "as_learner"),
    ("/api/v1/competitions", "as_learner"),
    ("/api/v1/me/notifications", "as_learner"),
    ("/api/v1/me/reviews", "as_learner"),
    ("/api/v1/editor/paths", "as_editor"),
    ("/api/v1/admin/departments", "as_admin"),
    ("/api/v1/admin/requirements", "as_admin"),
    ("/api/v1/editor/modules", "as_editor"),
    ("/api/v1/editor/media", "as_editor"),
]


@pytest.mark.parametrize("path, who", PAGED)
@pytest.mark.parametrize("after", ["\x00", "a\x00b", "\ud800", "", 7, None])
def test_a_forged_cursor_is_422_on_every_paged_list(request, client, path, who, after):
    payload = json.dumps({"after": after}).encode()  # \ud800 escaped as the JSON spells it
    cursor = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    response = client.get(
        path, query_string={"cursor": cursor}, headers=request.getfixturevalue(who)
    )
    body = assert_problem(response, 422)
    assert list(body["errors"]) == ["cursor"]


@pytest.mark.parametrize("key", ["a\x00b", "tab\there", "\x7f"])
def test_an_idempotency_key_with_control_characters_is_422(client, as_learner, key):
    headers = {**as_learner, "Idempotency-Key": key}
    response = client.post("/api/v1/sync", json={"events": []}, headers=headers)
    assert list(assert_problem(response, 422)["errors"]) == ["Idempotency-Key"]

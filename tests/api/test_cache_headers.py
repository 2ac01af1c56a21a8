"""Every response to a request with credentials is private to its caller and varies by
what it may depend on (the caller, their language, the encoding): a shared cache must never
serve one user's page to another."""

from __future__ import annotations

import re
from typing import Any

from tests import factories
from tests.conftest import auth_headers
from tests.paths.conftest import schedule

NO_SUCH_ID = "01NOSUCHTHING0000000000000"
# Routes under /api/v1 that nobody needs a token for (they still must not break with one).
PUBLIC = re.compile(r"^/api/v1/(openapi\.json|docs)")


def _vary(response: Any) -> set[str]:
    return {token.strip().lower() for token in response.headers.get("Vary", "").split(",")}


def _is_private(response: Any) -> bool:
    directives = response.headers.get("Cache-Control", "")
    return "private" in directives or "no-store" in directives


def test_every_authenticated_get_route_is_private_and_varies_by_caller_language_encoding(
    app, client, session, org, checkout, frozen_clock
):
    everyone = factories.make_user(
        session, org, "alle", department=checkout, roles=["learner", "manager", "editor", "admin"]
    )
    headers = auth_headers(session, everyone)
    routes = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and rule.rule.startswith("/api/v1/")
    )
    assert len(routes) >= 25
    answered: dict[int, int] = {}
    for route in routes:
        if PUBLIC.match(route):
            continue
        url = re.sub(r"<(?:[^:>]+:)?[^>]+>", NO_SUCH_ID, route)
        for extra in ({}, {"Accept-Encoding": "gzip", "Accept-Language": "en"}):
            response = client.get(url, headers={**headers, **extra})
            answered[response.status_code] = answered.get(response.status_code, 0) + 1
            assert response.status_code < 500, (url, response.status_code)
            assert _is_private(response), (url, response.status_code, response.headers)
            assert {"authorization", "accept-language", "accept-encoding"} <= _vary(response), (
                url,
                response.headers.get("Vary"),
            )
    assert answered.get(200, 0) > 20  # most of them answered with a body, not an error

    # The three the walk-through found (they vary by user and language), and a bad token.
    module = factories.publish_module(session, org, factories.module_document())
    schedule(client, auth_headers(session, everyone), [module])
    for url in ("/api/v1/paths/current", "/api/v1/modules", "/api/v1/me/badges"):
        for extra in ({}, {"Accept-Encoding": "gzip"}):
            response = client.get(url, headers={**headers, **extra})
            assert response.status_code == 200
            assert response.headers["Cache-Control"] == "private, no-cache"
            assert {"authorization", "accept-language", "accept-encoding"} <= _vary(response)
    refused = client.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"})
    assert refused.status_code == 401 and _is_private(refused)
    # Without credentials nothing is added: a public answer stays cacheable.
    assert "private" not in client.get("/api/v1/openapi.json").headers.get("Cache-Control", "")
